"""A real Chromium (Debian's, never a downloaded one) driving the console over the test app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); console browser tests skipped")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app of the console tests: no background round, so a due vote waits for the click."""
    return settings.model_copy(update={"jobs_interval_seconds": 3600.0})


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def shots(backend: str, request: pytest.FixtureRequest) -> Any:
    """``await shot(page, "name")`` saves tests/artifacts/console/<test>-<name>-<backend>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = request.node.originalname.removeprefix("test_")

    async def shot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{name}-{backend}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return shot


@pytest.fixture(params=["desktop", "phone"])
def screen_name(request: pytest.FixtureRequest) -> str:
    """Each page's test runs twice: on a desktop and on a phone-sized touch screen."""
    return str(request.param)


@pytest.fixture
async def screen(client: Any, browser: Any, screen_name: str) -> AsyncIterator[Any]:
    """A ``Console`` on the screen of ``screen_name``, in a Chinese browser."""
    from tests.console.driver import SCREENS, Console

    context = await browser.new_context(
        **SCREENS[screen_name], locale="zh-CN", accept_downloads=True
    )
    made = Console(await context.new_page(), str(client.make_url("/console/")))
    made.screen = screen_name
    yield made
    await context.close()


@pytest.fixture
def screen_shot(shots: Any, screen_name: str) -> Any:
    """``await screen_shot(page, "name")``: the shot's name carries the screen too."""

    async def shot(page: Any, name: str) -> Path:
        return await shots(page, f"{name}-{screen_name}")

    return shot
