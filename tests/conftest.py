"""Suite-wide test configuration: environment, hypothesis profiles, engine reporting.

The suite runs twice in ``make test``: on SQLite, then on PostgreSQL (``DATABASE_URL``
set by scripts/with-postgres.sh). ``db_engine`` tells a test which one it is on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Playwright's sync API runs an event loop in the test thread; without this, Django
# refuses ORM calls made from that thread (SynchronousOnlyOperation).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Serve live_server on IPv4 loopback: "localhost" may resolve to ::1 first.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

# deadline=None: database-backed examples vary in speed, which is not a bug.
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# CI: the same examples every run (a red build is reproducible), and no
# .hypothesis/ example database left behind.
settings.register_profile(
    "ci",
    parent=settings.get_profile("dev"),
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def current_db_engine() -> str:
    """Return "sqlite" or "postgresql": the engine this test run is on."""
    from django.conf import settings as django_settings

    engine: str = django_settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return "postgresql"
    if "sqlite" in engine:
        return "sqlite"
    return engine.rsplit(".", 1)[-1]


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright wipes its --output dir at session start: give each engine
    # its own, so the PostgreSQL run does not delete the SQLite run's artifacts.
    if getattr(config.option, "output", None) == "test-results":
        config.option.output = str(ARTIFACTS_DIR / "playwright" / current_db_engine())


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings as django_settings

    db = django_settings.DATABASES["default"]
    where = db.get("HOST") or "embedded"
    if db.get("PORT"):
        where += f":{db['PORT']}"
    return f"database engine: {current_db_engine()} ({where}); hypothesis profile: {settings.get_current_profile_name()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Any test driving a browser page is a browser test: `-m "not browser"` skips them all.
    for item in items:
        if {"page", "browser"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def db_engine() -> str:
    """The database engine of this run: "sqlite" or "postgresql"."""
    return current_db_engine()


@pytest.fixture(autouse=True, scope="session")
def _flush_past_history_guards() -> None:
    """Let transactional tests' teardown empty the tables that the triggers guard.

    Django's ``flush`` (after ``transaction=True`` and ``live_server`` tests) deletes
    every row; on SQLite that fires the DELETE guards of coursepack.db_guards, which
    allow it only inside ``bypass_for_flush()``. Nothing else runs inside it, so
    every test still meets the guards at full strength.
    """
    from django.test import testcases

    from coursepack import db_guards

    original = testcases.TransactionTestCase._fixture_teardown
    if getattr(original, "_coursepack_wrapped", False):
        return

    def teardown(self: testcases.TransactionTestCase) -> None:
        with db_guards.bypass_for_flush():
            original(self)

    teardown._coursepack_wrapped = True  # type: ignore[attr-defined]
    testcases.TransactionTestCase._fixture_teardown = teardown  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fresh_tree_caches() -> None:
    """Start every test with empty requirement-tree and status-rule caches.

    They are keyed by version id, and SQLite hands out the ids of rolled-back rows
    again: without this, a test could see the trees of an earlier (committed) test.
    """
    from coursepack.packaging import selectors

    selectors.clear_caches()


@pytest.fixture
def postgresql_only(db_engine: str) -> None:
    """Skip on SQLite: see tests/concurrency.py for why the races cannot occur there."""
    from tests.concurrency import SQLITE_SERIALISES_WRITES

    if db_engine != "postgresql":
        pytest.skip(SQLITE_SERIALISES_WRITES)
