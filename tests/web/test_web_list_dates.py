"""The package list's moments, formatted once per moment, time zone and language, write
what the template's ``date`` filter writes in the zone and language of each request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation

from coursepack.web.templatetags.list_rows import _date

MOMENTS = [
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # the night Europe/London moves to summer time
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("language", ["en-us", "de"])
@pytest.mark.parametrize("fmt", ["j M Y", "j M Y, H:i T"])
def test_a_moment_reads_as_the_date_filter_writes_it(zone: str, language: str, fmt: str) -> None:
    # Each moment is formatted first in UTC, so a kept text would show if zones were mixed.
    for moment in MOMENTS:
        _date(moment, fmt)
    with timezone.override(zone), translation.override(language):
        for moment in MOMENTS:
            assert _date(moment, fmt) == date_filter(timezone.localtime(moment), fmt)


def test_no_moment_reads_as_the_filter_writes_none() -> None:
    assert _date(None, "j M Y") == date_filter(None, "j M Y")
