"""Property: the transcript as of t, as known at r, is a replay of only what had
happened by t among the facts recorded by r.

Random histories go through the real services — enrol, record completed /
passed / failed events that occurred in the past (late entries), void, publish
new versions with each in-flight policy, withdraw — on a clock that moves
forward by hours or days between steps. The test keeps its own account of what
happened and when it was recorded; for many moments t (before the first
enrolment, at and just before every step and every event, after the voids),
as known now and as known at t, the transcript must equal the replay: the
version each enrollment was on (from the test's own account of the moves), and
the engine over only the events recorded by r, less those voided by a void
recorded by r, that occurred by t (by the withdrawal, if that came first), with
nothing cut by the engine's as_of or known_at; completed_at never before the
enrollment got onto its version. Reports on the same timeline agree with the
transcripts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records_helpers import frozen_clock

from coursepack import rules
from coursepack.learning import api as learning
from coursepack.learning.api import POLICY_MOVES
from coursepack.learning.selectors import to_rule_event
from coursepack.learning.transcript import TranscriptStatus, transcript
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.reports.scope import answers_kept, kept_course_events
from coursepack.reports.selectors import (
    ReportFilters,
    completions_over_time,
    course_page,
    learner_count,
    learner_rows,
    package_report,
    package_report_page,
)
from tests.factories import make_admin, make_course, make_group, make_learner

pytestmark = pytest.mark.django_db

EPSILON = timedelta(microseconds=1)
LEARNERS = 2
PACKAGES = 2

learner_index = st.integers(0, LEARNERS - 1)
package_index = st.integers(0, PACKAGES - 1)
pick = st.integers(0, 50)

enrol = st.tuples(st.just("enrol"), learner_index, package_index)
record = st.tuples(
    st.just("record"),
    learner_index,
    st.integers(0, 4),
    st.sampled_from(["completed", "completed", "passed", "failed"]),
    # how long before "now" the event occurred, in hours (up to 40 days)
    st.integers(0, 40 * 24),
)
publish = st.tuples(
    st.just("publish"),
    package_index,
    st.integers(0, 2),
    # moving learners is what makes "the version at t" interesting
    st.sampled_from([*POLICY_MOVES, "move_not_started", "move_in_progress"]),
)
steps = st.one_of(
    enrol,
    record,
    record,
    st.tuples(st.just("void"), pick),
    st.tuples(st.just("void"), pick),
    publish,
    publish,
    st.tuples(st.just("withdraw"), pick),
)
# A few enrolments first (so that publishes have learners to move), then anything;
# each step comes after a pause of 1 hour to 5 days.
histories = st.tuples(
    st.lists(st.tuples(st.integers(1, 48), enrol), min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(1, 120), steps), min_size=2, max_size=10),
).map(lambda parts: parts[0] + parts[1])


@dataclass
class Enrolled:
    """The test's own account of one enrollment."""

    id: int
    learner: int
    package: int
    enrolled_at: datetime
    # (from when, version id), oldest first
    versions: list[tuple[datetime, int]]
    withdrawn_at: datetime | None = None

    def version_at(self, t: datetime) -> int:
        return [v for at, v in self.versions if at <= t][-1]

    def on_version_since(self, t: datetime) -> datetime:
        return [at for at, _ in self.versions if at <= t][-1]


@dataclass
class Happened:
    """The test's own account of one event (a void too)."""

    id: int
    learner: int
    course: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    voids: int | None = None
    voided_at: datetime | None = None

    def rule_event(self) -> rules.LearnerEvent:
        return to_rule_event(
            self.id, self.course, self.kind, self.occurred_at, self.voids, self.recorded_at
        )


@dataclass(frozen=True)
class Setting:
    """What every history starts from, made once per test run of the property."""

    start: datetime
    admin: Any
    learners: list[int]
    packages: list[int]
    courses: list[int]
    # Courses a publish may add to each package (not inside its groups).
    addable: list[list[int]]
    # The v1 of each package.
    first_versions: dict[int, int]


@dataclass
class World:
    """Everything one history did, with times."""

    setting: Setting
    active: dict[int, int]
    enrollments: list[Enrolled] = field(default_factory=list)
    events: list[Happened] = field(default_factory=list)
    moments: list[datetime] = field(default_factory=list)
    trees: dict[int, rules.RequirementTree] = field(default_factory=dict)

    @property
    def admin(self) -> Any:
        return self.setting.admin

    @property
    def learners(self) -> list[int]:
        return self.setting.learners

    @property
    def packages(self) -> list[int]:
        return self.setting.packages

    @property
    def courses(self) -> list[int]:
        return self.setting.courses

    def tree(self, version_id: int) -> rules.RequirementTree:
        if version_id not in self.trees:
            tree = packaging_selectors.requirement_tree(version_id)
            self.trees[version_id] = tree
            # Released trees are cached once committed; nothing commits here (each
            # example rolls back), so cache them by hand to keep the example fast.
            # The cache is emptied at the start of every example.
            packaging_selectors._remember(version_id, tree)
        return self.trees[version_id]


@pytest.fixture
def setting(db: None) -> Setting:
    """A catalog, two published packages with groups, two learners: shared by every
    example of the property (each example rolls back what it does)."""
    with frozen_clock() as clock:
        return _setup(clock.now())


def _setup(start: datetime) -> Setting:
    admin = make_admin()
    learners = [make_learner().pk for _ in range(LEARNERS)]
    c = [make_course(actor=admin) for _ in range(5)]
    family = make_group(actor=admin, kind="family", items=[c[1], c[2]])
    series = make_group(actor=admin, kind="series", items=[c[3], c[4]])
    contents = [[(c[0], True), (family, True)], [(c[2], True), (series, True)]]
    packages, active = [], {}
    for items in contents:
        draft = packaging.create_package(actor=admin, name=f"Package {len(packages)}")
        for thing, required in items:
            if thing in c:
                packaging.add_item(
                    actor=admin, version_id=draft.pk, course_id=thing.pk, required=required
                )
            else:
                packaging.add_item(
                    actor=admin, version_id=draft.pk, group_id=thing.group_id, required=required
                )
        packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v1")
        packages.append(draft.package_id)
        active[draft.package_id] = draft.pk
    return Setting(
        start=start,
        admin=admin,
        learners=learners,
        packages=packages,
        courses=[x.pk for x in c],
        addable=[[c[0].pk, c[3].pk, c[4].pk], [c[0].pk, c[1].pk]],
        first_versions=active,
    )


def _change_draft(world: World, package_index: int, draft_id: int, change: int) -> None:
    """Change a fresh draft a little: toggle a required flag, add or remove an item."""
    admin = world.admin
    items = list(packaging_selectors.get_version(draft_id).items.order_by("position"))
    required = [i for i in items if i.required]

    def toggle() -> None:
        first = items[0]
        if first.required and len(required) == 1:
            return  # it would leave nothing required; publish the copy unchanged
        packaging.set_item_required(
            actor=admin, version_id=draft_id, item_id=first.pk, required=not first.required
        )

    if change == 0:
        toggle()
    elif change == 1:
        present = {i.course_id for i in items}
        missing = [x for x in world.setting.addable[package_index] if x not in present]
        if missing:
            packaging.add_item(actor=admin, version_id=draft_id, course_id=missing[0])
        else:
            toggle()
    else:
        last = items[-1]
        if len(items) > 1 and (not last.required or len(required) > 1):
            packaging.remove_item(actor=admin, version_id=draft_id, item_id=last.pk)
        else:
            toggle()


def _replay(
    world: World, enrolled: Enrolled, version_id: int, until: datetime, known_at: datetime
) -> rules.Evaluation:
    """Evaluate a version's tree over only the learner's events recorded by ``known_at``,
    less those voided by a void recorded by then, that occurred by ``until``."""
    tree = world.tree(version_id)
    known = [e for e in world.events if e.learner == enrolled.learner and e.recorded_at <= known_at]
    voided = {e.voids for e in known if e.kind == "void"}
    happened = [
        e.rule_event()
        for e in known
        if e.kind != "void" and e.id not in voided and e.occurred_at <= until
    ]
    return rules.evaluate(tree, happened)


def _completed_at(evaluation: rules.Evaluation, since: datetime) -> datetime | None:
    """Return when the enrollment was complete: never before it was on its version."""
    satisfied = evaluation.root.satisfied_at
    if satisfied is None or evaluation.status != "completed":
        return None
    return max(satisfied, since)


def _do(world: World, now: datetime, step: tuple[Any, ...]) -> bool:
    """Take one step through the services; return False if it had nothing to act on."""
    admin = world.admin
    kind = step[0]
    if kind == "enrol":
        learner, package = world.learners[step[1]], world.packages[step[2]]
        if any(
            e.learner == learner and e.package == package and e.withdrawn_at is None
            for e in world.enrollments
        ):
            return False
        enrollment = learning.enroll(actor=admin, learner_id=learner, package_id=package)
        assert enrollment.version_id == world.active[package]
        world.enrollments.append(
            Enrolled(enrollment.pk, learner, package, now, [(now, enrollment.version_id)])
        )
    elif kind == "record":
        learner, course = world.learners[step[1]], world.courses[step[2]]
        occurred_at = now - timedelta(hours=step[4])
        result = learning.record_completion(
            actor=admin, learner_id=learner, course_id=course, kind=step[3], occurred_at=occurred_at
        )
        world.events.append(Happened(result.event.pk, learner, course, step[3], occurred_at, now))
        world.moments.append(occurred_at)
    elif kind == "void":
        open_events = [e for e in world.events if e.kind != "void" and e.voided_at is None]
        if not open_events:
            return False
        target = open_events[step[1] % len(open_events)]
        result = learning.void_event(actor=admin, event_id=target.id, reason="Wrong learner.")
        target.voided_at = now
        world.events.append(
            Happened(result.event.pk, target.learner, target.course, "void", now, now, target.id)
        )
    elif kind == "publish":
        package = world.packages[step[1]]
        previous = world.active[package]
        draft = packaging.create_draft_from(actor=admin, version_id=previous)
        _change_draft(world, step[1], draft.pk, step[2])
        # Which open enrollments on the active version the policy moves, by their
        # status now: worked out by the test, not read back from the database.
        moving = [
            e
            for e in world.enrollments
            if e.package == package
            and e.withdrawn_at is None
            and e.version_at(now) == previous
            and str(_replay(world, e, previous, now, now).status) in POLICY_MOVES[step[3]]
        ]
        outcome = packaging.publish_version(
            actor=admin, version_id=draft.pk, change_notes="next", inflight_policy=step[3]
        )
        assert outcome.moved_enrollments == len(moving)
        world.active[package] = draft.pk
        for e in moving:
            e.versions.append((now, draft.pk))
    elif kind == "withdraw":
        open_ones = [e for e in world.enrollments if e.withdrawn_at is None]
        if not open_ones:
            return False
        chosen = open_ones[step[1] % len(open_ones)]
        learning.withdraw(actor=admin, enrollment_id=chosen.id)
        chosen.withdrawn_at = now
    return True


def _expected(world: World, learner: int, t: datetime, r: datetime) -> tuple[list[Any], list[Any]]:
    # Enrolments, moves and withdrawals are on record when they happen.
    cutoff = min(t, r)
    enrollments = []
    for e in sorted(world.enrollments, key=lambda e: (e.enrolled_at, e.id)):
        if e.learner != learner or e.enrolled_at > cutoff:
            continue
        version = e.version_at(cutoff)
        withdrawn = e.withdrawn_at is not None and e.withdrawn_at <= cutoff
        evaluation = _replay(world, e, version, e.withdrawn_at if withdrawn else t, r)
        enrollments.append(
            (
                e.id,
                version,
                TranscriptStatus.WITHDRAWN if withdrawn else TranscriptStatus(evaluation.status),
                evaluation.status,
                _completed_at(evaluation, e.on_version_since(cutoff)),
                (evaluation.root.done, evaluation.root.needed),
                tuple(evaluation.why_not_complete()),
                e.withdrawn_at if withdrawn else None,
            )
        )
    events = []
    for h in sorted(world.events, key=lambda h: (h.occurred_at, h.id)):
        if h.learner != learner or h.occurred_at > t or h.recorded_at > r:
            continue
        voided = h.voided_at is not None and h.voided_at <= r
        later = h.voided_at is not None and h.voided_at > r
        counted = h.kind in ("completed", "passed") and not voided
        events.append((h.id, h.kind, h.occurred_at, voided, later, counted, h.recorded_at > t))
    return enrollments, events


def _actual(learner: int, t: datetime, r: datetime) -> tuple[list[Any], list[Any]]:
    got = transcript(learner, t, known_at=r)
    enrollments = [
        (
            e.enrollment_id,
            e.version_id,
            e.status,
            e.progress_status,
            e.completed_at,
            (e.progress_done, e.progress_needed),
            e.why_not_complete,
            e.withdrawn_at,
        )
        for e in got.enrollments
    ]
    events = [
        (e.event_id, e.kind, e.occurred_at, e.voided, e.voided_later, e.counted, e.recorded_later)
        for e in got.events
    ]
    return enrollments, events


def _moments(world: World) -> list[datetime]:
    """Moments worth asking about: before everything, at and just before every step and
    event, and after the last step."""
    wanted = {min(world.moments) - timedelta(days=60), max(world.moments) + timedelta(days=1)}
    for m in world.moments:
        wanted |= {m, m - EPSILON}
    for h in world.events:
        wanted |= {h.occurred_at, h.occurred_at - EPSILON}
    return sorted(wanted)


def _live(world: World, setting: Setting, history: list[tuple[int, tuple[Any, ...]]]) -> Any:
    """Play ``history`` through the services on the hand-moved clock; return the clock."""
    with frozen_clock(setting.start) as clock:
        for pause, step in history:
            now = clock.advance(timedelta(hours=pause))
            if _do(world, now, step):
                world.moments.append(now)
        clock.advance(timedelta(hours=1))
        return clock.now()


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories)
def test_transcript_as_of_t_as_known_at_r_is_a_replay_of_the_facts_recorded_by_r(
    setting: Setting, history: list[tuple[int, tuple[Any, ...]]]
) -> None:
    """For every moment t, as known now, at t and at an earlier or later moment, each
    enrollment on record shows
    the version it was on and the engine's verdict over only the events recorded by r,
    less those voided by then, that occurred by t (or by its withdrawal); each such
    event says whether it counted, was voided (as known at r) or was voided later, and
    whether it was recorded after t."""
    packaging_selectors.clear_caches()
    with transaction.atomic():
        # Given a catalog, two packages with groups and two learners
        world = World(setting, active=dict(setting.first_versions), moments=[setting.start])
        # When a random history happens, step by step over days
        end = _live(world, setting, history)
        # Then at every moment worth asking about, on both timelines, the transcript is
        # the replay
        with frozen_clock(end):
            moments = _moments(world)
            # As known now, as known at the moment itself, and as known at one moment
            # in the middle of the history (before many of the moments asked about).
            middle = moments[len(moments) // 2]
            for t in moments:
                for learner in world.learners:
                    for r in (end, t, middle):
                        assert _actual(learner, t, r) == _expected(world, learner, t, r), (t, r)
        transaction.set_rollback(True)


def _counts_from_transcripts(
    world: World,
    t: datetime,
    r: datetime,
    start: datetime,
    end: datetime,
    package_id: int | None = None,
) -> dict[int, tuple[int, ...]]:
    """Count, per version (of ``package_id``, if one), what the learners' transcripts for
    (t, r) say, as the package report defines its columns over the range [start, end)."""
    found: dict[int, list[int]] = {}
    for learner in world.learners:
        for e in transcript(learner, t, known_at=r).enrollments:
            if package_id not in (None, e.package_id):
                continue
            row = found.setdefault(e.version_id, [0] * 6)
            enrolled_in_range = start <= e.enrolled_at < end
            if e.withdrawn_at is None:
                if enrolled_in_range:
                    row[0] += 1
                    row[2 + ["not_started", "in_progress", "completed"].index(e.status)] += 1
                if e.completed_at is not None and start <= e.completed_at < end:
                    row[5] += 1
            elif enrolled_in_range:
                row[1] += 1
    return {v: tuple(row) for v, row in found.items() if any(row)}


def _learners_from_transcripts(
    world: World, now: datetime, filters: ReportFilters, known_at: datetime | None = None
) -> dict[int, tuple[Any, ...]]:
    """Count, per learner, what their transcript as of ``now`` (as known at ``known_at``,
    by default then too) says, as the learners table defines its columns: the
    enrollments begun in the range (in the package, if one)."""
    found: dict[int, tuple[Any, ...]] = {}
    for learner in world.learners:
        entries = [
            e
            for e in transcript(learner, now, known_at=known_at or now).enrollments
            if (filters.start is None or filters.start <= e.enrolled_at)
            and (filters.end is None or e.enrolled_at < filters.end)
            and filters.package_id in (None, e.package_id)
        ]
        if not entries:
            continue
        open_ones = [e for e in entries if e.withdrawn_at is None]
        statuses = [str(e.progress_status) for e in open_ones]
        found[learner] = (
            len(open_ones),
            len(entries) - len(open_ones),
            *(statuses.count(s) for s in ("not_started", "in_progress", "completed")),
            max((e.completed_at for e in open_ones if e.completed_at), default=None),
        )
    return found


def _learner_report(filters: ReportFilters) -> dict[int, tuple[Any, ...]]:
    rows = {
        r.learner_id: (
            r.enrollments,
            r.withdrawn,
            r.not_started,
            r.in_progress,
            r.completed,
            r.last_completed_at,
        )
        for r in learner_rows(filters)
    }
    assert learner_count(filters) == len(rows)
    return rows


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)


def _report_counts(filters: Any) -> dict[int, tuple[int, ...]]:
    found = {}
    for package in package_report(filters):
        for v in package.versions:
            c = v.counts
            row = (c.enrolled, c.withdrawn, c.not_started, c.in_progress, c.completed)
            row += (c.completed_in_range,)
            if any(row):
                found[v.version_id] = row
    return found


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, data=st.data())
def test_reports_agree_with_transcripts_on_the_same_timeline(
    setting: Setting, history: list[tuple[int, tuple[Any, ...]]], data: st.DataObject
) -> None:
    """Over random histories with late entries, voids, moves and withdrawals, the package
    report as of t, as known at r (now, or t itself), counts exactly what the learners'
    transcripts for the same two times show, "completed in range" included; and the
    stored-status report (as of now, as known now) equals the transcripts as of now,
    over whole days from the summary rows too; so does the learners table (all
    learners from the per-learner summary rows, a package's, a range's), page by
    page."""
    packaging_selectors.clear_caches()
    with transaction.atomic():
        world = World(setting, active=dict(setting.first_versions), moments=[setting.start])
        end = _live(world, setting, history)
        moments = _moments(world)
        with frozen_clock(end):
            for _ in range(3):
                t = data.draw(st.sampled_from(moments))
                start, stop = sorted(
                    data.draw(st.lists(st.sampled_from(moments), min_size=2, max_size=2))
                )
                stop += timedelta(hours=1)
                for r in (end, t, data.draw(st.sampled_from(moments))):
                    filters = ReportFilters(start=start, end=stop, as_of=t, known_at=r)
                    assert _report_counts(filters) == _counts_from_transcripts(
                        world, t, r, start, stop
                    ), (t, r)
                    # One package's: worked out from its versions' courses' events only.
                    for package_id in setting.packages:
                        chosen = replace(filters, package_id=package_id)
                        assert _report_counts(chosen) == _counts_from_transcripts(
                            world, t, r, start, stop, package_id=package_id
                        ), (t, r, package_id)
                        assert _learner_report(chosen) == _learners_from_transcripts(
                            world, t, chosen, known_at=r
                        ), (t, r, package_id)
                    # One package's course table: counted from the events read again,
                    # and from those the answers' batches read (a report page's).
                    chosen = replace(
                        filters, package_id=data.draw(st.sampled_from(setting.packages))
                    )
                    read_again = course_page(chosen, offset=0, limit=100).rows
                    with answers_kept():
                        package_report_page(chosen, offset=0, limit=10)
                        assert kept_course_events(chosen) is not None
                        from_batches = course_page(chosen, offset=0, limit=100).rows
                    assert from_batches == read_again, (t, r, chosen.package_id)
            cached = ReportFilters(
                start=setting.start - timedelta(days=90), end=end + timedelta(days=1)
            )
            assert _report_counts(cached) == _counts_from_transcripts(
                world, end, end, cached.start, cached.end
            )
            # Whole UTC days: the counts come from the summary rows (ADR 0027), and the
            # chart's periods add up to "completed in range".
            for _ in range(3):
                first, last = sorted(
                    _midnight(m)
                    for m in data.draw(st.lists(st.sampled_from(moments), min_size=2, max_size=2))
                )
                days = ReportFilters(start=first, end=last + timedelta(days=1))
                counts = _report_counts(days)
                assert counts == _counts_from_transcripts(world, end, end, days.start, days.end)
                chart = {s.version_id: s.total for s in completions_over_time(days).series}
                assert chart == {v: c[5] for v, c in counts.items() if c[5]}
                for package_id in (None, *setting.packages):
                    scoped = replace(days, package_id=package_id)
                    assert _learner_report(scoped) == _learners_from_transcripts(world, end, scoped)
            for package_id in (None, *setting.packages):
                every = ReportFilters(package_id=package_id)
                expected = _learners_from_transcripts(world, end, every)
                assert _learner_report(every) == expected
                # Paged: one learner a page, in username order, adds up to the same.
                paged = [
                    row.learner_id
                    for offset in range(len(expected) + 1)
                    for row in learner_rows(every, offset=offset, limit=1)
                ]
                assert sorted(paged) == sorted(expected)
        transaction.set_rollback(True)
