"""Fixtures of the legacy migration and package file tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import make_admin


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin()


def _postgres_legacy_url() -> Iterator[str]:
    """Create a second database in the test run's PostgreSQL cluster for a legacy DB."""
    import psycopg

    base = os.environ["DATABASE_URL"]
    name = f"legacy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where to build a legacy database: a SQLite file, or a PostgreSQL database in the
    cluster of the PostgreSQL run (scripts/with-postgres.sh sets DATABASE_URL)."""
    if request.param == "sqlite":
        yield str(tmp_path / "legacy.sqlite3")
        return
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        pytest.skip(
            "a PostgreSQL legacy database needs the PostgreSQL run's cluster "
            "(scripts/with-postgres.sh; the PostgreSQL stage of make test)"
        )
    yield from _postgres_legacy_url()
