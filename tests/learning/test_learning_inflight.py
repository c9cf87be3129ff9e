"""In-flight learners at publish: the impact preview, then the chosen policy.

The preview counts, per policy, the enrollments it would move and how their
completion would change; publishing with that policy then moves exactly those,
keeps the credit of completions that still count, records each move on the
enrollment's history and in the audit log, and never moves a completed
enrollment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from learning_helpers import backdate, base_time, drift, record, stored

from coursepack.audit.models import AuditEvent
from coursepack.catalog.models import Course
from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.learning import selectors
from coursepack.learning.models import Enrollment, EnrollmentMove
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion, PublishRecord
from tests.factories import (
    add_items,
    make_course,
    make_group,
    make_learner,
    make_published_package,
    publish_new_version,
)

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@dataclass
class Setting:
    """v1 (A, B) active with enrollments in every state; v2 (family(A|D), C) drafted."""

    t: datetime
    v1: PackageVersion
    v2: PackageVersion
    a: Course
    b: Course
    c: Course
    d: Course
    enrollments: dict[str, Enrollment]


def _draft_replacing_items(v1: PackageVersion, items: list[Any]) -> PackageVersion:
    draft = packaging.create_draft_from(actor=None, version_id=v1.pk)
    for item in list(draft.items.all()):
        packaging.remove_item(actor=None, version_id=draft.pk, item_id=item.pk)
    add_items(version=draft, items=items)
    return draft


def _setting(admin: Any) -> Setting:
    t = base_time()
    a, b, c, d = (make_course(name=n) for n in "ABCD")
    v1 = make_published_package(items=[a, b])
    package_id = v1.package_id
    learners = {
        name: make_learner(username=name)
        for name in ("fresh", "fresh_gain", "gain", "lose_ground", "failed", "done", "gone")
    }
    # Completions before enrolment: D and C are not in v1, so "fresh_gain" has not started it.
    record(learners["fresh_gain"], d, t)
    record(learners["fresh_gain"], c, t + HOUR)
    # Enrolled an hour before t, so completions on v1 count from their own times.
    enrollments = {
        name: backdate(
            learning.enroll(actor=admin, learner_id=learner.pk, package_id=package_id),
            t - HOUR,
        )
        for name, learner in learners.items()
    }
    record(learners["gain"], a, t + 2 * HOUR)
    record(learners["gain"], c, t + 3 * HOUR)
    record(learners["lose_ground"], b, t)
    record(learners["failed"], a, t, kind="failed")
    record(learners["done"], a, t)
    record(learners["done"], b, t + HOUR)
    record(learners["gone"], a, t)
    learning.withdraw(actor=admin, enrollment_id=enrollments["gone"].pk)
    family = make_group(kind="family", name="A or D", items=[a, d])
    v2 = _draft_replacing_items(v1, [family, c])
    return Setting(t, v1, v2, a, b, c, d, enrollments)


def _state(setting: Setting) -> dict[str, tuple[int, str, int, int, datetime | None]]:
    out = {}
    for name, enrollment in setting.enrollments.items():
        status, done, needed, completed_at = stored(enrollment)
        out[name] = (enrollment.version_id, status, done, needed, completed_at)
    return out


MOVED_BY = {
    "keep": set(),
    "move_not_started": {"fresh", "fresh_gain"},
    "move_in_progress": {"fresh", "fresh_gain", "gain", "lose_ground", "failed"},
}


@pytest.mark.parametrize("policy", ["keep", "move_not_started", "move_in_progress"])
def test_publish_moves_exactly_what_the_preview_counted(admin: Any, policy: str) -> None:
    """The preview counts, per policy, the enrollments it would move and how their
    completion would change, and writes nothing; publishing with a policy then moves
    exactly the enrollments it counted for that policy.

    Keep moves nobody; "not started" moves the two fresh enrollments (one of which
    completes); "in progress" also moves the three started ones (one more completes,
    one ends further from completion). Nobody can lose a completion: completed
    enrollments are never moved.
    """
    # Given enrollments in every state on v1
    s = _setting(admin)
    assert [stored(s.enrollments[n])[0] for n in s.enrollments] == [
        "not_started",
        "not_started",
        "in_progress",
        "in_progress",
        "in_progress",
        "completed",
        "in_progress",
    ]
    before = _state(s)
    audit_count = AuditEvent.objects.count()

    # When the admin previews publishing v2
    preview = learning.preview_publish(version_id=s.v2.pk)

    # Then it counts what each policy would do, and changes nothing
    assert preview.current_version == s.v1
    assert preview.open_enrollments == 6
    assert preview.by_status == {"not_started": 2, "in_progress": 3, "completed": 1}
    assert [
        (p.policy, p.moves, p.gain_completion, p.lose_completion, p.further_from_completion)
        for p in preview.policies
    ] == [
        ("keep", 0, 0, 0, 0),
        ("move_not_started", 2, 1, 0, 0),
        ("move_in_progress", 5, 2, 0, 1),
    ]
    assert AuditEvent.objects.count() == audit_count
    assert _state(s) == before
    counted = {p.policy: p for p in preview.policies}[policy]

    # When v2 is published with the policy
    outcome = packaging.publish_version(
        actor=admin, version_id=s.v2.pk, change_notes="v2", inflight_policy=policy
    )

    # Then exactly the counted enrollments moved to v2
    after = _state(s)
    moved = {name for name in s.enrollments if after[name][0] == s.v2.pk}
    assert moved == MOVED_BY[policy]
    assert outcome.moved_enrollments == counted.moves == len(moved)
    assert PublishRecord.objects.get(version=s.v2, action="published").moved_enrollments == len(
        moved
    )
    # And the others are untouched, completed and withdrawn ones included
    for name in set(s.enrollments) - moved:
        assert after[name] == before[name], name
    gained = [n for n in moved if after[n][1] == "completed" and before[n][1] != "completed"]
    assert len(gained) == counted.gain_completion
    # And each move is on the enrollment's history
    s.v2.refresh_from_db()
    history = EnrollmentMove.objects.order_by("enrollment_id")
    assert {m.enrollment_id for m in history} == {s.enrollments[n].pk for n in moved}
    for move in history:
        assert (move.from_version_id, move.to_version_id, move.policy, move.actor) == (
            s.v1.pk,
            s.v2.pk,
            policy,
            admin,
        )
        assert move.moved_at == s.v2.published_at
    # And the log has one bulk move naming them, and the publish names the policy
    published = AuditEvent.objects.get(action="version.published", target_id=str(s.v2.pk))
    assert published.after is not None
    assert published.after["inflight_policy"] == policy
    assert published.after["moved_enrollments"] == len(moved)
    bulk = AuditEvent.objects.filter(action="enrollment.bulk_moved")
    if moved:
        event = bulk.get()
        assert event.after is not None
        assert sorted(event.after["enrollments"]) == sorted(s.enrollments[n].pk for n in moved)
        assert event.before == {"version": s.v1.pk}
        assert event.notes == f"in-flight policy {policy}"
    else:
        assert not bulk.exists()
    assert drift() == []


def test_moved_enrollments_keep_their_credit(admin: Any) -> None:
    """Completions that still count on the new version count there, but an enrollment is
    never complete on a version before it was on it: completed_at is the move."""
    s = _setting(admin)
    packaging.publish_version(actor=admin, version_id=s.v2.pk, inflight_policy="move_in_progress")
    after = _state(s)
    moved_at = s.enrollments["gain"].moves.get().moved_at
    assert s.enrollments["fresh_gain"].moves.get().moved_at == moved_at
    # D (in the family) at t and C at t+1h: satisfied before the move, complete at it
    assert after["fresh_gain"] == (s.v2.pk, "completed", 2, 2, moved_at)
    # A from v1 (t+2h) counts for the family; C at t+3h satisfies it, also before the move
    assert after["gain"] == (s.v2.pk, "completed", 2, 2, moved_at)
    progress = selectors.enrollment_progress(s.enrollments["gain"].pk)
    assert progress.root.satisfied_at == s.t + 3 * HOUR
    assert progress.satisfied_by_earlier_training
    # B is not in v2: nothing counts any more
    assert after["lose_ground"] == (s.v2.pk, "not_started", 0, 2, None)
    # A failed attempt still shows as started
    assert after["failed"] == (s.v2.pk, "in_progress", 0, 2, None)
    assert after["fresh"] == (s.v2.pk, "not_started", 0, 2, None)
    # Completed on v1: stays there, complete
    assert after["done"] == (s.v1.pk, "completed", 2, 2, s.t + HOUR)
    # And later events are evaluated against the new version
    record(s.enrollments["lose_ground"].learner, s.c, s.t + 4 * HOUR)
    assert stored(s.enrollments["lose_ground"]) == ("in_progress", 1, 2, None)
    assert drift() == []


def test_each_enrollment_keeps_the_history_of_its_versions(admin: Any, learner: Any) -> None:
    """Moved twice, an enrollment has two history rows, oldest first; the history is
    append-only in the database."""
    v1 = make_published_package()
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    add_items(version=v2, items=[make_course()])
    packaging.publish_version(actor=admin, version_id=v2.pk, inflight_policy="move_not_started")
    v3 = packaging.create_draft_from(actor=admin, version_id=v2.pk)
    add_items(version=v3, items=[make_course()])
    packaging.publish_version(actor=admin, version_id=v3.pk, inflight_policy="move_in_progress")

    enrollment.refresh_from_db()
    assert enrollment.version_id == v3.pk
    assert [(m.from_version_id, m.to_version_id, m.policy) for m in enrollment.moves.all()] == [
        (v1.pk, v2.pk, "move_not_started"),
        (v2.pk, v3.pk, "move_in_progress"),
    ]
    assert stored(enrollment) == ("not_started", 0, 3, None)
    move = enrollment.moves.first()
    assert move is not None
    for sql in (
        "UPDATE learning_enrollmentmove SET to_version_id = from_version_id WHERE id = %s",
        "DELETE FROM learning_enrollmentmove WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [move.pk])
    assert enrollment.moves.count() == 2


def test_only_enrollments_on_the_active_version_move(admin: Any, learner: Any) -> None:
    """Learners on an already archived version stay there: a publish concerns the
    version it replaces."""
    v1 = make_published_package()
    old = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    v2 = publish_new_version(from_version=v1)
    current = learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=v1.package_id)
    v3 = packaging.create_draft_from(actor=admin, version_id=v2.pk)
    preview = learning.preview_publish(version_id=v3.pk)
    assert {p.policy: p.moves for p in preview.policies}["move_in_progress"] == 1
    packaging.publish_version(actor=admin, version_id=v3.pk, inflight_policy="move_in_progress")
    old.refresh_from_db()
    current.refresh_from_db()
    assert (old.version_id, current.version_id) == (v1.pk, v3.pk)


def test_scheduled_publish_cannot_move_learners(admin: Any, learner: Any) -> None:
    """Nobody can be moved to a version not yet in effect; keeping them is allowed."""
    v1 = make_published_package()
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    later = timezone.now() + timedelta(days=7)
    for policy in ("move_not_started", "move_in_progress"):
        with pytest.raises(InvalidInput, match="not yet in effect"):
            packaging.publish_version(
                actor=admin, version_id=draft.pk, effective_at=later, inflight_policy=policy
            )
        draft.refresh_from_db()
        assert draft.status == "draft"
    outcome = packaging.publish_version(
        actor=admin, version_id=draft.pk, effective_at=later, inflight_policy="keep"
    )
    assert outcome.scheduled
    assert outcome.moved_enrollments == 0
    enrollment.refresh_from_db()
    assert enrollment.version_id == v1.pk
    assert not EnrollmentMove.objects.exists()


def test_unknown_policy_is_refused(admin: Any, learner: Any) -> None:
    v1 = make_published_package()
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    with pytest.raises(InvalidInput):
        packaging.publish_version(
            actor=admin,
            version_id=draft.pk,
            inflight_policy="move_everyone",  # type: ignore[arg-type]
        )
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_preview_of_a_first_version_moves_nobody(admin: Any) -> None:
    draft = packaging.create_package(actor=admin, name="New")
    add_items(version=draft, items=[make_course()])
    preview = learning.preview_publish(version_id=draft.pk)
    assert preview.current_version is None
    assert preview.open_enrollments == 0
    assert [(p.policy, p.moves) for p in preview.policies] == [
        ("keep", 0),
        ("move_not_started", 0),
        ("move_in_progress", 0),
    ]


def test_preview_does_not_count_an_item_turned_optional_as_further_from_completion(
    admin: Any,
) -> None:
    """A learner who did A of (A, B, C) has two courses left; in a draft where A is
    optional they still have two left (B, C), so moving them is not "further from
    completion", although their progress reads 1/3 before and 0/2 after."""
    # Given v1 (A, B, C, all required) and a learner who completed A
    t = base_time()
    a, b, c = (make_course(name=n) for n in "ABC")
    v1 = make_published_package(items=[a, b, c])
    learner = make_learner()
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    record(learner, a, t)
    assert stored(enrollment)[:3] == ("in_progress", 1, 3)
    # And a draft v2 where A is optional
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    first = v2.items.get(course=a)
    packaging.set_item_required(actor=admin, version_id=v2.pk, item_id=first.pk, required=False)

    # When the admin previews publishing v2
    preview = learning.preview_publish(version_id=v2.pk)

    # Then moving in-progress learners moves one, and nobody ends further from completion
    moving = {p.policy: p for p in preview.policies}["move_in_progress"]
    assert (moving.moves, moving.further_from_completion) == (1, 0)
