"""Printed results and records: the vote's poster (公示, PDF) and its .xlsx record (留档备查),
and the plain tables the other capabilities export as .xlsx.

The renderers are pure: a frozen record in, bytes out. Whoever owns the data (the vote
service, the tickets, the volunteers) fills the record from the database.
"""

from __future__ import annotations

from handlers.capability import Capability


def capability() -> Capability:
    """No door of its own: the proposals, tickets and volunteers serve what it renders."""
    return Capability(name="records")
