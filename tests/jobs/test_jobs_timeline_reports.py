"""A report on a past timeline is worked out from every enrollment's events, one
transcript's work each: over more enrollments than a request works out
(``REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS``), the page, its downloads and the API never
work it out in the request; the page offers the workbook as an export job, whose file
holds what the page would have shown (ADR 0039)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from coursepack.reports import exact
from coursepack.reports.scope import make_filters
from tests.factories import make_course
from tests.jobs.test_jobs_exports import _client, _sheets, world

__all__ = ["world"]  # the exports' world: five learners, one completion, a manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def query(world: dict[str, Any]) -> str:
    """The report of the world's package as of a minute from now (after every write)."""
    as_of = timezone.localtime() + timedelta(minutes=1)
    return f"package_id={world['version'].package_id}&as_of={as_of:%Y-%m-%dT%H:%M}"


def _body(response: Any) -> bytes:
    """The bytes of a file response (streamed)."""
    return b"".join(response.streaming_content)


def test_a_long_timeline_is_offered_as_a_job_whose_workbook_equals_the_short_ones(
    world: dict[str, Any], query: str, settings: Any
) -> None:
    admin = _client(world["admin"])
    # Under the limit, the page works the timeline out and the workbook is written at once.
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 5
    page = admin.get(f"/reports/?{query}")
    assert b'data-table="learners"' in page.content
    assert b"report-long-timeline" not in page.content
    inline = admin.get(f"/reports/report.xlsx?{query}")
    assert inline["Content-Type"].startswith("application/vnd.openxmlformats")
    expected = _sheets(_body(inline))

    # Over it (5 enrollments, 4 worked out in a request): no table is worked out here.
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 4
    with CaptureQueriesContext(connection) as queries:
        page = admin.get(f"/reports/?{query}")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="report-long-timeline"' in text
    assert "these filters cover 5 enrollments, more than the 4 worked out while you wait" in text
    assert "data-table=" not in text
    (action,) = re.findall(r'<form method="post" action="(/exports/[^"]*)"', text)
    assert not any("learning_completionevent" in q["sql"] for q in queries.captured_queries)
    # Each download leads to the same offer, saying why.
    for url in ("/reports/report.xlsx", "/reports/learners.csv", "/reports/packages.csv"):
        offer = admin.get(f"{url}?{query}")
        assert offer.status_code == 200, url
        assert b"worked out from the events of\n5 enrollments" in offer.content, url
        assert b"Prepare the XLSX" in offer.content, url

    # The page's button queues the job with the page's filters.
    started = admin.post(html.unescape(action))
    assert started.status_code == 302
    job = Job.objects.get(kind="export")
    assert job.params["filters"]["as_of"] is not None
    # Its steps: the 5 enrollments it works out, then the rows of the learners with one.
    assert job.total == 5 + 5
    with CaptureQueriesContext(connection) as queries:
        jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.result
    assert (job.done, job.result["rows"]) == (10, 5)
    # The answers are worked out once for every sheet (one read of the moves), not per
    # sheet.
    moves = [q for q in queries.captured_queries if "learning_enrollmentmove" in q["sql"]]
    assert len(moves) == 1
    download = admin.get(f"/exports/{job.pk}/file")
    assert _sheets(_body(download)) == expected
    shown = admin.get(f"/exports/{job.pk}/").content.decode()
    assert "Progress: 10 of 10 steps (100%)" in shown
    assert "each enrollment is first worked out from its events" in shown


def test_a_managers_long_timeline_says_why_and_their_short_one_counts_their_people(
    world: dict[str, Any], query: str, settings: Any
) -> None:
    boss = _client(world["boss"])
    # The boss manages sales: the three people in north (and themselves, not enrolled).
    # Their report works out only their people's enrollments: 3, within a limit of 3.
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 3
    page = boss.get(f"/reports/?{query}")
    assert b'data-table="learners"' in page.content
    assert b"north-0" in page.content and b"desk-0" not in page.content
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 2
    page = boss.get(f"/reports/?{query}")
    text = page.content.decode()
    assert "these filters cover 3 enrollments, more than the 2 worked out while you wait" in text
    assert "An admin or auditor can prepare it as a workbook." in text
    assert "/exports/?export=report" not in text
    download = boss.get(f"/reports/learners.csv?{query}")
    assert download.status_code == 302
    assert download["Location"] == f"/reports/?{query.replace(':', '%3A')}"


def test_the_api_refuses_a_long_timeline_and_answers_a_short_one(
    world: dict[str, Any], settings: Any
) -> None:
    admin = _client(world["admin"])
    moment = (timezone.now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"package_id={world['version'].package_id}&as_of={moment}"
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 4
    for path in ("packages", "learners"):
        response = admin.get(f"/api/v1/reports/{path}?{query}")
        assert response.status_code == 409, path
        problem = response.json()
        assert problem["code"] == "export_runs_as_job"
        assert "works out 5 enrollments from their events, more than the 4" in problem["detail"]
    # The per-course counts are one aggregate of the events, on any timeline.
    assert admin.get(f"/api/v1/reports/courses?{query}").status_code == 200
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 5
    response = admin.get(f"/api/v1/reports/learners?{query}")
    assert response.status_code == 200
    assert response.json()["count"] == 5


def test_a_job_over_every_course_on_a_timeline_counts_its_courses_as_steps(
    world: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The course table of every course on a timeline is one aggregate of every event:
    a job's progress hears of it course by course (on SQLite, read a few courses at a
    time; on PostgreSQL in one read), and its counts are the one aggregate's."""
    admin, people = world["admin"], [*world["north"], *world["desk"]]
    courses = [world["course"], *(make_course(code=f"C-{i}") for i in range(4))]
    week_ago = timezone.now() - timedelta(days=7)
    for i, person in enumerate(people):
        for j, course in enumerate(courses[1:]):
            kind = ("completed", "passed", "failed")[(i + j) % 3]
            learning.record_completion(
                actor=admin,
                learner_id=person.pk,
                course_id=course.pk,
                kind=kind,
                occurred_at=week_ago + timedelta(hours=i + j),
            )
    # A learner's second completion of a course, and a void.
    learning.record_completion(
        actor=admin, learner_id=people[0].pk, course_id=courses[1].pk, kind="passed"
    )
    voided = learning.record_completion(
        actor=admin, learner_id=people[1].pk, course_id=courses[2].pk, kind="completed"
    ).event
    learning.void_event(actor=admin, event_id=voided.pk, reason="entered twice")
    as_of = timezone.localtime() + timedelta(minutes=1)
    query = f"as_of={as_of:%Y-%m-%dT%H:%M}"
    filters = make_filters(as_of=as_of.replace(second=0, microsecond=0))
    monkeypatch.setattr(exact, "COURSES_PER_READ", 2)

    # Read in steps, the counts are the one aggregate's, and every course is heard of.
    heard: list[int] = []
    ids = sorted(c.pk for c in courses)
    counts = exact.course_counts_in_steps(filters, ids, heard.append)
    whole = exact.course_counts(filters, None)
    assert {c: counts.get(c) for c in ids} == {c: whole.get(c) for c in ids}
    # Four completed or passed it, one of them twice (counted once); one failed.
    assert whole[courses[1].pk][:2] == (4, 1)
    assert whole[courses[2].pk][2] == 1
    assert heard == ([2, 2, 1] if connection.vendor == "sqlite" else [5])

    # The job's steps: its enrollments, every course, then its learners' rows.
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 5
    expected = _sheets(_body(_client(admin).get(f"/reports/report.xlsx?{query}")))
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 4
    started = _client(admin).post(f"/exports/?export=report&{query}")
    assert started.status_code == 302
    job = Job.objects.get(kind="export")
    assert job.total == 5 + len(courses) + 5
    with CaptureQueriesContext(connection) as queries:
        jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.result
    assert job.done == job.total
    course_reads = [
        q
        for q in queries.captured_queries
        if 'COUNT(DISTINCT "learning_completionevent"."learner_id")' in q["sql"]
    ]
    assert len(course_reads) == (3 if connection.vendor == "sqlite" else 1)
    if connection.vendor == "sqlite":  # each read narrowed to its courses
        assert all('"learning_completionevent"."course_id" IN (' in q["sql"] for q in course_reads)
    assert _sheets(_body(_client(admin).get(f"/exports/{job.pk}/file"))) == expected
