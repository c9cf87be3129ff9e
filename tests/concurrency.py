"""Running writers at the same moment, for the race tests (PostgreSQL only).

SQLite takes one write lock per database (``BEGIN IMMEDIATE``), so two writers
never overlap there and the races these tests provoke cannot occur; the tests
using ``postgresql_only`` (tests/conftest.py) run in the PostgreSQL stage of
``make test``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

SQLITE_SERIALISES_WRITES = (
    "races need concurrent writers: SQLite takes one write lock per database "
    "(BEGIN IMMEDIATE), so this runs on PostgreSQL only (the PostgreSQL stage of make test)"
)


def at_once(calls: Sequence[Callable[[], Any]], *, timeout: float = 120) -> list[Any]:
    """Run every call in its own thread, released together; return each result or exception.

    Fails if a thread is still running after ``timeout`` seconds (a writer is stuck).
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    return results
