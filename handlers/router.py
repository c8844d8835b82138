"""Declarative routing of events to handlers (after aiogram's Router).

Filters live on the decorator, not in ``if`` chains inside handlers. The type is
here, beside the handlers that register on it, so imports point one way
(``bot`` → ``handlers``); ``bot.dispatcher`` does the running.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from handlers.types import Context, Event, Reply

Handler = Callable[[Event, Context], Awaitable[Reply]]

_TRAILING = "。.!！?？~～,，、 \t\r\n"
TEXT_KINDS = frozenset({"text", "voice"})


def normalize(text: str) -> str:
    """Full-width to half-width, case-folded, voice recognition's final 。 removed."""
    return unicodedata.normalize("NFKC", text).strip().strip(_TRAILING).casefold()


def split_command(text: str) -> tuple[str, str]:
    """The first word and the rest: "绑定 ABC123" → ("绑定", "ABC123")."""
    head, _, rest = normalize(text).partition(" ")
    return head, rest.strip()


@dataclass(frozen=True)
class Route:
    handler: Handler
    kinds: frozenset[str] = frozenset()
    keywords: frozenset[str] = frozenset()
    menu_key: str = ""
    scene_prefix: str = ""
    events: frozenset[str] = frozenset()
    state: str = ""
    any_state: bool = False
    bare: bool = False
    fallback: bool = False
    pattern: re.Pattern[str] | None = None

    @property
    def priority(self) -> int:
        """Commands valid in any state, then state flows, then the rest, then fallbacks."""
        if self.fallback:
            return 3
        if self.state:
            return 1
        return 0 if self.any_state else 2

    def matches(self, event: Event, ctx: Context, menu_key: str) -> str | None:
        """The argument text when this route takes the event, else None.

        Inside a flow, typed text is the flow's answer, so keyword and fallback
        routes step aside unless ``any_state``; clicks, scans and events are
        deliberate acts and are always taken.
        """
        in_flow = ctx.state is not None and not self.any_state
        if self.state:
            in_this = ctx.state is not None and ctx.state.name == self.state
            return event.text if in_this and event.kind in self.kinds else None
        if self.keywords:
            args = None if in_flow else self._keyword_args(event)
            if args is not None and self.pattern is not None and not self.pattern.match(args):
                return None  # another router's command with the same word
            return args
        if self.menu_key:
            return "" if menu_key == self.menu_key else None
        if self.scene_prefix:
            scanned = event.event in {"subscribe", "scan"} and event.key.startswith(
                self.scene_prefix
            )
            return event.key[len(self.scene_prefix) :] if scanned else None
        if self.events:
            return "" if event.kind == "event" and event.event in self.events else None
        if self.kinds and not in_flow:
            return "" if event.kind in self.kinds else None
        return None

    def _keyword_args(self, event: Event) -> str | None:
        if event.kind not in TEXT_KINDS or not event.text:
            return None
        whole = normalize(event.text)
        if whole in self.keywords:
            return ""
        if self.bare:
            return None
        head, rest = split_command(event.text)
        if head in self.keywords:
            return rest
        for keyword in self.keywords:
            if len(keyword) > 1 and whole.startswith(keyword):
                return whole[len(keyword) :].strip()
        return None


class Skip(Exception):
    """Raised by a handler that, having looked closer, does not take the event: the
    dispatcher runs the next route that matches (a fallback passes the event on)."""


@dataclass
class Router:
    name: str
    routes: list[Route] = field(default_factory=list)

    def _add(self, **filters: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler=handler, **filters))
            return handler

        return register

    def text(
        self, *keywords: str, any_state: bool = False, bare: bool = False, pattern: str = ""
    ) -> Callable[[Handler], Handler]:
        """Text (or recognised voice) whose first word is one of ``keywords``.

        ``bare`` takes the keyword only when it stands alone, so the same word with
        arguments ("取消 3") can mean something else to another router. ``pattern`` (a
        regular expression matched at the start of the normalised arguments) lets two
        routers share a word: ``评价 T3K9QX`` is a ticket's, ``评价 12`` a proposal's.
        """
        return self._add(
            keywords=frozenset(normalize(k) for k in keywords),
            any_state=any_state,
            bare=bare,
            pattern=re.compile(pattern) if pattern else None,
        )

    def menu(self, key: str) -> Callable[[Handler], Handler]:
        """A custom-menu CLICK with this key, or the digit the numbered menu gives it."""
        return self._add(menu_key=key)

    def scene(self, prefix: str) -> Callable[[Handler], Handler]:
        """A parametric QR code scan (subscribe or SCAN) whose scene key has ``prefix``."""
        return self._add(scene_prefix=prefix)

    def event(self, *names: str) -> Callable[[Handler], Handler]:
        return self._add(events=frozenset(names))

    def message(self, *kinds: str) -> Callable[[Handler], Handler]:
        return self._add(kinds=frozenset(kinds))

    def state(
        self, name: str, kinds: tuple[str, ...] = ("text", "voice")
    ) -> Callable[[Handler], Handler]:
        """Messages of ``kinds`` while the resident's conversation is in state ``name``."""
        return self._add(state=name, any_state=True, kinds=frozenset(kinds))

    def fallback(self, *kinds: str) -> Callable[[Handler], Handler]:
        """Messages of ``kinds`` that nothing else took, outside any flow."""
        return self._add(kinds=frozenset(kinds), fallback=True)

    def include(self, *routers: Router) -> None:
        for router in routers:
            self.routes.extend(router.routes)

    def matching(
        self, event: Event, ctx: Context, menu_key: str = ""
    ) -> Iterator[tuple[Route, str]]:
        """Every route that takes the event, best first: the commands that work in any
        state, then the state, then the rest. The dispatcher runs the first that does not
        raise ``Skip``."""
        for route in sorted(self.routes, key=lambda r: r.priority):
            args = route.matches(event, ctx, menu_key)
            if args is not None:
                yield route, args

    def resolve(self, event: Event, ctx: Context, menu_key: str = "") -> tuple[Route, str] | None:
        return next(self.matching(event, ctx, menu_key), None)
