"""Console message ids of one area; ``messages.MESSAGE_IDS`` joins them."""

from __future__ import annotations

MESSAGE_IDS: tuple[str, ...] = ()
