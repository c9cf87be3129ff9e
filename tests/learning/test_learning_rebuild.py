"""Stored statuses are a cache of the engine: ``rebuild_statuses`` finds and fixes drift,
and no sequence of operations through the services leaves any."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from learning_helpers import base_time, drift, make_learners, record, stored

from coursepack.audit.models import AuditEvent
from coursepack.catalog.models import Course
from coursepack.errors import DomainError
from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.learning.transcript import transcript
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import CourseGroupVersion, PackageVersion
from tests.factories import add_items, make_course, make_group, make_published_package

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _corrupt(enrollment: Enrollment, assignment: str, *params: Any) -> None:
    """Change a cached field behind the services' back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE learning_enrollment SET {assignment} WHERE id = %s", [*params, enrollment.pk]
        )


def _world(admin: Any, count: int = 7) -> tuple[list[Enrollment], Course, datetime]:
    """Return ``count`` enrollments in a two-course package, some in progress or done."""
    t = base_time()
    a, b = make_course(), make_course()
    version = make_published_package(items=[a, b])
    ids = make_learners(count)
    learning.bulk_enroll(actor=admin, package_id=version.package_id, learner_ids=ids)
    enrollments = list(Enrollment.objects.order_by("pk"))
    for enrollment in enrollments[::2]:
        record(enrollment.learner, a, t)
    for enrollment in enrollments[::4]:
        record(enrollment.learner, b, t + HOUR)
    return enrollments, a, t


@pytest.mark.parametrize(
    ("index", "assignment", "params"),
    [
        (2, "status = %s", ["completed"]),
        (3, "progress_needed = %s", [3]),
        (0, "completed_at = %s", [datetime(2020, 1, 1, tzinfo=UTC)]),
        (4, "completed_at = NULL", []),
    ],
)
def test_rebuild_reports_exactly_the_corrupted_enrollment_and_fixes_it(
    admin: Any, index: int, assignment: str, params: list[Any]
) -> None:
    # Given enrollments in every state, one of them corrupted behind the services' back
    enrollments, _, _ = _world(admin)
    assert drift() == []
    victim = enrollments[index]
    truth = stored(victim)
    _corrupt(victim, assignment, *params)
    assert stored(victim) != truth

    # When the cache is checked, three learners at a time
    calls: list[int] = []
    report = learning.rebuild_statuses(
        actor=admin, fix=False, learners_per_batch=3, progress=calls.append
    )

    # Then exactly that enrollment is reported, and left as it was
    assert (report.checked, report.drifted, report.fixed) == (7, [victim.pk], False)
    assert calls == [3, 3, 1]
    assert stored(victim) != truth
    assert not AuditEvent.objects.filter(action="enrollment.statuses_rebuilt").exists()

    # When it is rebuilt
    report = learning.rebuild_statuses(actor=admin, learners_per_batch=3)

    # Then it is fixed, on the record, and nothing drifts any more
    assert (report.checked, report.drifted, report.fixed) == (7, [victim.pk], True)
    assert stored(victim) == truth
    event = AuditEvent.objects.get(action="enrollment.statuses_rebuilt")
    assert event.actor == admin
    assert event.after == {"checked": 7, "drifted": [victim.pk]}
    assert drift() == []


def _command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rebuild_statuses", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rebuild_command_checks_then_fixes(admin: Any) -> None:
    """--check reports and exits with status 1 on drift; without it, drift is fixed."""
    enrollments, _, _ = _world(admin)
    out, err = _command("--check", "--learners-per-batch", "2")
    assert "Checked 7 enrollment(s); 0 drifted." in out
    assert "Checking" in err
    assert "7/7" in err

    truths = [stored(e) for e in enrollments]
    _corrupt(enrollments[1], "status = %s", "completed")
    _corrupt(enrollments[6], "progress_done = %s", 2)
    with pytest.raises(CommandError, match="2 enrollment") as failed:
        _command("--check", "--learners-per-batch", "2")
    assert failed.value.returncode == 1
    assert stored(enrollments[1])[0] == "completed"

    out, err = _command("--learners-per-batch", "2", "--actor", admin.username)
    assert "Checked 7 enrollment(s); 2 drifted." in out
    assert f"Drifted enrollments: {enrollments[1].pk}, {enrollments[6].pk}." in out
    assert "Fixed 2 enrollment(s)." in out
    assert "Rebuilding" in err
    assert [stored(e) for e in enrollments] == truths
    assert AuditEvent.objects.get(action="enrollment.statuses_rebuilt").actor == admin

    out, _ = _command("--check", "--no-progress")
    assert "0 drifted" in out


def test_rebuild_checks_withdrawn_enrollments_as_of_their_withdrawal(admin: Any) -> None:
    """A withdrawn enrollment is frozen: events after withdrawal are not drift."""
    enrollments, a, _ = _world(admin, count=2)
    learning.withdraw(actor=admin, enrollment_id=enrollments[1].pk)
    record(enrollments[1].learner, a, timezone.now())
    assert stored(enrollments[1])[0] == "not_started"
    assert drift() == []


# --- randomised operation sequences ------------------------------------------------


@dataclass
class World:
    """What a random sequence acts on: two packages sharing courses, three learners."""

    admin: Any
    t: datetime
    courses: list[Course]
    groups: list[CourseGroupVersion]
    packages: list[int]
    learners: list[int]
    log: list[str] = field(default_factory=list)


def _build_world(admin: Any) -> World:
    t = base_time()
    c = [make_course(name=f"C{i}") for i in range(6)]
    family = make_group(kind="family", name="family", items=[c[0], c[1]])
    series = make_group(kind="series", name="series", items=[c[2], c[3]])
    choice = make_group(kind="choice", name="choice", min_count=2, items=[(c[4], True), c[3], c[5]])
    nested = make_group(
        kind="choice", name="2 of 3 groups", min_count=2, items=[family, series, choice]
    )
    p1 = make_published_package(items=[family, c[2], (c[5], False)])
    p2 = make_published_package(items=[series, choice])
    p3 = make_published_package(items=[nested])
    return World(
        admin=admin,
        t=t,
        courses=c,
        groups=[family, series, choice, nested],
        packages=[p1.package_id, p2.package_id, p3.package_id],
        learners=make_learners(3, prefix="random"),
    )


def _active(w: World, package: int) -> PackageVersion:
    version = packaging_selectors.active_version(w.packages[package], timezone.now())
    assert version is not None
    return version


def _publish(w: World, package: int, change: int, target: int, policy: str) -> None:
    """Publish a new version of a package: the active one with one change."""
    active = _active(w, package)
    draft = packaging.create_draft_from(actor=w.admin, version_id=active.pk)
    try:
        items = list(draft.items.order_by("position"))
        if change == 0:  # add a course
            add_items(version=draft, items=[(w.courses[target % 6], target % 2 == 0)])
        elif change == 1:  # add a group
            add_items(version=draft, items=[w.groups[target % 4]])
        elif change == 2:  # remove an item
            item = items[target % len(items)]
            packaging.remove_item(actor=w.admin, version_id=draft.pk, item_id=item.pk)
        else:  # flip an item's required flag
            item = items[target % len(items)]
            packaging.set_item_required(
                actor=w.admin, version_id=draft.pk, item_id=item.pk, required=not item.required
            )
        packaging.publish_version(
            actor=w.admin,
            version_id=draft.pk,
            inflight_policy=policy,  # type: ignore[arg-type]
        )
    except DomainError:
        # A change that breaks the rules (a duplicate, no required item left) is refused;
        # drop the draft so the next publish can start a new one.
        packaging.discard_draft(actor=w.admin, version_id=draft.pk)
        raise


def _open_enrollment(w: World, learner: int, package: int) -> Enrollment | None:
    return Enrollment.objects.filter(
        learner_id=w.learners[learner], package_id=w.packages[package], withdrawn_at__isnull=True
    ).first()


def _apply(w: World, op: tuple[Any, ...]) -> None:
    kind, *args = op
    if kind == "enrol":
        learner, package = args
        learning.enroll(
            actor=w.admin, learner_id=w.learners[learner], package_id=w.packages[package]
        )
    elif kind == "bulk":
        package, who = args
        learning.bulk_enroll(
            actor=w.admin,
            package_id=w.packages[package],
            learner_ids=[w.learners[i] for i in who],
        )
    elif kind == "record":
        learner, course, event_kind, minutes = args
        learning.record_completion(
            actor=w.admin,
            learner_id=w.learners[learner],
            course_id=w.courses[course].pk,
            kind=event_kind,
            occurred_at=None if minutes is None else w.t + timedelta(minutes=minutes),
        )
    elif kind == "void":
        learner, pick = args
        events = list(
            CompletionEvent.objects.filter(learner_id=w.learners[learner])
            .exclude(kind="void")
            .filter(voided_by__isnull=True)
            .order_by("pk")
        )
        if events:
            target = events[pick % len(events)]
            learning.void_event(actor=w.admin, event_id=target.pk, reason="random void")
    elif kind == "withdraw":
        learner, package = args
        enrollment = _open_enrollment(w, learner, package)
        if enrollment is not None:
            learning.withdraw(actor=w.admin, enrollment_id=enrollment.pk)
    elif kind == "publish":
        package, change, target, policy = args
        _publish(w, package, change, target, policy)
    else:  # pragma: no cover
        raise AssertionError(kind)


LEARNER = st.integers(0, 2)
PACKAGE = st.integers(0, 2)
OPERATIONS = st.one_of(
    st.tuples(st.just("enrol"), LEARNER, PACKAGE),
    st.tuples(st.just("bulk"), PACKAGE, st.lists(LEARNER, max_size=4)),
    st.tuples(
        st.just("record"),
        LEARNER,
        st.integers(0, 5),
        st.sampled_from(["completed", "passed", "failed"]),
        st.one_of(st.none(), st.integers(0, 600)),
    ),
    st.tuples(st.just("void"), LEARNER, st.integers(0, 20)),
    st.tuples(st.just("withdraw"), LEARNER, PACKAGE),
    st.tuples(
        st.just("publish"),
        PACKAGE,
        st.integers(0, 3),
        st.integers(0, 11),
        st.sampled_from(["keep", "move_not_started", "move_in_progress"]),
    ),
)


@pytest.fixture
def world(admin: Any) -> World:
    """The world every example starts from: built once per test, and committed, so
    that its released versions' trees are cached as they would be in production."""
    return _build_world(admin)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=12))
def test_no_drift_after_any_sequence_of_operations(world: World, operations: list[Any]) -> None:
    """Enrol, bulk-enrol, record (late entries dated up to 30 days back included), void,
    withdraw and publish (with every in-flight policy) in any order: the stored
    statuses always equal the engine's verdict, as of now as known now, and equal
    what each learner's transcript says as of now (the full evaluation, with the
    version moves replayed)."""
    # Each example runs in its own transaction, rolled back at the end. (The tree
    # cache only learns versions whose publish committed, so SQLite handing out the
    # ids of rolled-back rows again does not confuse it.)
    with transaction.atomic():
        for op in operations:
            with contextlib.suppress(DomainError):  # refused: nothing changed
                _apply(world, op)
        # Checked once at the end (hypothesis shrinks a failure to the shortest
        # sequence, whose last operation is then the culprit).
        assert drift() == []
        now = timezone.now()
        for learner_id in world.learners:
            for row in transcript(learner_id, now).enrollments:
                cached = Enrollment.objects.get(pk=row.enrollment_id)
                assert (
                    cached.version_id,
                    cached.status,
                    cached.progress_done,
                    cached.progress_needed,
                    cached.completed_at,
                ) == (
                    row.version_id,
                    row.progress_status,
                    row.progress_done,
                    row.progress_needed,
                    row.completed_at,
                ), row.enrollment_id
        assert (
            Enrollment.objects.filter(withdrawn_at__isnull=True)
            .values("learner_id", "package_id")
            .distinct()
            .count()
            == Enrollment.objects.filter(withdrawn_at__isnull=True).count()
        )
        transaction.set_rollback(True)
