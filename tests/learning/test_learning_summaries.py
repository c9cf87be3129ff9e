"""The enrollment summary rows equal a from-scratch aggregate after any sequence of
operations, and the standing counts read from them equal the aggregate over every
open period at any moment; ``rebuild_statuses`` reports and fixes summary drift."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from learning_helpers import make_learners
from test_learning_lifecycle_rebuild import LIFECYCLE, _Clock, _lifecycle_op, clock, world
from test_learning_rebuild import OPERATIONS, World, _apply

from coursepack.audit.models import AuditEvent
from coursepack.errors import DomainError
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors, summaries
from coursepack.learning.models import Enrollment, EnrollmentDayCount, StandingCount
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from coursepack.reports import exact, summary_reads
from coursepack.reports.scope import ReportFilters
from tests.factories import make_course, make_published_package

pytestmark = pytest.mark.django_db

__all__ = ["clock", "world"]  # fixtures, shared with the lifecycle rebuild test

# Moments around now: before and after each day boundary the periods' moments fall near.
OFFSETS = [timedelta(hours=h) for h in (-25, -3, 0, 5, 23, 26, 49, 73)]


def _standing_agrees(package_ids: list[int], now: Any) -> None:
    """Every package's counts, read for all of them at once (as the reports page
    does: one package's periods on a compared day are read beside another's rows),
    equal each package's aggregate over every period."""
    for offset in OFFSETS:
        moment = now + offset
        for within in (1, 30):
            got = lifecycle_selectors.standing_counts_by_package(
                package_ids, now=moment, expiring_within_days=within
            )
            for package_id in package_ids:
                expected = lifecycle_selectors.exact_standing_counts(
                    package_id, now=moment, expiring_within_days=within
                )
                assert got[package_id] == expected, (package_id, offset, within)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(st.one_of(OPERATIONS, LIFECYCLE, LIFECYCLE), min_size=1, max_size=14))
def test_summaries_equal_the_enrollments_after_any_sequence(
    world: World, clock: _Clock, operations: list[Any]
) -> None:
    """Whatever the enrolments, completions, voids, moves at publish, withdrawals,
    extensions, exemptions, equivalences and periods opening, every summary row equals a
    from-scratch aggregate of the enrollments, and the standing counts read from the
    rows equal the aggregate over every open period, at moments on either side of the
    day boundaries."""
    start = clock.now
    with transaction.atomic():
        for op in operations:
            with contextlib.suppress(DomainError):  # refused: nothing changed
                if op[0] in ("enrol", "bulk", "record", "void", "withdraw", "publish"):
                    _apply(world, op)
                else:
                    _lifecycle_op(world, clock, op)
        assert summaries.check().tables == {}
        package_ids = sorted(set(Enrollment.objects.values_list("package_id", flat=True)))
        _standing_agrees(package_ids, clock.now)
        _reports_agree(world, clock.now)
        transaction.set_rollback(True)
    clock.now = start


def _nonzero(counts: dict[int, tuple[int, int, int]]) -> dict[int, tuple[int, int, int]]:
    return {course: c for course, c in counts.items() if any(c)}


def _reports_agree(world: World, now: Any) -> None:
    """The report reads answered from the summary rows (ADR 0032) equal the exact
    aggregates of the events and enrollments: the per-course table of each package and
    version of it, and the completions chart over all time and over ranges of whole
    months, of months cut by their ends, and open at one end."""
    versions = PackageVersion.objects.filter(package_id__in=world.packages)
    scopes = [ReportFilters()]
    scopes += [ReportFilters(package_id=p) for p in world.packages]
    scopes += [ReportFilters(package_id=v.package_id, version_id=v.pk) for v in versions]
    for filters in scopes:
        course_ids = None if filters.package_id is None else [c.pk for c in world.courses]
        assert _nonzero(summary_reads.course_counts(filters, course_ids)) == _nonzero(
            exact.course_counts(filters, course_ids)
        ), filters
    today = now.astimezone(UTC).date()
    month = today.replace(day=1)
    ranges = [
        (None, None),
        (date(month.year - 1, month.month, 1), date(month.year + 1, month.month, 1)),
        (today - timedelta(days=300), today + timedelta(days=2)),
        (month - timedelta(days=400), None),
        (None, today + timedelta(days=1)),
    ]
    for filters in scopes[: 1 + len(world.packages)]:
        for first, stop in ranges:
            bounded = replace(
                filters,
                start=None if first is None else datetime.combine(first, time.min, tzinfo=UTC),
                end=None if stop is None else datetime.combine(stop, time.min, tzinfo=UTC),
            )
            got = summary_reads.period_counts(bounded, first, stop)
            if got is not None:
                assert got == exact.period_counts(bounded, UTC), (filters, first, stop)


def _package(admin: Any, learners: int = 4) -> int:
    version = make_published_package(items=[make_course()])
    learning.bulk_enroll(
        actor=admin, package_id=version.package_id, learner_ids=make_learners(learners)
    )
    return version.package_id


def test_a_write_behind_the_services_back_still_moves_the_summaries(admin: Any) -> None:
    """The triggers count every write of an enrollment, raw SQL included."""
    package_id = _package(admin)
    victim = Enrollment.objects.filter(package_id=package_id).order_by("pk").first()
    assert victim is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE learning_enrollment SET status = 'completed', completed_at = enrolled_at "
            "WHERE id = %s",
            [victim.pk],
        )
    assert summaries.check().tables == {}
    rows = EnrollmentDayCount.objects.filter(package_id=package_id, state="open")
    assert {r.status: r.n for r in rows if r.n} == {"not_started": 3, "completed": 1}


def test_rebuild_reports_then_fixes_summary_drift(admin: Any) -> None:
    """A summary row changed behind the triggers' back is drift: --check reports it and
    exits 1; the rebuild replaces the rows, on the record."""
    package_id = _package(admin)
    StandingCount.objects.filter(package_id=package_id).update(n=99)
    assert summaries.check().drifted == 1

    out = StringIO()
    with pytest.raises(CommandError, match="summary key"):
        call_command("rebuild_statuses", "--check", "--no-progress", stdout=out)
    assert "Summary rows: 1 key(s) drifted (not fixed)." in out.getvalue()

    report = learning.rebuild_statuses(actor=admin)
    assert (report.drifted, report.summary_keys_drifted) == ([], 1)
    assert summaries.check().tables == {}
    event = AuditEvent.objects.get(action="enrollment.summaries_rebuilt")
    assert event.after == {"learning_standingcount": 1}
    assert lifecycle_selectors.standing_counts(package_id)["not_started"] == 4


def test_standing_counts_agree_hour_by_hour_around_expiry_and_recertification(
    world: World, clock: _Clock
) -> None:
    """Learners certified at different moments on a version valid two days (one-day
    window, one-day grace), one exempt until a waiver lapses, one never started, periods opening: the counts
    from the summary rows equal the aggregate over every period, every three hours from
    a day before to four days after, expiring within one day or thirty."""
    _apply(world, ("bulk", 0, [0, 1, 2]))
    for learner, minutes in ((0, 0), (1, 400)):
        clock.now += timedelta(minutes=minutes)
        for course in range(6):
            with contextlib.suppress(DomainError):  # a course not in package 0
                _apply(world, ("record", learner, course, "completed", None))
    # A waiver of the whole enrollment that lapses 25 hours in (ADR 0022): the counts
    # from the summary rows recount it as the exact aggregate does, with no job run.
    _lifecycle_op(world, clock, ("exempt", 2, 0, 0, True, 25))
    package_id = world.packages[0]
    assert Enrollment.objects.filter(package_id=package_id, status="completed").exists()
    # Before and after the next periods open.
    for opened in (False, True):
        if opened:
            _lifecycle_op(world, clock, ("advance", 30))
        assert summaries.check().tables == {}
        for hours in range(-24, 97, 3):
            moment = clock.now + timedelta(hours=hours)
            for within in (1, 30):
                got = lifecycle_selectors.standing_counts(
                    package_id, now=moment, expiring_within_days=within
                )
                expected = lifecycle_selectors.exact_standing_counts(
                    package_id, now=moment, expiring_within_days=within
                )
                assert got == expected, (opened, hours, within)


def _released(admin: Any, course: Any, *, based_on: int | None = None, **lifecycle: Any) -> Any:
    if based_on is None:
        draft = packaging.create_package(actor=admin, name=f"Spread {course.pk}")
        packaging.add_item(actor=admin, version_id=draft.pk, course_id=course.pk)
    else:
        draft = packaging.create_draft_from(actor=admin, version_id=based_on)
    packaging.set_version_lifecycle(actor=admin, version_id=draft.pk, **lifecycle)
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    return draft


def test_standing_counts_agree_with_due_dates_and_expiries_spread_over_days(
    clock: _Clock, admin: Any
) -> None:
    """Periods due from and expiring on many different days (on each side of every
    compared day, several sharing a day), on two versions with different windows and
    graces, later periods waiting on their previous period's expiry, whole-package
    exemptions on and off the compared days, and a package with no validity: the
    counts from the summary rows (grouped by where their days fall among the compared
    days) equal the aggregate over every period, for one package and for both read
    together, every 17 hours over ten days."""
    course, plain_course = make_course(), make_course()
    v1 = _released(
        admin, course, due_kind="after_enrolment", due_days=2, valid_days=6, window_days=2,
        grace_days=1,
    )  # fmt: skip
    plain = _released(admin, plain_course, due_kind="after_enrolment", due_days=1)
    learners = make_learners(16)
    enrollments = {}
    for index, learner in enumerate(learners):
        if index == 8:
            _released(
                admin, course, based_on=v1.pk, due_kind="after_enrolment", due_days=3,
                valid_days=4, window_days=1, grace_days=2,
            )  # fmt: skip
        clock.now += timedelta(hours=7)
        package_id = plain.package_id if index >= 12 else v1.package_id
        enrollments[index] = learning.enroll(
            actor=admin, learner_id=learner, package_id=package_id
        ).pk
    for index in (0, 2, 4, 6, 8, 10, 12):
        clock.now += timedelta(hours=5)
        learning.record_completion(
            actor=admin,
            learner_id=learners[index],
            course_id=(plain_course if index >= 12 else course).pk,
        )
    learning.exempt(actor=admin, enrollment_ids=[enrollments[3]], reason="administrative")
    learning.exempt(
        actor=admin,
        enrollment_ids=[enrollments[9], enrollments[14]],
        reason="administrative",
        ends_at=clock.now + timedelta(hours=30),
    )
    clock.now += timedelta(days=4)
    learning.open_certification_periods(actor=None)
    assert Enrollment.objects.filter(period_number__gt=1).exists()
    assert summaries.check().tables == {}
    packages = [v1.package_id, plain.package_id]
    for hours in range(-72, 24 * 10, 17):
        moment = clock.now + timedelta(hours=hours)
        for within in (1, 3):
            both = lifecycle_selectors.standing_counts_by_package(
                packages, now=moment, expiring_within_days=within
            )
            for package_id in packages:
                expected = lifecycle_selectors.exact_standing_counts(
                    package_id, now=moment, expiring_within_days=within
                )
                alone = lifecycle_selectors.standing_counts(
                    package_id, now=moment, expiring_within_days=within
                )
                assert both[package_id] == alone == expected, (package_id, hours, within)
