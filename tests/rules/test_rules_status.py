"""The status-only computation agrees with the full evaluation, always."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursepack.rules import (
    CourseRef,
    EventKind,
    Group,
    GroupKind,
    Item,
    LearnerEvent,
    RequirementTree,
    StatusRule,
    course_facts,
    course_facts_from_rows,
    evaluate,
)
from tests.rules import rules_oracle as oracle
from tests.rules.rules_strategies import BASE, at, histories, known_moments, moments, trees

Moment = datetime | None


def _expected(
    tree: RequirementTree,
    events: list[LearnerEvent],
    as_of: Moment,
    known_at: Moment = None,
    since: Moment = None,
) -> tuple:
    result = evaluate(tree, events, as_of, known_at, on_version_since=since)
    return (result.status, result.root.done, result.root.needed, result.completed_at)


def _summary(
    rule: StatusRule,
    events: list[LearnerEvent],
    as_of: Moment,
    known_at: Moment = None,
    since: Moment = None,
) -> tuple:
    got = rule.summarize(course_facts(events, as_of, known_at), since)
    return (got.status, got.done, got.needed, got.completed_at)


SINCE = st.none() | st.sampled_from([BASE - timedelta(days=1), at(10), at(20), at(45)])


@settings(max_examples=300, deadline=None)
@given(tree=trees(valid=False), events=histories(), data=st.data())
def test_summary_equals_the_evaluation_at_every_moment(
    tree: RequirementTree, events: list[LearnerEvent], data: st.DataObject
) -> None:
    """Status, required done/needed and completed_at match evaluate, invalid trees included,
    on both timelines and whenever the enrollment got onto the version."""
    rule = StatusRule(tree)
    known_at = data.draw(st.sampled_from(known_moments(events)))
    since = data.draw(SINCE)
    for as_of in moments(events):
        assert _summary(rule, events, as_of, known_at, since) == _expected(
            tree, events, as_of, known_at, since
        )


@settings(max_examples=100, deadline=None)
@given(tree=trees(), events=histories(), others=histories(first_id=100))
def test_facts_are_shared_across_trees(
    tree: RequirementTree, events: list[LearnerEvent], others: list[LearnerEvent]
) -> None:
    """Facts gathered over all of a learner's events (any course) serve every tree:
    events on courses outside the tree change nothing."""
    rule = StatusRule(tree)
    outside = [
        LearnerEvent(
            e.event_id, 10_000 + e.course_id, e.kind, e.occurred_at, e.voids, e.recorded_at
        )
        for e in others
    ]
    assert _summary(rule, events + outside, None) == _expected(tree, events, None)


@settings(max_examples=100, deadline=None)
@given(events=histories())
def test_rows_and_events_give_the_same_facts(events: list[LearnerEvent]) -> None:
    rows = [
        (e.event_id, e.course_id, str(e.kind), e.occurred_at, e.voids, e.known_from) for e in events
    ]
    for as_of in moments(events):
        for known_at in known_moments(events)[:4]:
            assert course_facts_from_rows(rows, as_of, known_at) == course_facts(
                events, as_of, known_at
            )


def test_a_voided_completion_counts_only_as_known_before_the_void() -> None:
    """As known once the void is recorded, the completion never counted, at any moment;
    as known before, it counts from when it occurred."""
    rows = [(1, 7, "completed", at(1), None, at(1)), (2, 7, "void", at(5), 1, at(5))]
    assert course_facts_from_rows(rows, at(4), known_at=at(4)).done_at == {7: at(1)}
    for as_of in (at(2), at(4), None):
        now = course_facts_from_rows(rows, as_of)
        assert now.done_at == {}
        assert now.touched == frozenset()


def test_a_late_entry_counts_from_when_it_occurred_only_once_recorded() -> None:
    rows = [(1, 7, "completed", at(1), None, at(30))]
    assert course_facts_from_rows(rows, at(2)).done_at == {7: at(1)}
    assert course_facts_from_rows(rows, at(2), known_at=at(29)).done_at == {}


@settings(max_examples=300, deadline=None)
@given(tree=trees(valid=False), events=histories(max_events=14))
def test_every_node_is_satisfied_when_the_evaluation_says(
    tree: RequirementTree, events: list[LearnerEvent]
) -> None:
    """Each node of the tree, alone as a package's one required item, completes exactly
    when and at the moment the full evaluation says that node was satisfied."""
    full = evaluate(tree, events)
    facts = course_facts(events)
    for path, node in oracle.walk(tree):
        if not path:
            continue
        alone = RequirementTree(tree.package_id, tree.version_id, 1, "Alone", (Item(node, True),))
        got = StatusRule(alone).summarize(facts)
        assert got.completed_at == full.node(path).satisfied_at, path


def test_a_choice_completes_when_its_last_needed_optional_item_does() -> None:
    """Two of three optional items: satisfied by the second completion, not the first."""
    courses = [CourseRef(i, f"C{i}", f"Course {i}") for i in (1, 2, 3)]
    choice = Group(
        1, 11, 1, "Electives", GroupKind.CHOICE, 2, tuple(Item(c, False) for c in courses)
    )
    tree = RequirementTree(1, 1, 1, "Safety", (Item(choice, True),))
    events = [
        LearnerEvent(1, 1, EventKind.COMPLETED, at(1)),
        LearnerEvent(2, 3, EventKind.PASSED, at(9)),
        LearnerEvent(3, 2, EventKind.COMPLETED, at(20)),
    ]
    got = StatusRule(tree).summarize(course_facts(events))
    assert (got.status, got.done, got.needed, got.completed_at) == ("completed", 1, 1, at(9))
    assert _expected(tree, events, None) == ("completed", 1, 1, at(9))


def test_rows_without_recording_times_answer_only_as_known_now() -> None:
    """The status cache reads no recording times; asking such rows "as known at" is refused."""
    rows = [(1, 7, "completed", at(1), None, None)]
    assert course_facts_from_rows(rows).done_at == {7: at(1)}
    with pytest.raises(ValueError, match="recorded_at"):
        course_facts_from_rows(rows, known_at=at(2))
