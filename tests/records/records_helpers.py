"""Helpers of the transcript and records tests (beside tests/factories.py).

Named ``records_helpers`` because test helper basenames must be unique across
tests/ (pytest's prepend import mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.test import Client
from django.utils import timezone


def signed_in(user: Any) -> Client:
    """Return a test client with ``user`` signed in (a browser session)."""
    client = Client()
    client.force_login(user)
    return client


class Clock:
    """A wall clock the test moves forward by hand.

    The services stamp enrolments, moves, voids and withdrawals with
    ``timezone.now()``; histories spread over weeks need that clock to move.
    """

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``; return the new time."""
        self.current += delta
        return self.current


@contextmanager
def frozen_clock(start: datetime | None = None) -> Iterator[Clock]:
    """Make ``django.utils.timezone.now`` read a hand-moved clock inside the block.

    Starts 200 days ago (to the second) unless ``start`` is given; only Django's
    clock is replaced, every Coursepack service runs for real.
    """
    clock = Clock(start or (timezone.now() - timedelta(days=200)).replace(microsecond=0))
    with mock.patch.object(timezone, "now", clock.now):
        yield clock
