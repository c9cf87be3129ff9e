"""SQLite's writers queue first come, first served (coursepack/sqlite_backend)."""

from __future__ import annotations

import threading
import time

from coursepack.sqlite_backend.base import _FairLock


def test_waiting_writers_get_the_lock_in_the_order_they_asked() -> None:
    lock = _FairLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []

    def writer(n: int) -> None:
        assert lock.acquire(timeout=10)
        order.append(n)
        lock.release()

    threads = []
    for n in range(8):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # each asks after the one before
    lock.release()
    for thread in threads:
        thread.join(10)

    assert order == list(range(8))


def test_a_writer_that_waits_past_its_timeout_gives_up_and_leaves_the_queue() -> None:
    lock = _FairLock()
    assert lock.acquire(timeout=1)

    assert lock.acquire(timeout=0.05) is False

    lock.release()
    assert lock.acquire(timeout=0.05)
