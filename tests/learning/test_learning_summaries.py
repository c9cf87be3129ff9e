"""The enrollment summary rows equal a from-scratch aggregate after any sequence of
operations, and the standing counts read from them equal the aggregate over every
open period at any moment; ``rebuild_statuses`` reports and fixes summary drift."""

from __future__ import annotations

import contextlib
import itertools
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from learning_helpers import make_learners
from test_learning_lifecycle_rebuild import (
    LIFECYCLE,
    _Clock,
    _lifecycle_op,
    clock,
    run_operations,
    world,
)
from test_learning_rebuild import OPERATIONS, World, _apply

from coursepack.audit.models import AuditEvent
from coursepack.errors import DomainError
from coursepack.learning import api as learning
from coursepack.learning import completions, lifecycle_selectors, summaries, summary_sql
from coursepack.learning.models import Enrollment, EnrollmentDayCount, StandingCount
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from coursepack.reports import exact, paging, summary_reads
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
        run_operations(world, clock, operations)
        _everything_agrees(world, clock.now)
        transaction.set_rollback(True)
    clock.now = start


def _everything_agrees(world: World, now: Any) -> None:
    """Zero drift of the summaries, and the standing and report reads from them equal
    the exact ones."""
    assert summaries.check().tables == {}
    package_ids = sorted(set(Enrollment.objects.values_list("package_id", flat=True)))
    _standing_agrees(package_ids, now)
    _reports_agree(world, now)


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
        # Single days, where a learner's completions fall on both sides of midnight.
        (today - timedelta(days=1), today),
        (today, today + timedelta(days=1)),
        (None, today),
        (today, None),
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
            if filters.package_id is None and (first, stop) != (None, None):
                # Every course over whole days: from the day and pair rows (ADR 0040).
                course_ids = [c.pk for c in world.courses]
                assert _nonzero(paging.course_counts_in_range(bounded, course_ids)) == _nonzero(
                    exact.course_counts(bounded, None)
                ), (first, stop)


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


# --- deferred blocks (ADR 0037) ---------------------------------------------------------


class _Abandoned(Exception):
    """Raised to leave a block on purpose."""


_IMPORT = st.tuples(
    st.just("import"),
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 5),
            st.sampled_from(["completed", "passed", "failed"]),
            st.integers(0, 600),
        ),
        min_size=1,
        max_size=5,
    ),
)
_imported = itertools.count()


def _run(world: World, clock: _Clock, operations: list[Any]) -> None:
    for op in operations:
        with contextlib.suppress(DomainError):  # refused: nothing changed
            if op[0] == "import":
                learning.import_completions(
                    actor=world.admin,
                    completions=[
                        learning.ImportedCompletion(
                            learner_id=world.learners[learner],
                            course_id=world.courses[course].pk,
                            kind=kind,
                            occurred_at=world.t + timedelta(minutes=minutes),
                            external_id=f"deferred:{next(_imported)}",
                        )
                        for learner, course, kind, minutes in op[1]
                    ],
                )
            elif op[0] in ("enrol", "bulk", "record", "void", "withdraw", "publish"):
                _apply(world, op)
            else:
                _lifecycle_op(world, clock, op)


def _in_block(world: World, clock: _Clock, how: str, operations: list[Any]) -> None:
    """Run the operations live, in a deferred block, or in one that nests another, or
    one left by an exception: rolled back with its savepoint ("abandoned"), kept in
    the transaction ("kept"), or by a database error ("failed")."""
    if how == "live":
        _run(world, clock, operations)
    elif how == "deferred":
        with summaries.deferred():
            _run(world, clock, operations)
    elif how == "nested":
        with summaries.deferred():
            _run(world, clock, operations[:1])
            with summaries.deferred():
                _run(world, clock, operations[1:])
    elif how == "abandoned":
        with contextlib.suppress(_Abandoned), transaction.atomic(), summaries.deferred():
            _run(world, clock, operations)
            raise _Abandoned
    elif how == "kept":
        with contextlib.suppress(_Abandoned), summaries.deferred():
            _run(world, clock, operations)
            raise _Abandoned
    else:
        assert how == "failed"
        with (
            contextlib.suppress(DatabaseError),
            transaction.atomic(),
            summaries.deferred(),
            connection.cursor() as cursor,
        ):
            _run(world, clock, operations)
            cursor.execute("SELECT no_such_column FROM learning_enrollment")


_BLOCKS = st.lists(
    st.tuples(
        st.sampled_from(["live", "deferred", "nested", "abandoned", "kept", "failed"]),
        st.lists(st.one_of(OPERATIONS, LIFECYCLE, _IMPORT), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=5,
)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(blocks=_BLOCKS)
def test_summaries_equal_the_enrollments_after_any_sequence_of_deferred_blocks(
    world: World,
    clock: _Clock,
    monkeypatch: pytest.MonkeyPatch,
    blocks: list[tuple[str, list[Any]]],
) -> None:
    """The same operations (and imports of several events) run live, in deferred blocks,
    in blocks nested in one another, and in blocks left by an exception — rolled back
    with their savepoint, kept by a caller that catches it in the same transaction, or
    failed in the database — leave every summary row equal to a from-scratch aggregate,
    and the report reads from them equal the exact ones. Each import folds what its
    block collected so far, as an import of millions does every 100,000 events."""
    monkeypatch.setattr(completions, "_FOLD_EVERY", 1)
    start = clock.now
    with transaction.atomic():
        for how, operations in blocks:
            _in_block(world, clock, how, operations)
        _everything_agrees(world, clock.now)
        transaction.set_rollback(True)
    clock.now = start


def _summary_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every summary table (zeros included), versions named by package and
    number: the ids of versions published in a rolled-back savepoint are not reused."""
    named = {
        pk: (package_id, number)
        for pk, package_id, number in PackageVersion.objects.values_list(
            "pk", "package_id", "version_number"
        )
    }
    found = {}
    with connection.cursor() as cursor:
        for table, (key, _) in summaries._scratch_queries(connection.vendor).items():
            cursor.execute(f"SELECT {', '.join((*key.columns, *key.values))} FROM {table}")
            rows = []
            for row in cursor.fetchall():
                values = dict(
                    zip((*key.columns, *key.values), map(summaries._normal, row), strict=True)
                )
                for column in ("version_id", "previous_version_id"):
                    if column in values:
                        values[column] = named.get(values[column], values[column])
                rows.append(tuple(values.values()))
            found[table] = sorted(rows, key=repr)
    return found


_SAME_WRITES = [
    ("bulk", 0, [0, 1, 2]),
    ("bulk", 1, [0, 1]),
    ("record", 0, 0, "completed", None),
    ("record", 0, 0, "passed", 30),
    ("record", 0, 2, "completed", None),
    ("record", 1, 1, "failed", 60),
    ("import", [(2, 0, "completed", 5), (2, 0, "completed", 9), (1, 2, "failed", 1)]),
    ("void", 0, 0),
    ("void", 2, 1),
    ("extend", 1, 0, 3),
    ("exempt", 2, 0, 0, True, None),
    ("publish", 0, 0, 4, "move_in_progress"),
    ("withdraw", 1, 1),
    ("advance", 49),
    ("enrol", 1, 1),
]


def test_a_deferred_block_leaves_the_rows_the_live_triggers_leave(
    world: World, clock: _Clock
) -> None:
    """Enrolments, completions, an import, voids, an extension, an exemption, a publish
    that moves learners, a withdrawal and periods opening, written live and then (rolled
    back, the clock put back) in one deferred block: every summary table holds the same
    rows afterwards, rows counting zero included."""
    start = clock.now
    with contextlib.suppress(_Abandoned), transaction.atomic():
        _run(world, clock, _SAME_WRITES)
        live = _summary_rows()
        raise _Abandoned
    clock.now = start
    with transaction.atomic():
        with summaries.deferred():
            _run(world, clock, _SAME_WRITES)
        assert _summary_rows() == live
        assert summaries.check().tables == {}
    assert Enrollment.objects.filter(period_number__gt=1).exists()
    assert any(len(rows) > 1 for rows in live.values())


def test_a_read_inside_a_deferred_block_sees_its_writes_once_folded(admin: Any) -> None:
    """Inside a deferred block the summary rows do not show its writes yet on PostgreSQL
    (the block's documented cost); ``fold`` applies them, and ``check`` folds first."""
    version = make_published_package(items=[make_course()])
    learners = make_learners(5)

    def counted() -> int:
        rows = EnrollmentDayCount.objects.filter(package_id=version.package_id)
        return sum(r.n for r in rows)

    with summaries.deferred():
        learning.bulk_enroll(actor=admin, package_id=version.package_id, learner_ids=learners)
        assert counted() == (0 if connection.vendor == "postgresql" else 5)
        summaries.fold()
        assert counted() == 5
        learning.withdraw(
            actor=admin,
            enrollment_id=Enrollment.objects.filter(package_id=version.package_id).first().pk,
        )
        assert summaries.check().tables == {}
    assert counted() == 5


def test_the_deferred_trigger_bodies_name_no_deferred_summary_table() -> None:
    """In a deferred block the triggers neither write nor read a deferred summary table
    (a read would miss the block's changes): they insert into the delta tables, and
    read and write the learners' course rows, which stay live."""
    fact, void = summary_sql._event_statements("postgresql")
    bodies = [
        summary_sql._enrollment_body(deferred=True),
        *summary_sql._sql([*fact, *void], deferred=True),
    ]
    for key in summaries._DEFERRED_KEYS:
        named = re.compile(rf"\b{key.table}\b")
        assert not any(named.search(body) for body in bodies), key.table
        assert any(f"pg_temp.{key.delta_table} " in body for body in bodies), key.table
    assert any("learning_courselearnercount" in body for body in bodies)


@pytest.mark.django_db(transaction=True)
def test_a_deferred_block_runs_only_inside_a_transaction() -> None:
    """Outside ``transaction.atomic`` nothing could fold its changes in the same
    transaction as its writes: refused."""
    with (
        pytest.raises(TransactionManagementError, match="inside the caller's transaction"),
        summaries.deferred(),
    ):
        pass  # pragma: no cover


def _summary_writes() -> dict[str, int]:
    """Rows inserted or updated in each summary table by this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables "
            "WHERE relname = ANY(%s)",
            [list(summaries._scratch_queries("postgresql"))],
        )
        return dict(cursor.fetchall())


def test_a_deferred_bulk_enrolment_writes_each_summary_row_once(admin: Any) -> None:
    """On PostgreSQL a bulk enrolment writes each summary row it changes once, however
    many learners it enrols (each further write of a row updated in the same
    transaction would walk all its earlier versions), where live triggers write the
    row once per learner."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite updates a row in place: its triggers stay live")
    course = make_course()
    learners = make_learners(70)
    writes = []
    for count in (10, 60):
        version = make_published_package(items=[course])
        before = _summary_writes()
        learning.bulk_enroll(
            actor=admin, package_id=version.package_id, learner_ids=learners[:count]
        )
        after = _summary_writes()
        writes.append({t: after[t] - before[t] for t in after if after[t] != before[t]})
    # One row each: the version's day, version and standing rows; each learner's own row.
    few, many = writes
    assert few["learning_enrollmentdaycount"] == many["learning_enrollmentdaycount"] == 1
    assert few["learning_versioncount"] == many["learning_versioncount"] == 1
    assert few["learning_standingcount"] == many["learning_standingcount"] == 1
    assert (few["learning_learnercount"], many["learning_learnercount"]) == (10, 60)

    live = make_published_package(items=[course])
    before = _summary_writes()
    for learner in learners[:10]:
        learning.enroll(actor=admin, learner_id=learner, package_id=live.package_id)
    after = _summary_writes()
    assert after["learning_versioncount"] - before["learning_versioncount"] == 10
