"""Over a time range the reports page shows its learners at once and their count after:
counting the learners of a range reads every enrollment begun in it (a third of the
year's page at the benchmark's full scale), so the page asks for it once shown (htmx),
and a next page is known from one row more (ADR 0036, amended)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from reports_dataset import Dataset

from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.web.reports import LEARNERS_PER_PAGE
from tests.factories import make_learner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(dataset: Dataset, admin: Any) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def _range() -> tuple[str, Any, Any]:
    today = timezone.localdate()
    first, stop = today - timedelta(days=1), today + timedelta(days=1)
    return f"from={first:%Y-%m-%d}&to={stop:%Y-%m-%d}", first, stop


def test_a_ranges_learners_are_shown_at_once_and_counted_after(
    staff: Client, dataset: Dataset, admin: Any
) -> None:
    # Given more learners enrolled today than a page holds
    extra = [make_learner(username=f"zz{i:03d}") for i in range(LEARNERS_PER_PAGE + 9)]
    learning.bulk_enroll(
        actor=admin, package_id=dataset.privacy_id, learner_ids=[u.pk for u in extra]
    )
    query, first, stop = _range()
    begun = Enrollment.objects.filter(
        enrolled_at__date__gte=first, enrolled_at__date__lt=stop
    ).values("learner_id")
    expected = begun.distinct().count()
    assert expected > LEARNERS_PER_PAGE

    # When the report of the range is shown
    page = staff.get(f"/reports/?{query}")

    # Then its first page of learners is there, with a next page, and no count yet
    assert page.context["learner_total"] is None
    assert len(page.context["tables"]["learners"].rows) == LEARNERS_PER_PAGE
    text = page.content.decode()
    assert 'rel="next"' in text
    pager = page.context["pagers"]["learners"]
    assert (pager.first, pager.last, pager.total) == (1, LEARNERS_PER_PAGE, None)
    (count_url,) = (
        html.unescape(u) for u in re.findall(r'hx-get="(/reports/learners/count/[^"]*)"', text)
    )
    assert count_url == f"/reports/learners/count/?{query}"

    # ... and the count it asks for is the range's learners, as htmx swaps it in
    counted = staff.get(count_url, headers={"HX-Request": "true"})
    assert counted.status_code == 200
    assert counted.content.decode() == f"{expected:,}"
    # ... or, followed without JavaScript, a page of its own that leads back
    alone = staff.get(count_url).content.decode()
    assert f"<strong>{expected:,}</strong>" in alone
    assert f'href="/reports/?{query.replace("&", "&amp;")}#report-learners"' in alone

    # The last page has the rest and no next page; past it, the last page is shown
    last_number = -(-expected // LEARNERS_PER_PAGE)
    for number in (last_number, last_number + 5):
        last = staff.get(f"/reports/?{query}&page={number}")
        rows = last.context["tables"]["learners"].rows
        assert len(rows) == expected - (last_number - 1) * LEARNERS_PER_PAGE, number
        assert 'rel="next"' not in last.content.decode(), number
        assert last.context["pagers"]["learners"].number == last_number, number
    # ... which had to count them to find it
    assert last.context["learner_total"] == expected


def test_without_a_range_the_count_is_on_the_page(staff: Client, dataset: Dataset) -> None:
    """Every other count is one summary row or an index count: shown with the page."""
    page = staff.get(f"/reports/?package_id={dataset.safety_id}")
    assert isinstance(page.context["learner_total"], int)
    assert "/reports/learners/count/" not in page.content.decode()


def test_the_count_of_invalid_filters_is_refused(staff: Client, dataset: Dataset) -> None:
    response = staff.get("/reports/learners/count/?from=2024-04-01&to=2024-01-01")
    assert response.status_code == 400
    assert "must be after from" in response.content.decode()
