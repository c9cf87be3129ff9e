"""Browser-test fixtures: Playwright drives Debian's Chromium against live_server.

Write a page test as::

    def test_something(live_server, page, screenshot):
        page.goto(f"{live_server.url}/some/page/")
        ...
        screenshot(page, "some-page")

``live_server`` makes the test transactional (data committed in the test is
visible to the server thread, on SQLite and PostgreSQL alike) and is flushed after.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("COURSEPACK_CHROMIUM", "/usr/bin/chromium")

# Flags that keep Chromium quiet on a closed network and workable as root in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's chromium (Playwright cannot download its own browser here)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: run `make test-deps` (apt-get install chromium) "
            "or point COURSEPACK_CHROMIUM at a Chromium binary"
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


ScreenshotFn = Callable[[Page, str], Path]


@pytest.fixture
def screenshot(db_engine: str) -> ScreenshotFn:
    """Return ``screenshot(page, name)``: save a full-page PNG and return its path.

    Files go to test-artifacts/screenshots/<engine>/<name>.png, engine being
    "sqlite" or "postgresql", so the two runs of ``make test`` do not overwrite
    each other.
    """

    def take(page: Page, name: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"screenshot name {name!r}: use letters, digits, '.', '_' or '-'")
        path = ARTIFACTS_DIR / "screenshots" / db_engine / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# Where `make screenshots` wants the pages kept for the README and docs: when
# COURSEPACK_SCREENSHOTS_DIR is set, ``screenshot(page, name, docs=True)`` also
# writes <dir>/<name>.png (one copy, from whichever engine ran).
DOCS_SCREENSHOTS = os.environ.get("COURSEPACK_SCREENSHOTS_DIR")

# Phone and laptop viewports every page is judged at.
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


class DocsScreenshotFn:
    """``shoot(page, name, docs=False)``: the screenshot fixture, optionally kept for docs."""

    def __init__(self, take: ScreenshotFn) -> None:
        self._take = take

    def __call__(self, page: Page, name: str, *, docs: bool = False) -> Path:
        path = self._take(page, name)
        if docs and DOCS_SCREENSHOTS:
            target = Path(DOCS_SCREENSHOTS) / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        return path


@pytest.fixture
def shoot(screenshot: ScreenshotFn) -> DocsScreenshotFn:
    """Return ``shoot(page, name, docs=False)``: ``screenshot``, plus a docs copy on request."""
    return DocsScreenshotFn(screenshot)
