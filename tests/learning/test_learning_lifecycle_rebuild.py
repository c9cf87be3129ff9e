"""No sequence of operations, lifecycle ones included, leaves drift in the status cache,
or a report on a timeline that differs from the transcripts.

The sequences of ``test_learning_rebuild`` (enrol, bulk-enrol, record, void, withdraw,
publish) mixed with extensions, exemptions and their revocation, equivalences (one
way or both, retroactive or not, ended or applied retroactively later), and the clock
moving on with certification periods opening.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from learning_helpers import drift
from test_learning_rebuild import OPERATIONS, World, _active, _apply, _build_world

from coursepack.errors import DomainError
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors
from coursepack.learning.models import CompletionEvent, Enrollment, Equivalence, Exemption
from coursepack.learning.transcript import timeline_answers, transcript
from coursepack.packaging import api as packaging

pytestmark = pytest.mark.django_db


class _Clock:
    def __init__(self) -> None:
        self.now = timezone.now()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    real = timezone.now
    c.now = real()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


@pytest.fixture
def world(admin: Any, clock: _Clock) -> World:
    """The rebuild world, with package 0 due one day after enrolment, valid two days,
    a one-day window and a one-day grace."""
    w = _build_world(admin)
    draft = packaging.create_draft_from(actor=admin, version_id=_active(w, 0).pk)
    packaging.set_version_lifecycle(
        actor=admin,
        version_id=draft.pk,
        due_kind="after_enrolment",
        due_days=1,
        valid_days=2,
        window_days=1,
        grace_days=1,
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Lifecycle.")
    return w


def _open(w: World, learner: int) -> list[Enrollment]:
    return list(
        Enrollment.objects.filter(
            learner_id=w.learners[learner], withdrawn_at__isnull=True, superseded_at__isnull=True
        ).order_by("pk")
    )


def _lifecycle_op(w: World, clock: _Clock, op: tuple[Any, ...]) -> None:
    kind, *args = op
    if kind == "extend":
        learner, pick, days = args
        mine = _open(w, learner)
        if mine:
            learning.extend_due_date(
                actor=w.admin,
                enrollment_ids=[mine[pick % len(mine)].pk],
                due_at=clock.now + timedelta(days=days),
                reason="random extension",
            )
    elif kind == "exempt":
        learner, pick, course, whole, hours = args
        mine = _open(w, learner)
        if mine:
            learning.exempt(
                actor=w.admin,
                enrollment_ids=[mine[pick % len(mine)].pk],
                course_id=None if whole else w.courses[course].pk,
                reason="administrative",
                # A waiver valid for some hours (it lapses as the clock moves), or no end.
                ends_at=None if hours is None else clock.now + timedelta(hours=hours),
            )
    elif kind == "revoke":
        (pick,) = args
        open_ones = list(Exemption.objects.filter(revocation__isnull=True).order_by("pk"))
        if open_ones:
            learning.revoke_exemption(
                actor=w.admin, exemption_id=open_ones[pick % len(open_ones)].pk, reason="revoked"
            )
    elif kind == "equivalence":
        source, target, both, retro = args
        learning.create_equivalence(
            actor=w.admin,
            source_course_id=w.courses[source].pk,
            target_course_id=w.courses[target].pk,
            both_ways=both,
            retroactive=retro,
        )
    elif kind in ("end", "retro"):
        (pick,) = args
        found = list(Equivalence.objects.order_by("pk"))
        if found:
            target = found[pick % len(found)]
            if kind == "end":
                learning.end_equivalence(actor=w.admin, equivalence_id=target.pk)
            else:
                learning.apply_equivalence_retroactively(actor=w.admin, equivalence_id=target.pk)
    elif kind == "advance":
        (hours,) = args
        clock.now += timedelta(hours=hours)
        learning.open_certification_periods(actor=None)
    else:
        raise AssertionError(kind)


LEARNER = st.integers(0, 2)
LIFECYCLE = st.one_of(
    st.tuples(st.just("extend"), LEARNER, st.integers(0, 3), st.integers(1, 5)),
    st.tuples(
        st.just("exempt"),
        LEARNER,
        st.integers(0, 3),
        st.integers(0, 5),
        st.booleans(),
        st.none() | st.sampled_from([5, 25, 60]),
    ),
    st.tuples(st.just("revoke"), st.integers(0, 5)),
    st.tuples(
        st.just("equivalence"), st.integers(0, 5), st.integers(0, 5), st.booleans(), st.booleans()
    ),
    st.tuples(st.sampled_from(["end", "retro"]), st.integers(0, 3)),
    st.tuples(st.just("advance"), st.sampled_from([6, 20, 30, 49])),
)


def run_operations(w: World, clock: _Clock, operations: list[Any]) -> list[datetime]:
    """Carry out the operations in order (a refused one changes nothing); return the
    clock after each."""
    moments = []
    for op in operations:
        with contextlib.suppress(DomainError):  # refused: nothing changed
            if op[0] in ("enrol", "bulk", "record", "void", "withdraw", "publish"):
                _apply(w, op)
            else:
                _lifecycle_op(w, clock, op)
        moments.append(clock.now)
    return moments


def _assert_counts_follow_the_engine(w: World, clock: _Clock) -> None:
    package_ids = set(
        Enrollment.objects.filter(withdrawn_at__isnull=True, superseded_at__isnull=True)
        .values_list("package_id", flat=True)
        .distinct()
    )
    for package_id in package_ids:
        counts = lifecycle_selectors.standing_counts(package_id, now=clock.now)
        expected: dict[str, int] = {}
        for e in Enrollment.objects.filter(
            package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
        ):
            result, _ = lifecycle_selectors.package_standing(
                e.learner_id, package_id, as_of=clock.now
            )
            assert result is not None
            expected[str(result.standing)] = expected.get(str(result.standing), 0) + 1
        assert {k: v for k, v in counts.items() if v and k != "expiring"} == expected


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(st.one_of(OPERATIONS, LIFECYCLE, LIFECYCLE), min_size=1, max_size=14))
def test_no_drift_after_any_sequence_with_lifecycle_facts(
    world: World, clock: _Clock, operations: list[Any]
) -> None:
    """Whatever the order of operations and lifecycle facts, the stored statuses and dates
    equal the engine's, and each learner has at most one open period per package. The
    clock moving past a waiver's end leaves no drift either, with nothing settled: the
    cached fields say until when they hold, and the standing counts (derived at read
    time) equal the engine's standings."""
    start = clock.now
    with transaction.atomic():
        run_operations(world, clock, operations)
        assert drift() == []
        _assert_counts_follow_the_engine(world, clock)
        open_ones = Enrollment.objects.filter(withdrawn_at__isnull=True, superseded_at__isnull=True)
        assert open_ones.values("learner_id", "package_id").distinct().count() == open_ones.count()
        transaction.set_rollback(True)
    clock.now = start


def _transcripts_rows(
    w: World, as_of: Any, known_at: Any, package_id: int | None
) -> list[tuple[int, tuple[Any, ...]]]:
    """What a timeline report reads of the learners' transcripts, in learner order."""
    return [
        (learner, (e.version_id, e.enrolled_at, e.withdrawn_at, e.progress_status, e.completed_at))
        for learner in sorted(w.learners)
        for e in transcript(learner, as_of, known_at=known_at).enrollments
        if package_id in (None, e.package_id)
    ]


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    operations=st.lists(st.one_of(OPERATIONS, LIFECYCLE, LIFECYCLE), min_size=1, max_size=14),
    data=st.data(),
)
def test_a_timeline_report_reads_what_the_transcripts_show_with_lifecycle_facts(
    world: World, clock: _Clock, operations: list[Any], data: st.DataObject
) -> None:
    """A report on a timeline works each enrollment out with the status rule, from the
    facts the transcript's whole evaluation reads: after any sequence with exemptions
    (lapsing, revoked), equivalences (ended, made retroactive), extensions and
    certification periods opening, its answers as of any moment, as known at now, then
    or any other moment, are the transcripts' rows: for every package and all of them,
    in batches of any size."""
    start = clock.now
    with transaction.atomic():
        moments = [start - timedelta(hours=1), start, *run_operations(world, clock, operations)]
        # ... and the moments facts take effect: events, waivers' ends, periods' openings
        moments += CompletionEvent.objects.values_list("occurred_at", flat=True)
        moments += Exemption.objects.exclude(ends_at=None).values_list("ends_at", flat=True)
        moments += Enrollment.objects.exclude(counts_from=None).values_list(
            "counts_from", flat=True
        )
        moments = sorted(set(moments))
        for _ in range(3):
            as_of = data.draw(st.sampled_from(moments)) + data.draw(
                st.sampled_from([timedelta(0), timedelta(seconds=-1), timedelta(seconds=1)])
            )
            known_at = data.draw(st.sampled_from([clock.now, as_of, *moments]))
            for package_id in (None, *world.packages):
                expected = _transcripts_rows(world, as_of, known_at, package_id)
                answers = timeline_answers(as_of=as_of, known_at=known_at, package_id=package_id)
                assert [(learner, tuple(a)) for learner, a in answers] == expected, (
                    as_of,
                    known_at,
                    package_id,
                )
            # Batches of one or two enrollments, each learner's whole, read the same.
            for size in (1, 2):
                answers = timeline_answers(
                    as_of=as_of, known_at=known_at, enrollments_per_batch=size
                )
                assert [(learner, tuple(a)) for learner, a in answers] == _transcripts_rows(
                    world, as_of, known_at, None
                )
        transaction.set_rollback(True)
    clock.now = start
