"""Telling a busy database from a broken one, and writing without waiting.

A write that waits too long for a lock is not a server error: the client may
retry. :func:`is_busy` recognises those errors on SQLite ("database is locked")
and PostgreSQL (lock timeout, deadlock, serialization failure), so the HTTP
layer can answer 503 with ``Retry-After`` instead of 500.

:func:`without_waiting` runs a best-effort write (a token's last-used stamp)
that gives up at once if another transaction holds the lock: a read must never
wait behind a write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, OperationalError, connection, transaction

# PostgreSQL SQLSTATEs that mean "try again": lock_not_available, deadlock_detected,
# serialization_failure, query_canceled (statement_timeout).
_RETRYABLE_SQLSTATES = {"55P03", "40P01", "40001", "57014"}


def is_busy(exc: BaseException | None) -> bool:
    """Return whether ``exc`` means the database was busy, not broken."""
    while exc is not None:
        if isinstance(exc, DatabaseError | OperationalError):
            text = str(exc).lower()
            if "database is locked" in text or "database table is locked" in text:
                return True
        sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if sqlstate in _RETRYABLE_SQLSTATES:
            return True
        if "database is locked" in str(exc).lower():
            return True
        exc = exc.__cause__
    return False


class WouldWait(Exception):
    """The best-effort write was skipped: the database was busy."""


@contextmanager
def without_waiting() -> Iterator[None]:
    """Run the block's writes only if no lock has to be waited for; else raise WouldWait.

    On SQLite the connection's busy timeout is set to zero for the block (and
    restored); on PostgreSQL the block runs in a savepoint with a tiny
    ``lock_timeout``. Either way nothing the block wrote survives a WouldWait.
    """
    if connection.vendor == "sqlite":
        if connection.in_atomic_block:
            # The write lock is already ours (BEGIN IMMEDIATE): nothing to wait for.
            yield
            return
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            yield
        except OperationalError as exc:
            if is_busy(exc):
                raise WouldWait(str(exc)) from exc
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(previous)}")
        return
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '50ms'")
            yield
    except DatabaseError as exc:
        if is_busy(exc):
            raise WouldWait(str(exc)) from exc
        raise
