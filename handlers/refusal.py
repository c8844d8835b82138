"""The one refusal every service raises; the API and the chat translate it once each.

A service says *what* was refused (a catalogue message id and its parameters) and
how grave it is for an HTTP caller (``status``); it never builds an HTTP response or a
chat reply itself. ``handlers.api.api_errors`` answers it in the one error shape and
``bot.dispatcher`` answers it in the resident's language.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A refusal the caller is told about: ``code`` is a message id in ``locale/``.

    ``status`` is what the API answers (400 bad input, 403 role, 404 not found or not
    visible, 409 state, 422 domain rule, 429/503 with ``retry_after`` seconds).
    """

    def __init__(
        self, code: str, status: int = 400, *, retry_after: int | None = None, **params: Any
    ) -> None:
        super().__init__(code)
        self.code, self.status, self.params = code, status, params
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"Refused({self.code!r}, {self.status})"
