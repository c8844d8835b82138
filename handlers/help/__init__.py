"""The numbered menu, help, cancel, and what to say when nothing else understood."""

from __future__ import annotations

from handlers.capability import Capability


def capability() -> Capability:
    from handlers.help import chat

    return Capability(name="help", chat=chat.router)
