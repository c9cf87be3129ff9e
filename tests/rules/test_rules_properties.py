"""Property-based tests of the requirement engine against the brute-force oracle."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from coursepack.rules import (
    CourseRef,
    EnrollmentStatus,
    Evaluation,
    EventKind,
    LearnerEvent,
    NodeResult,
    NodeState,
    RequirementTree,
    course_ids,
    evaluate,
    validate_tree,
)
from tests.rules import rules_oracle as oracle
from tests.rules.rules_strategies import BASE, at, histories, known_moments, moments, trees

# Generation dominates the cost (~10 ms an example): the oracle comparison gets the
# most examples, the cheaper invariants fewer, to keep tests/rules near 15 s.
THOROUGH = settings(max_examples=200, deadline=None)
FAST = settings(max_examples=60, deadline=None)


def all_nodes(node: NodeResult) -> list[NodeResult]:
    found = [node]
    for child in node.children:
        found.extend(all_nodes(child))
    return found


def assert_matches_oracle(
    tree: RequirementTree,
    events: list[LearnerEvent],
    result: Evaluation,
    as_of: datetime | None,
    known_at: datetime | None = None,
    since: datetime | None = None,
) -> None:
    effective = oracle.effective_events(events, as_of, known_at)
    done = oracle.done_courses(effective, None)
    for path, node in oracle.walk(tree):
        got = result.node(path)
        assert got.satisfied == oracle.satisfied(node, done), path
        assert got.satisfied_at == oracle.satisfied_at(node, effective), path
        assert got.state == oracle.state(tree, path, effective), path
    assert result.status == oracle.status(tree, effective)
    assert result.completed_at == oracle.completed_at(tree, effective, since)
    assert [c.course_id for c in result.root.next_courses] == oracle.next_courses(tree, effective)


# Where an enrollment got onto its version: before, amid or after the events.
SINCE = st.none() | st.sampled_from([BASE - timedelta(days=1), at(10), at(20), at(45)])


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_verdicts_match_the_oracle_at_every_moment(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Satisfaction, satisfied_at, state, status, completed_at and next steps agree with
    the definitions at any as_of, as known at any moment, on the version since any time."""
    known_at = data.draw(st.sampled_from(known_moments(events)))
    since = data.draw(SINCE)
    for as_of in moments(events):
        result = evaluate(tree, events, as_of, known_at, on_version_since=since)
        assert_matches_oracle(tree, events, result, as_of, known_at, since)


@FAST
@given(tree=trees(valid=False), events=histories())
def test_invalid_trees_still_match_the_oracle(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """Empty groups and out-of-range choice counts get the same verdicts as the oracle."""
    assert_matches_oracle(tree, events, evaluate(tree, events), None)


@FAST
@given(tree=trees(), events=histories())
def test_progress_counts_match_the_oracle(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """done/needed is real progress: it reaches needed exactly when the node is satisfied."""
    result = evaluate(tree, events)
    done = oracle.done_courses(oracle.effective_events(events, None), None)
    for path, node in oracle.walk(tree):
        got = result.node(path)
        if path and not isinstance(node, CourseRef):
            assert got.done == oracle.done_count(node, done), path
        assert 0 <= got.done <= got.needed
        assert (got.done == got.needed) == got.satisfied, path


@FAST
@given(tree=trees(), events=histories(), data=st.data())
def test_as_of_equals_evaluating_only_the_events_that_occurred_by_then(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Evaluating as of t is evaluating just the events that occurred by t, and every void
    (a void corrects the record at every moment, whenever it was made)."""
    as_of = data.draw(st.sampled_from(moments(events)))
    happened = [
        e for e in events if as_of is None or e.occurred_at <= as_of or e.kind == EventKind.VOID
    ]
    assert evaluate(tree, events, as_of) == evaluate(tree, happened)


@st.composite
def recorded_after(
    draw: st.DrawFn, events: list[LearnerEvent], known_at: datetime
) -> list[LearnerEvent]:
    """Draw facts recorded after ``known_at``: completions dated any time (back-dated
    ones included) and voids of any event, the earlier ones included."""
    more = draw(histories(first_id=100))
    ids = [e.event_id for e in events] + [e.event_id for e in more] or [1]
    later = []
    for event in more:
        delay = timedelta(seconds=draw(st.integers(1, 3600)))
        later.append(
            LearnerEvent(
                event.event_id,
                event.course_id,
                event.kind,
                event.occurred_at,
                draw(st.sampled_from(ids)) if event.kind == EventKind.VOID else None,
                recorded_at=known_at + delay,
            )
        )
    return later


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_an_answer_as_known_at_r_never_changes_when_facts_are_recorded_after_r(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Append anything recorded after r (back-dated completions, voids): same answer, for
    every as_of."""
    known_at = data.draw(st.sampled_from(known_moments(events)[1:]))
    assert known_at is not None
    later = data.draw(recorded_after(events, known_at))
    since = data.draw(SINCE)
    for as_of in moments(events + later):
        before = evaluate(tree, events, as_of, known_at, on_version_since=since)
        after = evaluate(tree, events + later, as_of, known_at, on_version_since=since)
        assert after == before


@FAST
@given(tree=trees(), events=histories(), data=st.data())
def test_the_answer_as_known_at_r_is_the_answer_from_the_facts_recorded_by_r(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """As known at r equals as known now over only the facts recorded by r."""
    known_at = data.draw(st.sampled_from(known_moments(events)))
    as_of = data.draw(st.sampled_from(moments(events)))
    recorded = [e for e in events if known_at is None or oracle.recorded(e) <= known_at]
    assert evaluate(tree, events, as_of, known_at) == evaluate(tree, recorded, as_of)


@THOROUGH
@given(tree=trees(), events=histories(), data=st.data())
def test_a_void_removes_exactly_its_event_from_its_recording_on(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """As known once the void is recorded, every answer is the answer without the voided
    event; as known before, the void changes nothing. A void of a void changes nothing."""
    target = data.draw(st.sampled_from(events)) if events else None
    occurred = at(data.draw(st.integers(-5, 40)))
    recorded = occurred + timedelta(minutes=data.draw(st.integers(0, 10)))
    target_id = target.event_id if target is not None else 1
    void = LearnerEvent(999, 1, EventKind.VOID, occurred, target_id, recorded)
    with_void = [*events, void]
    if target is None or target.kind == EventKind.VOID:
        without = events
    else:
        without = [e for e in events if e.event_id != target_id]
    for as_of in moments(with_void):
        assert evaluate(tree, with_void, as_of) == evaluate(tree, without, as_of)
        assert evaluate(tree, with_void, as_of, recorded) == evaluate(
            tree, without, as_of, recorded
        )
        just_before = recorded - timedelta(microseconds=1)
        assert evaluate(tree, with_void, as_of, just_before) == evaluate(
            tree, events, as_of, just_before
        )


@FAST
@given(tree=trees(), events=histories(), data=st.data())
def test_only_effective_events_matter(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Dropping voided events and the voids themselves changes nothing."""
    as_of = data.draw(st.sampled_from(moments(events)))
    effective = oracle.effective_events(events, as_of)
    assert evaluate(tree, events, as_of) == evaluate(tree, effective)


@FAST
@given(tree=trees(), events=histories(), data=st.data())
def test_event_order_does_not_matter(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Any permutation of the same events gives the same evaluation."""
    shuffled = data.draw(st.permutations(events))
    as_of = data.draw(st.sampled_from(moments(events)))
    known_at = data.draw(st.sampled_from(known_moments(events)))
    assert evaluate(tree, shuffled, as_of, known_at) == evaluate(tree, events, as_of, known_at)


@FAST
@given(
    tree=trees(),
    events=histories(voids=False),
    more=histories(voids=False, first_id=100),
)
def test_without_voids_more_events_never_undo_completion(
    tree: RequirementTree, events: list[LearnerEvent], more: list[LearnerEvent]
) -> None:
    """Adding events (no voids) keeps every satisfied node satisfied, no later than before."""
    before = evaluate(tree, events)
    after = evaluate(tree, events + more)
    for old in all_nodes(before.root):
        new = after.node(old.path)
        if old.satisfied_at is not None:
            assert new.satisfied_at is not None
            assert new.satisfied_at <= old.satisfied_at
    if before.status == EnrollmentStatus.COMPLETED:
        assert after.status == EnrollmentStatus.COMPLETED


@FAST
@given(tree=trees(), events=histories())
def test_satisfied_at_is_the_first_moment(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """Over the effective events, each node is satisfied as of satisfied_at and not just before."""
    effective = oracle.effective_events(events, None)
    result = evaluate(tree, effective)
    for node in all_nodes(result.root):
        if node.satisfied_at is None:
            continue
        assert evaluate(tree, effective, node.satisfied_at).node(node.path).satisfied
        just_before = node.satisfied_at - timedelta(microseconds=1)
        assert not evaluate(tree, effective, just_before).node(node.path).satisfied


@FAST
@given(tree=trees(), events=histories())
def test_next_courses_are_never_locked_or_done(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """Every suggested course is an unfinished, unlocked course beneath the node suggesting it."""
    result = evaluate(tree, events)
    suggested = [*result.root.next_courses, *result.optional_next]
    for node in all_nodes(result.root):
        if node.state in (NodeState.LOCKED, NodeState.COMPLETED):
            assert node.next_courses == ()
        open_courses = {
            n.course_id
            for n in all_nodes(node)
            if n.kind == "course" and n.state not in (NodeState.LOCKED, NodeState.COMPLETED)
        }
        assert {c.course_id for c in node.next_courses} <= open_courses
        assert len({c.course_id for c in node.next_courses}) == len(node.next_courses)
    assert len({c.course_id for c in suggested}) == len(suggested)


@FAST
@given(tree=trees(), events=histories())
def test_next_courses_follow_each_rule(tree: RequirementTree, events: list[LearnerEvent]) -> None:
    """A family offers every alternative; a series every item that is neither complete nor
    locked (an item after one completed out of order is open too)."""
    result = evaluate(tree, events)
    for node in all_nodes(result.root):
        open_children = [c for c in node.children if not c.satisfied]
        if node.satisfied or node.state == NodeState.LOCKED:
            continue
        if node.kind == "family":
            merged = {c.course_id for child in open_children for c in child.next_courses}
            assert {c.course_id for c in node.next_courses} == merged
        if node.kind == "series":
            merged = {c.course_id for child in open_children for c in child.next_courses}
            assert {c.course_id for c in node.next_courses} == merged
            assert (
                open_children[0].next_courses
                == node.next_courses[: len(open_children[0].next_courses)]
            )


@FAST
@given(tree=trees(), events=histories())
def test_a_learner_is_never_stuck_on_a_valid_tree(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """An incomplete enrollment of a valid tree always has a course to do next."""
    assert validate_tree(tree) == []
    result = evaluate(tree, events)
    assert (result.status == EnrollmentStatus.COMPLETED) == (result.root.next_courses == ())


@FAST
@given(tree=trees(valid=False), events=histories())
def test_completed_exactly_when_nothing_is_missing(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """The status is completed iff why_not_complete() is empty."""
    result = evaluate(tree, events)
    reasons = result.why_not_complete()
    assert (result.status == EnrollmentStatus.COMPLETED) == (reasons == [])
    assert all(reason.strip() for reason in reasons)


@FAST
@given(tree=trees(valid=False))
def test_course_ids_lists_every_course_of_the_tree(tree: RequirementTree) -> None:
    """course_ids finds the courses at every depth."""
    assert course_ids(tree) == oracle.courses_under(tree)
