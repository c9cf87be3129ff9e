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
