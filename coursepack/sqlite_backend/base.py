"""Django's SQLite backend, with a fair queue for writers.

SQLite lets one transaction write at a time. Django's ``BEGIN IMMEDIATE``
(``transaction_mode``) makes writers wait at the start of a transaction, but
they wait in SQLite's busy handler, which sleeps with a back-off growing to
100 ms per try: under load a writer sleeps long after the lock is free, and
late arrivals overtake early ones (the benchmark's 8-connection POST p99 was
1.3 s).

Here a transaction first takes a first-come-first-served lock of this process
(threads queue in order, and the releasing thread wakes the next at once), then
an advisory file lock beside the database shared by every process (gunicorn's
workers, the job worker, management commands), polled every millisecond. Only
then does it ``BEGIN IMMEDIATE``, which now almost never waits. A writer that
cannot get both within the configured timeout gets SQLite's own
"database is locked" error, which the HTTP layer answers with 503.

In-memory databases (the test suite's) have no file to lock beside and one
connection per process: they keep Django's behaviour.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import deque
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_POLL_SECONDS = 0.001


class _FairLock:
    """A lock that threads acquire in the order they asked (FIFO), with a timeout."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        ticket = object()
        deadline = time.monotonic() + timeout
        with self._condition:
            self._queue.append(ticket)
            while self._held or self._queue[0] is not ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._queue.remove(ticket)
                    self._condition.notify_all()
                    return False
                self._condition.wait(remaining)
            self._queue.popleft()
            self._held = True
            return True

    def release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()


# One queue per database file in this process.
_locks: dict[str, _FairLock] = {}
_files: dict[str, int] = {}
_registry = threading.Lock()


def _lock_for(path: str) -> tuple[_FairLock, int]:
    with _registry:
        if path not in _locks:
            _locks[path] = _FairLock()
            _files[path] = os.open(path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
        return _locks[path], _files[path]


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite whose transactions queue fairly for the write lock."""

    _holding: tuple[_FairLock, int] | None = None

    def _queue_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        return os.path.abspath(name)

    def _start_transaction_under_autocommit(self) -> None:
        path = self._queue_path()
        if path is None:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        deadline = time.monotonic() + timeout
        queue, fd = _lock_for(path)
        if not queue.acquire(timeout):
            raise OperationalError("database is locked (waited for the writer queue)")
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise OperationalError(
                            "database is locked (another process holds the writer queue)"
                        ) from None
                    time.sleep(_POLL_SECONDS)
            self._holding = (queue, fd)
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_queue()
            raise

    def _release_queue(self) -> None:
        holding, self._holding = self._holding, None
        if holding is not None:
            queue, fd = holding
            fcntl.flock(fd, fcntl.LOCK_UN)
            queue.release()

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_queue()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_queue()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release_queue()
