"""The compliance lifecycle end to end through the services: due dates, extensions,
exemptions, equivalences, certification periods and standing, as of any date.

The clock is Django's ``timezone.now`` set to a chosen moment (the ``clock`` fixture),
so "day 31" is a real moment at which the services run; no code of ours is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from learning_helpers import drift, record

from coursepack import rules
from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.http import serialize
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors, selectors
from coursepack.learning import transcript as transcripts
from coursepack.learning.errors import ItemNotInVersion, NotAllowedToExempt
from coursepack.learning.models import Enrollment, Equivalence, EquivalenceChange
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from tests.factories import make_course, make_draft_package, make_group, make_learner

pytestmark = pytest.mark.django_db

DAY0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


class Clock:
    """Django's clock, set by the test."""

    def __init__(self) -> None:
        self.now = DAY0

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    yield c


def published(items: list[Any], **lifecycle: Any) -> PackageVersion:
    """Return the active v1 of a new package with ``items`` and lifecycle rules."""
    draft = make_draft_package(items=items)
    if lifecycle:
        packaging.set_version_lifecycle(actor=None, version_id=draft.pk, **lifecycle)
    packaging.publish_version(actor=None, version_id=draft.pk, change_notes="Release.")
    draft.refresh_from_db()
    return draft


def state(enrollment: Enrollment, at: datetime, known_at: datetime | None = None) -> Any:
    return lifecycle_selectors.enrollment_lifecycle(enrollment, as_of=at, known_at=known_at)


def standing(enrollment: Enrollment, at: datetime, known_at: datetime | None = None) -> Any:
    result, _ = lifecycle_selectors.package_standing(
        enrollment.learner_id, enrollment.package_id, as_of=at, known_at=known_at
    )
    return result


def test_due_in_30_days_completed_on_day_31_is_late_and_overdue_between(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """Due on day 30; not overdue before, overdue between day 30 and the completion on
    day 31, completed late for ever after; the cache agrees."""
    # Given a package due 30 days after enrolment, and a learner enrolled on day 0
    course = make_course(name="Fire Safety")
    version = published([course], due_kind="after_enrolment", due_days=30)
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    assert enrollment.due_at == day(30)
    # When the learner completes on day 31
    clock.set(day(31))
    record(learner, course, day(31))
    # Then: before day 30 not overdue; between, overdue since day 30; after, completed late
    assert not state(enrollment, day(29)).state.overdue
    assert state(enrollment, day(30.5)).state.overdue_since == day(30)
    assert standing(enrollment, day(30.5)).standing == rules.Standing.OVERDUE
    after = state(enrollment, day(40))
    assert after.state.completed_late and not after.state.overdue
    assert standing(enrollment, day(40)).standing == rules.Standing.CURRENT
    enrollment.refresh_from_db()
    assert (enrollment.due_in_force, enrollment.overdue_since, enrollment.completed_late) == (
        day(30),
        None,
        True,
    )
    assert drift() == []


def test_an_extension_recorded_on_day_25_to_day_45_is_never_overdue(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """The due date in force at t is the latest extension recorded by t: as of day 20 the
    old date, from day 25 the new one; completing on day 40 is on time."""
    course = make_course()
    version = published([course], due_kind="after_enrolment", due_days=30)
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    # When an admin extends it on day 25 to day 45
    clock.set(day(25))
    (extension,) = learning.extend_due_date(
        actor=admin, enrollment_ids=[enrollment.pk], due_at=day(45), reason="Long leave"
    )
    clock.set(day(40))
    record(learner, course, day(40))
    # Then the old date was in force as of day 20 (as known now and as known then)
    assert state(enrollment, day(20)).state.due_at == day(30)
    assert state(enrollment, day(20), known_at=day(20)).state.due_at == day(30)
    # and from day 25 the new one: never overdue, not late
    for moment in (day(26), day(31), day(39)):
        assert not state(enrollment, moment).state.overdue, moment
        assert state(enrollment, moment).state.due_at == day(45)
    assert not state(enrollment, day(41)).state.completed_late
    # The extension is a new fact with who and why; the enrolment's date is unchanged
    enrollment.refresh_from_db()
    assert (enrollment.due_at, enrollment.due_in_force) == (day(30), day(45))
    assert extension.reason == "Long leave" and extension.recorded_by == admin
    assert AuditEvent.objects.filter(action="enrollment.due_extended").count() == 1
    assert drift() == []


def test_extensions_in_bulk_and_refusals(clock: Clock, admin: Any) -> None:
    """Many enrollments are extended at once, each with its own row; an earlier date or a
    missing reason is refused and nothing is written."""
    course = make_course()
    version = published([course], due_kind="after_enrolment", due_days=10)
    learners = [make_learner() for _ in range(3)]
    ids = [
        learning.enroll(actor=admin, learner_id=u.pk, package_id=version.package_id).pk
        for u in learners
    ]
    rows = learning.extend_due_date(actor=admin, enrollment_ids=ids, due_at=day(20), reason="Audit")
    assert len(rows) == 3
    with pytest.raises(InvalidInput):
        learning.extend_due_date(actor=admin, enrollment_ids=ids, due_at=day(15), reason="x")
    with pytest.raises(InvalidInput):
        learning.extend_due_date(actor=admin, enrollment_ids=ids, due_at=day(30), reason=" ")
    assert set(Enrollment.objects.values_list("due_in_force", flat=True)) == {day(20)}


def test_an_exemption_from_a_series_item_unlocks_the_next(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """Exempt from the first item of a series: it counts as satisfied from the exemption
    and says so; the second item is no longer locked."""
    first = make_course(name="Induction")
    second = make_course(name="Advanced Handling")
    series = make_group(kind="series", items=[first, second])
    version = published([series])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    before = selectors.enrollment_progress(enrollment.pk)
    assert before.node((0, 1)).state == rules.NodeState.LOCKED
    # When an admin exempts the learner from the first course on day 3
    clock.set(day(3))
    (exemption,) = learning.exempt(
        actor=admin,
        enrollment_ids=[enrollment.pk],
        course_id=first.pk,
        reason="tested_out",
        note="Passed the entry test",
    )
    # Then the second unlocks, and the first says why it is satisfied
    after = selectors.enrollment_progress(enrollment.pk)
    assert after.node((0, 0)).satisfied_at == day(3)
    assert after.node((0, 0)).explanation.startswith("Exempt — Tested Out, by ")
    assert after.node((0, 0)).explanation.endswith("on 2026-01-08.")
    assert after.node((0, 1)).state == rules.NodeState.NOT_STARTED
    assert [c.course_id for c in after.root.next_courses] == [second.pk]
    # As of day 2 it was still locked
    assert selectors.enrollment_progress(enrollment.pk, as_of=day(2)).node((0, 1)).state == (
        rules.NodeState.LOCKED
    )
    # Revoking on day 5 restores the previous answer from then on
    clock.set(day(5))
    learning.revoke_exemption(actor=admin, exemption_id=exemption.pk, reason="Entered in error")
    assert selectors.enrollment_progress(enrollment.pk).node((0, 1)).state == rules.NodeState.LOCKED
    assert selectors.enrollment_progress(enrollment.pk, as_of=day(4)).node((0, 0)).satisfied
    assert drift() == []


def test_whole_enrollment_exemption_and_who_may_exempt(
    clock: Clock, admin: Any, learner: Any, settings: Any
) -> None:
    """An exempt enrollment is complete and its standing is exempt; only the roles in
    COURSEPACK_EXEMPTING_ROLES may exempt; the item must be in the version."""
    course = make_course()
    version = published([course], due_kind="after_enrolment", due_days=5)
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    with pytest.raises(NotAllowedToExempt):
        learning.exempt(actor=learner, enrollment_ids=[enrollment.pk], reason="administrative")
    with pytest.raises(ItemNotInVersion):
        learning.exempt(
            actor=admin,
            enrollment_ids=[enrollment.pk],
            course_id=make_course().pk,
            reason="administrative",
        )
    settings.COURSEPACK_EXEMPTING_ROLES = ("auditor",)
    with pytest.raises(NotAllowedToExempt):
        learning.exempt(actor=admin, enrollment_ids=[enrollment.pk], reason="administrative")
    settings.COURSEPACK_EXEMPTING_ROLES = ("admin",)
    clock.set(day(2))
    learning.exempt(actor=admin, enrollment_ids=[enrollment.pk], reason="equivalent_au")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.completed_at) == ("completed", day(2))
    assert standing(enrollment, day(10)).standing == rules.Standing.EXEMPT
    assert standing(enrollment, day(1)).standing == rules.Standing.NOT_STARTED
    counts = lifecycle_selectors.standing_counts(version.package_id, now=day(10))
    assert counts["exempt"] == 1 and counts["overdue"] == 0
    assert drift() == []


def test_an_equivalence_started_after_a_completion_counts_only_retroactively(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """A completion of A before the equivalence A -> B started does not count for B; applied
    retroactively (after its impact is shown) it does, and the record says so."""
    a = make_course(name="External First Aid")
    b = make_course(name="First Aid")
    version = published([b])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    clock.set(day(1))
    record(learner, a, day(1))
    # When an equivalence A -> B is created on day 5
    clock.set(day(5))
    preview = learning.equivalence_impact(source_course_id=a.pk, target_course_id=b.pk)
    assert preview.would_complete == 0
    equivalence, impact = learning.create_equivalence(
        actor=admin, source_course_id=a.pk, target_course_id=b.pk, notes="Same syllabus"
    )
    assert impact.would_complete == 0
    # Then the earlier completion does not count
    enrollment.refresh_from_db()
    assert enrollment.status == "not_started"
    # When it is applied retroactively on day 6, after seeing its impact
    clock.set(day(6))
    retro = learning.equivalence_impact(
        source_course_id=a.pk, target_course_id=b.pk, retroactive=True
    )
    assert retro.would_complete == 1 and retro.would_complete_ids == [enrollment.pk]
    learning.apply_equivalence_retroactively(
        actor=admin, equivalence_id=equivalence.pk, notes="Approved"
    )
    # Then it counts from the completion's own moment, and the record says how
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.completed_at) == ("completed", day(1))
    progress = selectors.enrollment_progress(enrollment.pk)
    assert progress.equivalences_used[0].equivalence_id == equivalence.pk
    assert "through External First Aid (equivalence)" in progress.node((0,)).explanation
    assert EquivalenceChange.objects.get(equivalence=equivalence).kind == "retroactive"
    assert AuditEvent.objects.filter(action="equivalence.applied_retroactively").exists()
    # As known on day 5, it was not complete as of day 3; as known now, it was
    assert selectors.enrollment_progress(enrollment.pk, as_of=day(3), known_at=day(5)).status == (
        rules.EnrollmentStatus.NOT_STARTED
    )
    assert selectors.enrollment_progress(enrollment.pk, as_of=day(3)).status == (
        rules.EnrollmentStatus.COMPLETED
    )
    # A later completion of A after the start counts without retroaction (another learner)
    other = make_learner()
    other_enrollment = learning.enroll(
        actor=admin, learner_id=other.pk, package_id=version.package_id
    )
    record(other, a, day(6))
    other_enrollment.refresh_from_db()
    assert other_enrollment.status == "completed"
    assert Equivalence.objects.count() == 1
    assert drift() == []


def annual(items: list[Any]) -> PackageVersion:
    return published(
        items,
        due_kind="after_enrolment",
        due_days=30,
        valid_days=365,
        window_days=60,
        grace_days=30,
    )


def test_annual_recertification_over_three_periods_with_a_new_version_between(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """Periods 2 and 3 are new enrollments on the version active when their window opened,
    linked to the previous one; only events after the window count; period 1 is never
    rewritten."""
    a = make_course(name="Annual Safety")
    v1 = annual([a])
    first = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    clock.set(day(10))
    record(learner, a, day(10))
    first.refresh_from_db()
    assert first.expires_at == day(375)
    period1 = (first.version_id, first.completed_at, first.expires_at, first.due_at)
    # A new version (one more course) is published on day 100
    clock.set(day(100))
    b = make_course(name="Annual Safety Addendum")
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.add_item(actor=admin, version_id=draft.pk, course_id=b.pk)
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Addendum")
    # Standing without any job: current until the window opens on day 315, then due
    assert standing(first, day(300)).standing == rules.Standing.CURRENT
    assert standing(first, day(320)).standing == rules.Standing.DUE_FOR_RECERTIFICATION
    # The job runs on day 320: period 2 opens as of day 315, on version 2
    clock.set(day(320))
    assert learning.open_certification_periods(actor=None) == 1
    second = Enrollment.objects.get(previous_period=first)
    assert (second.version_id, second.period_number, second.enrolled_at) == (draft.pk, 2, day(315))
    assert (second.counts_from, second.due_at) == (day(315), day(375))
    # The old completion of A does not count for period 2; new ones do
    assert second.status == "not_started"
    clock.set(day(331))
    record(learner, a, day(330))
    record(learner, b, day(331))
    second.refresh_from_db()
    assert (second.status, second.completed_at, second.expires_at) == (
        "completed",
        day(331),
        day(696),
    )
    # Period 3 on the newer version too
    clock.set(day(640))
    assert learning.open_certification_periods(actor=None) == 1
    third = Enrollment.objects.get(previous_period=second)
    assert (third.version_id, third.period_number) == (draft.pk, 3)
    clock.set(day(650))
    record(learner, a, day(650))
    record(learner, b, day(650))
    # Period 1's record is unchanged
    first.refresh_from_db()
    assert (first.version_id, first.completed_at, first.expires_at, first.due_at) == period1
    assert standing(first, day(200)).period.enrollment_id == first.pk
    assert standing(first, day(500)).period.enrollment_id == second.pk
    assert standing(first, day(700)).standing == rules.Standing.CURRENT
    assert drift() == []


def test_an_expired_learner_between_two_periods(clock: Clock, admin: Any, learner: Any) -> None:
    """After expiry the learner is overdue for the grace period, then expired, until the
    next period is complete; derived at read time with or without the job."""
    a = make_course()
    v1 = annual([a])
    first = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    clock.set(day(10))
    record(learner, a, day(10))
    # Without the job: expires day 375, grace until day 405
    assert standing(first, day(380)).standing == rules.Standing.OVERDUE
    assert standing(first, day(410)).standing == rules.Standing.EXPIRED
    # With the job (day 400), and the next completion on day 420
    clock.set(day(400))
    learning.open_certification_periods(actor=None)
    clock.set(day(410))
    counts = lifecycle_selectors.standing_counts(v1.package_id, now=day(410))
    assert counts["expired"] == 1 and counts["current"] == 0
    result = standing(first, day(410))
    assert (result.standing, result.since) == (rules.Standing.EXPIRED, day(375))
    clock.set(day(420))
    record(learner, a, day(420))
    assert standing(first, day(410)).standing == rules.Standing.EXPIRED
    assert standing(first, day(425)).standing == rules.Standing.CURRENT
    assert drift() == []


def test_standing_counts_agree_with_the_engine(clock: Clock, admin: Any) -> None:
    """The per-package counts from the cache put every learner where the engine's
    standing does, at many moments."""
    a = make_course()
    version = annual([a])
    learners = [make_learner() for _ in range(6)]
    enrollments = [
        learning.enroll(actor=admin, learner_id=u.pk, package_id=version.package_id)
        for u in learners
    ]
    clock.set(day(5))
    record(learners[0], a, day(5))
    record(learners[1], a, day(5), kind="failed")
    clock.set(day(40))
    record(learners[2], a, day(40))
    learning.exempt(actor=admin, enrollment_ids=[enrollments[3].pk], reason="administrative")
    learning.extend_due_date(
        actor=admin, enrollment_ids=[enrollments[4].pk], due_at=day(60), reason="Leave"
    )
    for moment in (day(41), day(50), day(61), day(330), day(380), day(420)):
        clock.set(moment)
        if moment == day(330):
            learning.open_certification_periods(actor=None)
        counts = lifecycle_selectors.standing_counts(version.package_id, now=moment)
        expected: dict[str, int] = {}
        for enrollment in enrollments:
            result = standing(enrollment, moment)
            assert result is not None
            expected[str(result.standing)] = expected.get(str(result.standing), 0) + 1
        got = {k: v for k, v in counts.items() if v and k != "expiring"}
        assert got == expected, moment
    assert drift() == []


def test_the_transcript_shows_the_due_date_then_extensions_exemptions_equivalences_and_periods(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """As of day 20 the transcript shows the due date then in force (day 30) and no
    extension; as of day 30, the extension recorded on day 25; an exemption and an
    equivalence used are named; recertification periods each have their own row."""
    a = make_course(name="Manual Handling")
    b = make_course(name="Manual Handling (external)")
    c = make_course(name="Ladder Safety")
    version = published(
        [a, c], due_kind="after_enrolment", due_days=30, valid_days=365, window_days=60
    )
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    clock.set(day(25))
    learning.extend_due_date(
        actor=admin, enrollment_ids=[enrollment.pk], due_at=day(45), reason="Leave"
    )
    learning.create_equivalence(actor=admin, source_course_id=b.pk, target_course_id=a.pk)
    clock.set(day(26))
    record(learner, b, day(26))
    learning.exempt(
        actor=admin, enrollment_ids=[enrollment.pk], course_id=c.pk, reason="tested_out"
    )
    early = transcripts.transcript(learner.pk, day(20))
    (entry,) = early.enrollments
    assert entry.lifecycle is not None
    assert (entry.lifecycle.due_at, entry.lifecycle.extensions) == (day(30), ())
    later = transcripts.transcript(learner.pk, day(30))
    (entry,) = later.enrollments
    assert entry.lifecycle is not None
    assert entry.lifecycle.due_at == day(45)
    assert [x.reason for x in entry.lifecycle.extensions] == ["Leave"]
    assert [x.reason for x in entry.lifecycle.exemptions_used] == [rules.WaiverReason.TESTED_OUT]
    assert [q.source_course_id for q in entry.lifecycle.equivalences_used] == [b.pk]
    assert entry.completed_at == day(26)
    assert entry.lifecycle.expires_at == day(391)
    # Three periods: each is a row with its own period number and dates
    clock.set(day(340))
    learning.open_certification_periods(actor=None)
    clock.set(day(345))
    record(learner, a, day(345))
    record(learner, c, day(345))
    clock.set(day(700))
    learning.open_certification_periods(actor=None)
    final = transcripts.transcript(learner.pk, day(700))
    periods = [(e.lifecycle.period, e.completed_at) for e in final.enrollments if e.lifecycle]
    assert periods == [(1, day(26)), (2, day(345)), (3, None)]
    # The API carries the same
    body = serialize.transcript(later)
    assert body["enrollments"][0]["lifecycle"]["due_at"] == day(45)


def test_the_exceptions_of_a_package(clock: Clock, admin: Any, learner: Any) -> None:
    """Enrolled after a fixed due date, completed late, and exemptions in force are
    listed; a revoked exemption is not."""
    a = make_course()
    version = published([a], due_kind="fixed", due_fixed_at=day(10))
    clock.set(day(12))
    late = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    other = make_learner()
    exempted = learning.enroll(actor=admin, learner_id=other.pk, package_id=version.package_id)
    record(learner, a, day(12))
    (exemption,) = learning.exempt(
        actor=admin, enrollment_ids=[exempted.pk], reason="administrative"
    )
    found = lifecycle_selectors.package_exceptions(version.package_id)
    assert {e.pk for e in found.due_before_enrolment} == {late.pk, exempted.pk}
    assert [e.pk for e in found.completed_late] == [late.pk]
    assert [x.pk for x in found.exemptions] == [exemption.pk]
    clock.set(day(13))
    learning.revoke_exemption(actor=admin, exemption_id=exemption.pk, reason="Wrong person")
    assert list(lifecycle_selectors.package_exceptions(version.package_id).exemptions) == []


def test_a_waiver_valid_until_a_date_lapses_then_with_no_job(
    clock: Clock, admin: Any, learner: Any
) -> None:
    """A medical-leave waiver of the whole enrollment until day 20 (due day 5): exempt
    and complete before day 20; from day 20, as if never exempt — overdue since day 5 —
    with nothing run in between. The cache says until when it holds; the standing reads
    are right without settling; rebuild finds no drift, only a lapsed row, and settling
    it is audited. The transcript names the end."""
    a = make_course(name="Fire Safety")
    version = published([a], due_kind="after_enrolment", due_days=5)
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    clock.set(day(2))
    with pytest.raises(InvalidInput):
        learning.exempt(
            actor=admin, enrollment_ids=[enrollment.pk], reason="administrative", ends_at=day(1)
        )
    (waiver,) = learning.exempt(
        actor=admin,
        enrollment_ids=[enrollment.pk],
        reason="administrative",
        note="Medical leave",
        ends_at=day(20),
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exemption_lapses_at) == ("completed", day(20))
    assert standing(enrollment, day(19)).standing == rules.Standing.EXEMPT
    assert state(enrollment, day(19)).state.overdue_since is None
    assert lifecycle_selectors.standing_counts(version.package_id, now=day(19))["exempt"] == 1
    entry = transcripts.transcript(learner.pk, day(10)).enrollments[0]
    assert entry.lifecycle is not None
    (used,) = entry.lifecycle.exemptions_used
    assert used.ends_at == day(20) and used.describe().endswith("until 2026-01-25.")
    # Day 21: lapsed; nothing has run since day 2.
    clock.set(day(21))
    result = standing(enrollment, day(21))
    assert (result.standing, result.since) == (rules.Standing.OVERDUE, day(5))
    counts = lifecycle_selectors.standing_counts(version.package_id, now=day(21))
    assert (counts["exempt"], counts["overdue"]) == (0, 1)
    listed = lifecycle_selectors.standing_enrollments(version.package_id, "overdue", now=day(21))
    assert [e.pk for e in listed] == [enrollment.pk]
    assert not lifecycle_selectors.standing_enrollments(version.package_id, "exempt", now=day(21))
    assert list(lifecycle_selectors.package_exceptions(version.package_id).exemptions) == []
    report = learning.rebuild_statuses(actor=None, fix=False)
    assert (report.drifted, report.lapsed) == ([], [enrollment.pk])
    assert learning.settle_lapsed_exemptions(actor=None) == 1
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.overdue_since, enrollment.exemption_lapses_at) == (
        "not_started",
        day(5),
        None,
    )
    assert AuditEvent.objects.filter(
        action="enrollment.status_changed", notes="exemption lapsed"
    ).exists()
    assert learning.rebuild_statuses(actor=None, fix=False).lapsed == []
    # As of day 10 the record still says exempt (the past is not rewritten).
    assert standing(enrollment, day(10)).standing == rules.Standing.EXEMPT
    assert waiver.ends_at == day(20)
    assert drift() == []


def test_an_item_waiver_lapses_and_the_counts_follow_the_engine(clock: Clock, admin: Any) -> None:
    """Item waivers ending on different days (and one with no end): at every moment the
    standing counts and lists equal the engine's standings, settled or not."""
    a, b = make_course(), make_course()
    version = published([a, b], due_kind="after_enrolment", due_days=10)
    learners = [make_learner() for _ in range(4)]
    enrollments = [
        learning.enroll(actor=admin, learner_id=u.pk, package_id=version.package_id)
        for u in learners
    ]
    clock.set(day(1))
    for u in learners:
        record(u, a, day(1))
    learning.exempt(
        actor=admin,
        enrollment_ids=[enrollments[0].pk],
        course_id=b.pk,
        reason="tested_out",
        ends_at=day(8),
    )
    learning.exempt(
        actor=admin,
        enrollment_ids=[enrollments[1].pk],
        course_id=b.pk,
        reason="tested_out",
        ends_at=day(15),
    )
    learning.exempt(
        actor=admin, enrollment_ids=[enrollments[1].pk], reason="administrative", ends_at=day(4)
    )
    learning.exempt(
        actor=admin, enrollment_ids=[enrollments[2].pk], course_id=b.pk, reason="tested_out"
    )
    for moment in (day(2), day(5), day(9), day(12), day(16)):
        clock.set(moment)
        counts = lifecycle_selectors.standing_counts(version.package_id, now=moment)
        expected: dict[str, int] = {}
        for enrollment in enrollments:
            result = standing(enrollment, moment)
            assert result is not None
            expected[str(result.standing)] = expected.get(str(result.standing), 0) + 1
            listed = lifecycle_selectors.standing_enrollments(
                version.package_id, str(result.standing), now=moment
            )
            assert enrollment.pk in {e.pk for e in listed}, (moment, enrollment.pk)
        assert {k: v for k, v in counts.items() if v and k != "expiring"} == expected, moment
        assert drift() == []
        if moment == day(12):
            learning.settle_lapsed_exemptions(actor=None)
    enrollments[0].refresh_from_db()
    assert enrollments[0].status == "in_progress"


def _stored_statuses() -> dict[int, str]:
    """Return the stored status of every open enrollment (the impact is about them)."""
    return dict(Enrollment.objects.filter(withdrawn_at__isnull=True).values_list("pk", "status"))


@pytest.mark.parametrize(
    ("retroactive", "both_ways"), [(False, False), (True, False), (True, True), (False, True)]
)
def test_the_equivalence_impact_is_what_creating_it_changes(
    clock: Clock, admin: Any, retroactive: bool, both_ways: bool
) -> None:
    """The impact computed before creating an equivalence (nothing written) names exactly
    the enrollments that creating it then completes, retroactive or not, one way or
    both; so does the impact of applying it retroactively later."""
    a, b, c = make_course(), make_course(), make_course()
    needs_b = published([b])
    needs_a_and_c = published([a, c])
    people = [make_learner() for _ in range(6)]
    enrol = lambda u, v: learning.enroll(actor=admin, learner_id=u.pk, package_id=v.package_id)  # noqa: E731
    clock.set(day(1))
    record(people[0], a, day(1))  # counts for B only retroactively
    enrol(people[0], needs_b)
    record(people[1], b, day(1))  # counts for A (with C) only both ways, retroactively
    record(people[1], c, day(1))
    enrol(people[1], needs_a_and_c)
    enrol(people[2], needs_b)  # nothing done
    record(people[3], b, day(1))
    enrol(people[3], needs_b)  # complete already
    record(people[4], a, day(1))
    withdrawn = enrol(people[4], needs_b)
    learning.withdraw(actor=admin, enrollment_id=withdrawn.pk)  # closed: not counted
    record(people[5], b, day(1))  # A missing C: not complete even both ways
    enrol(people[5], needs_a_and_c)
    clock.set(day(5))
    before = _stored_statuses()
    impact = learning.equivalence_impact(
        source_course_id=a.pk, target_course_id=b.pk, both_ways=both_ways, retroactive=retroactive
    )
    assert _stored_statuses() == before  # nothing written
    equivalence, recorded = learning.create_equivalence(
        actor=admin,
        source_course_id=a.pk,
        target_course_id=b.pk,
        both_ways=both_ways,
        retroactive=retroactive,
    )
    after = _stored_statuses()
    completed = sorted(
        pk for pk, status in after.items() if status == "completed" and before[pk] != "completed"
    )
    assert impact.would_complete_ids == completed == recorded.would_complete_ids
    assert impact.would_complete == len(completed)
    assert impact.enrollments_checked == recorded.enrollments_checked
    expected = 0 if not retroactive else (2 if both_ways else 1)
    assert len(completed) == expected
    if not retroactive:
        clock.set(day(6))
        later = learning.equivalence_impact(equivalence_id=equivalence.pk)
        before = _stored_statuses()
        learning.apply_equivalence_retroactively(actor=admin, equivalence_id=equivalence.pk)
        after = _stored_statuses()
        applied = sorted(
            pk for pk, st in after.items() if st == "completed" and before[pk] != "completed"
        )
        assert later.would_complete_ids == applied and len(applied) == (2 if both_ways else 1)
    assert drift() == []


def test_a_versions_enrollments_are_the_open_periods_as_counted(clock: Clock, admin: Any) -> None:
    """The one read of a version's enrollments (package page and operations page) lists
    the open periods, by learner name — not a period superseded by the next, nor a
    withdrawn one — and the withdrawn ones on their own; as the counts count them."""
    a = make_course()
    version = annual([a])
    zoe, amy, bob = (make_learner(username=n) for n in ("zoe", "amy", "bob"))
    first = learning.enroll(actor=admin, learner_id=zoe.pk, package_id=version.package_id)
    learning.enroll(actor=admin, learner_id=amy.pk, package_id=version.package_id)
    gone = learning.enroll(actor=admin, learner_id=bob.pk, package_id=version.package_id)
    learning.withdraw(actor=admin, enrollment_id=gone.pk)
    clock.set(day(5))
    record(zoe, a, day(5))
    clock.set(day(320))
    assert learning.open_certification_periods(actor=None) == 1
    first.refresh_from_db()
    listed = selectors.version_enrollments(version.pk)
    assert [(e.learner.username, e.period_number) for e in listed] == [("amy", 1), ("zoe", 2)]
    assert first.pk not in {e.pk for e in listed}
    assert [e.pk for e in selectors.version_enrollments(version.pk, status="withdrawn")] == [
        gone.pk
    ]
    assert [
        e.learner.username
        for e in selectors.version_enrollments(
            version.pk, status="not_started", package_id=version.package_id
        )
    ] == ["amy", "zoe"]
    counts = selectors.enrollment_counts([version.pk])
    assert sum(counts.values()) == listed.count()


def test_a_timeline_report_reads_what_the_transcripts_show_through_a_lifecycle(
    clock: Clock, admin: Any
) -> None:
    """A report on a timeline works each enrollment out with the status rule, from the
    facts the transcript's whole evaluation reads. Through a history with an equivalence
    (begun, made retroactive, ended), a course waiver that lapses, a waiver of the whole
    package revoked, a void, a late entry, a withdrawal, a move onto a new version and
    second certification periods, its answers as of each moment, as known now, then, or at two moments
    between, are the transcripts' rows: for each package and for all, in batches of one
    or two enrollments too."""
    a, b, c, d = (make_course(name=name) for name in ("A", "A (external)", "C", "D"))
    annual_version = annual([a, c])
    other = published([a, d])
    learners = [make_learner() for _ in range(4)]
    first, second, third, fourth = learners
    on_annual = [
        learning.enroll(actor=admin, learner_id=u.pk, package_id=annual_version.package_id)
        for u in learners
    ]
    on_other = [
        learning.enroll(actor=admin, learner_id=u.pk, package_id=other.package_id)
        for u in (first, second)
    ]
    clock.set(day(5))
    record(first, a, day(5))
    record(first, c, day(5))
    record(second, b, day(4))
    clock.set(day(10))
    equivalence, _ = learning.create_equivalence(
        actor=admin, source_course_id=b.pk, target_course_id=a.pk
    )
    clock.set(day(12))
    record(second, c, day(12))
    clock.set(day(15))
    learning.exempt(
        actor=admin,
        enrollment_ids=[on_annual[2].pk],
        course_id=c.pk,
        reason="administrative",
        ends_at=day(100),
    )
    clock.set(day(16))
    record(third, a, day(16))
    clock.set(day(20))
    (waiver,) = learning.exempt(
        actor=admin, enrollment_ids=[on_annual[3].pk], reason="administrative"
    )
    clock.set(day(40))
    learning.apply_equivalence_retroactively(actor=admin, equivalence_id=equivalence.pk)
    clock.set(day(50))
    learning.revoke_exemption(actor=admin, exemption_id=waiver.pk, reason="Granted in error.")
    clock.set(day(60))
    learning.end_equivalence(actor=admin, equivalence_id=equivalence.pk)
    clock.set(day(70))
    record(fourth, b, day(70))
    record(fourth, c, day(70))
    wrong = record(first, d, day(70))
    clock.set(day(75))
    learning.exempt(
        actor=admin,
        enrollment_ids=[on_annual[3].pk],
        course_id=a.pk,
        reason="administrative",
        ends_at=day(395),  # after its period closes (day 380): it keeps what it had then
    )
    clock.set(day(80))
    learning.void_event(actor=admin, event_id=wrong.event.pk, reason="Wrong learner.")
    clock.set(day(150))
    record(third, c, day(90))  # entered late
    clock.set(day(200))
    learning.withdraw(actor=admin, enrollment_id=on_other[1].pk)
    clock.set(day(250))
    record(second, d, day(250))  # after the withdrawal: counts for the open enrollment only
    clock.set(day(260))
    # A version without D: the first learner, in progress, moves onto it and is complete
    # from the move (A was done long before)
    draft = packaging.create_draft_from(actor=admin, version_id=other.pk)
    (without_d,) = draft.items.filter(course=d)
    packaging.remove_item(actor=admin, version_id=draft.pk, item_id=without_d.pk)
    packaging.publish_version(
        actor=admin, version_id=draft.pk, change_notes="No D.", inflight_policy="move_in_progress"
    )
    clock.set(day(390))
    learning.open_certification_periods(actor=None)
    clock.set(day(392))
    record(first, a, day(330))
    record(first, c, day(300))  # before the second period's window: counts for nothing
    clock.set(day(420))
    days = (0, 4, 5, 10, 12, 15, 16, 20, 40, 50, 60, 70, 75, 80, 90, 100, 150, 200)
    days += (250, 260, 300, 310, 330, 380, 390, 392, 395, 400, 420)
    moments = [moment for n in days for moment in (day(n), day(n) - timedelta(seconds=1))]
    packages = (None, annual_version.package_id, other.package_id)
    for as_of in moments:
        for known_at in sorted({clock.now, as_of, day(45), day(391)}):
            rows = [
                (
                    u.pk,
                    e.package_id,
                    (
                        e.version_id,
                        e.enrolled_at,
                        e.withdrawn_at,
                        e.progress_status,
                        e.completed_at,
                    ),
                )
                for u in sorted(learners, key=lambda u: u.pk)
                for e in transcripts.transcript(u.pk, as_of, known_at=known_at).enrollments
            ]
            for package_id in packages:
                answers = transcripts.timeline_answers(
                    as_of=as_of, known_at=known_at, package_id=package_id
                )
                assert [(learner, tuple(answer)) for learner, answer in answers] == [
                    (learner, row)
                    for learner, package, row in rows
                    if package_id in (None, package)
                ], (as_of, known_at, package_id)
            for size in (1, 2):
                batched = transcripts.timeline_answers(
                    as_of=as_of, known_at=known_at, enrollments_per_batch=size
                )
                assert [(learner, tuple(answer)) for learner, answer in batched] == [
                    (learner, row) for learner, _, row in rows
                ]
    # ... and the history held what it was meant to: second periods, a withdrawal, a move
    assert on_other[0].moves.get().moved_at == day(260)
    assert Enrollment.objects.filter(previous_period__in=[on_annual[0], on_annual[3]]).count() == 2
    assert Enrollment.objects.filter(withdrawn_at=day(200)).count() == 1
    # The fourth learner's first period closed (day 380) while its waiver of A held: as of
    # day 400, after the waiver's end, the transcript keeps it complete from day 75
    period = next(
        e
        for e in transcripts.transcript(fourth.pk, day(400)).enrollments
        if e.enrollment_id == on_annual[3].pk
    )
    assert (period.progress_status, period.completed_at) == ("completed", day(75))
