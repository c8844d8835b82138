"""The console page wrapper every browser test uses, and the two screens it runs on."""

from __future__ import annotations

from typing import Any

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 667}
SCREENS = {
    "desktop": {"viewport": DESKTOP},
    "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
}

LOGIN, PASSWORD = "wang.li", "correct-horse-9"
TIMEOUT = 15_000


class Console:
    """One browser page on the console, failing the test on any script or CSP error."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.screen = "desktop"
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.set_default_timeout(TIMEOUT)

    async def open(self, route: str = "") -> None:
        await self.page.goto(self.base + route)

    async def ready(self, name: str) -> None:
        try:
            await self.page.wait_for_selector(f'body[data-ready="{name}"]')
        except Exception as exc:  # say what the page said, not only that it timed out
            message = await self.page.locator("#message").all_text_contents()
            raise AssertionError(f"{name} never ready: {self.errors} {message}") from exc

    async def go(self, route: str, name: str) -> None:
        await self.page.evaluate("delete document.body.dataset.ready")
        await self.page.evaluate(f"location.hash = {route!r}")
        await self.ready(name)

    async def sign_in(self, login: str = LOGIN, password: str = PASSWORD) -> None:
        await self.open()
        await self.page.wait_for_selector("#login-form")
        await self.page.fill("#login-name", login)
        await self.page.fill("#login-password", password)
        await self.page.click("#login-submit")

    async def message(self) -> str:
        box = self.page.locator("#message")
        await box.wait_for(state="visible")
        return (await box.text_content() or "").strip()

    def assert_clean(self, *expected: int) -> None:
        """No script error, no CSP violation, no failed request but the ``expected`` ones.

        Chromium also logs each refused request as "Failed to load resource".
        """
        allowed = tuple(f"{status} " for status in expected)
        real = [
            e
            for e in self.errors
            if not e.startswith(allowed)
            and not any(f"status of {status}" in e for status in expected)
        ]
        assert real == []


async def no_sideways_scroll(console: Console) -> None:
    """The page fits the screen's width: nothing to scroll sideways (a phone's test)."""
    width = await console.page.evaluate("document.documentElement.scrollWidth")
    viewport = console.page.viewport_size or DESKTOP
    assert width <= viewport["width"], width
