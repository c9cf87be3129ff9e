"""Worked examples of evaluate(): the seed's scenarios, failures, voids and time travel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coursepack.rules import (
    CourseRef,
    EnrollmentStatus,
    EventKind,
    Group,
    GroupKind,
    Item,
    LearnerEvent,
    NodeState,
    RequirementTree,
    course_ids,
    evaluate,
)
from tests.rules.rules_strategies import at

PHISHING = CourseRef(1, "SEC-101", "Phishing Awareness")
PASSWORDS = CourseRef(2, "SEC-102", "Password Security")
DATA_PROTECTION = CourseRef(3, "SEC-103", "Data Protection Basics")
GDPR = CourseRef(4, "SEC-104", "GDPR Overview")
ENGLISH = CourseRef(5, "SEC-200-EN", "Cyber English")
SPANISH = CourseRef(6, "SEC-200-ES", "Cyber Spanish")
FIRST_AID = CourseRef(7, "SAF-201", "First Aid Basics")
FIRE = CourseRef(8, "SAF-202", "Fire Safety")


def package(*items: Item, name: str = "2024 Cybersecurity Training") -> RequirementTree:
    return RequirementTree(package_id=1, version_id=2, version_number=2, name=name, items=items)


def group(
    group_id: int, name: str, kind: GroupKind, *items: Item, min_count: int | None = None
) -> Group:
    return Group(
        group_id=group_id,
        version_id=group_id * 10 + 1,
        version_number=1,
        name=name,
        kind=kind,
        min_count=min_count,
        items=items,
    )


class History:
    """Events of one learner, numbered as they are recorded."""

    def __init__(self) -> None:
        self.events: list[LearnerEvent] = []

    def add(self, course: CourseRef, kind: EventKind, minute: int) -> int:
        event_id = len(self.events) + 1
        self.events.append(LearnerEvent(event_id, course.course_id, kind, at(minute)))
        return event_id

    def done(self, course: CourseRef, minute: int) -> int:
        return self.add(course, EventKind.COMPLETED, minute)

    def void(self, event_id: int, minute: int) -> None:
        voided = self.events[event_id - 1]
        self.events.append(
            LearnerEvent(
                len(self.events) + 1, voided.course_id, EventKind.VOID, at(minute), event_id
            )
        )


LANGUAGE = group(10, "Language Choice", GroupKind.FAMILY, Item(ENGLISH), Item(SPANISH))
EMERGENCY = group(20, "Emergency Procedures", GroupKind.SERIES, Item(FIRST_AID), Item(FIRE))


# Standalone courses, and optional items.


def test_standalone_courses_start_not_started_with_every_required_course_next() -> None:
    """Nothing done: not started, the required courses are next, optional ones listed apart."""
    tree = package(Item(PHISHING), Item(PASSWORDS), Item(DATA_PROTECTION, required=False))

    result = evaluate(tree, [])

    assert result.status == EnrollmentStatus.NOT_STARTED
    assert result.completed_at is None
    assert result.root.state == NodeState.NOT_STARTED
    assert (result.root.done, result.root.needed) == (0, 2)
    assert result.root.next_courses == (PHISHING, PASSWORDS)
    assert result.optional_next == (DATA_PROTECTION,)
    assert (result.optional_done, result.optional_total) == (0, 1)
    assert result.why_not_complete() == [
        "Complete Phishing Awareness.",
        "Complete Password Security.",
    ]
    assert result.node((0,)).explanation == "Complete Phishing Awareness."


def test_optional_items_never_block_completion_but_count_as_progress() -> None:
    """The package completes with its required items; optional progress is reported apart."""
    tree = package(Item(PHISHING), Item(PASSWORDS), Item(DATA_PROTECTION, required=False))
    history = History()
    history.done(PHISHING, 5)
    history.done(PASSWORDS, 9)

    result = evaluate(tree, history.events)

    assert result.status == EnrollmentStatus.COMPLETED
    assert result.completed_at == at(9)
    assert result.why_not_complete() == []
    assert result.root.explanation == "Completed on 2024-03-01."
    assert result.root.next_courses == ()
    assert result.optional_next == (DATA_PROTECTION,)
    assert (result.optional_done, result.optional_total) == (0, 1)

    history.done(DATA_PROTECTION, 12)
    later = evaluate(tree, history.events)
    assert later.completed_at == at(9)
    assert (later.optional_done, later.optional_total) == (1, 1)
    assert later.optional_next == ()


def test_completing_only_optional_items_is_in_progress() -> None:
    """An optional completion is activity, not completion."""
    tree = package(Item(PHISHING), Item(GDPR, required=False))
    history = History()
    history.done(GDPR, 3)

    result = evaluate(tree, history.events)

    assert result.status == EnrollmentStatus.IN_PROGRESS
    assert result.optional_done == 1
    assert result.why_not_complete() == ["Complete Phishing Awareness."]


# Family: 1 of N.


def test_family_needs_one_edition() -> None:
    """Either language edition satisfies the family; nothing done lists both."""
    tree = package(Item(LANGUAGE))

    before = evaluate(tree, [])
    language = before.node((0,))
    assert language.kind == "family"
    assert language.group_id == 10
    assert language.explanation == "Complete 1 of: Cyber English, Cyber Spanish."
    assert language.next_courses == (ENGLISH, SPANISH)
    assert (language.done, language.needed) == (0, 1)
    assert before.why_not_complete() == [
        "Language Choice: Complete 1 of: Cyber English, Cyber Spanish."
    ]

    history = History()
    history.done(SPANISH, 20)
    after = evaluate(tree, history.events)
    assert after.status == EnrollmentStatus.COMPLETED
    assert after.node((0,)).state == NodeState.COMPLETED
    assert after.node((0,)).explanation == "Completed on 2024-03-01."
    assert after.node((0, 0)).state == NodeState.NOT_STARTED
    assert after.node((0,)).next_courses == ()


def test_family_is_satisfied_by_its_earliest_edition() -> None:
    """Completing both editions: satisfied_at is the first of them."""
    tree = package(Item(LANGUAGE))
    history = History()
    history.done(ENGLISH, 30)
    history.done(SPANISH, 10)

    result = evaluate(tree, history.events)

    assert result.node((0,)).satisfied_at == at(10)
    assert (result.node((0,)).done, result.node((0,)).needed) == (1, 1)


# Series: all, in order.


def test_series_locks_the_next_course_until_the_previous_one_is_done() -> None:
    """Fire Safety is locked behind First Aid Basics, and the explanation says so."""
    tree = package(Item(EMERGENCY))

    result = evaluate(tree, [])

    series = result.node((0,))
    assert series.explanation == (
        "Complete in order: First Aid Basics, then Fire Safety. "
        "Fire Safety unlocks after First Aid Basics."
    )
    assert result.node((0, 0)).state == NodeState.NOT_STARTED
    assert result.node((0, 1)).state == NodeState.LOCKED
    assert result.node((0, 1)).explanation == "Fire Safety unlocks after First Aid Basics."
    assert result.node((0, 1)).next_courses == ()
    assert result.root.next_courses == (FIRST_AID,)
    assert result.why_not_complete() == [
        "Emergency Procedures: Complete in order: First Aid Basics, then Fire Safety. "
        "Fire Safety unlocks after First Aid Basics."
    ]


def test_series_unlocks_the_next_course_when_the_previous_one_is_done() -> None:
    """After First Aid Basics, Fire Safety is open and next."""
    tree = package(Item(EMERGENCY))
    history = History()
    history.done(FIRST_AID, 4)

    result = evaluate(tree, history.events)

    assert result.status == EnrollmentStatus.IN_PROGRESS
    assert result.node((0,)).state == NodeState.IN_PROGRESS
    assert (result.node((0,)).done, result.node((0,)).needed) == (1, 2)
    assert result.node((0, 1)).state == NodeState.NOT_STARTED
    assert result.node((0,)).explanation == "Complete Fire Safety."
    assert result.root.next_courses == (FIRE,)


def test_a_completion_of_a_locked_course_still_counts() -> None:
    """Events are facts: an imported Fire Safety counts even while it was locked."""
    tree = package(Item(EMERGENCY))
    history = History()
    history.done(FIRE, 1)

    early = evaluate(tree, history.events)
    assert early.node((0, 1)).state == NodeState.COMPLETED
    assert early.node((0,)).done == 1
    assert early.root.next_courses == (FIRST_AID,)

    history.done(FIRST_AID, 8)
    late = evaluate(tree, history.events)
    assert late.status == EnrollmentStatus.COMPLETED
    assert late.completed_at == at(8)


def test_series_offers_every_item_neither_complete_nor_locked() -> None:
    """C1 -> C2 -> C3 with C2 done out of order: C3 is open (its predecessor is complete),
    so it is offered beside C1, in the series' order, and the text says the same."""
    series = group(21, "Steps", GroupKind.SERIES, Item(FIRST_AID), Item(FIRE), Item(GDPR))
    tree = package(Item(series))
    history = History()
    history.done(FIRE, 3)

    result = evaluate(tree, history.events)

    assert result.node((0, 2)).state == NodeState.NOT_STARTED  # its predecessor is done
    assert result.root.next_courses == (FIRST_AID, GDPR)
    assert result.node((0,)).explanation == "Complete First Aid Basics and GDPR Overview."


def test_series_text_names_what_is_open_now_and_what_stays_locked() -> None:
    """Open items first, then the locked ones in order, each lock explained."""
    series = group(
        21, "Steps", GroupKind.SERIES, Item(FIRST_AID), Item(FIRE), Item(GDPR), Item(PHISHING)
    )
    tree = package(Item(series))
    history = History()
    history.done(FIRE, 3)

    result = evaluate(tree, history.events)

    assert result.root.next_courses == (FIRST_AID, GDPR)
    assert result.node((0, 3)).state == NodeState.LOCKED
    assert result.node((0,)).explanation == (
        "Complete First Aid Basics and GDPR Overview, then Phishing Awareness. "
        "Phishing Awareness unlocks after GDPR Overview."
    )


def test_a_locked_group_locks_its_whole_subtree() -> None:
    """A group behind an unfinished series item is locked, and so is everything in it."""
    advanced = group(30, "Advanced", GroupKind.FAMILY, Item(ENGLISH), Item(SPANISH))
    track = group(31, "Track", GroupKind.SERIES, Item(FIRST_AID), Item(advanced))
    tree = package(Item(track))

    result = evaluate(tree, [])

    assert result.node((0, 1)).state == NodeState.LOCKED
    assert result.node((0, 1)).explanation == (
        "Advanced unlocks after First Aid Basics. Complete 1 of: Cyber English, Cyber Spanish."
    )
    assert result.node((0, 1, 0)).state == NodeState.LOCKED
    assert result.node((0, 1, 1)).explanation == "Cyber Spanish unlocks after First Aid Basics."
    assert result.root.next_courses == (FIRST_AID,)
    assert result.why_not_complete() == [
        "Track: Complete in order: First Aid Basics, then Advanced. "
        "Advanced unlocks after First Aid Basics.",
        "Track > Advanced: Advanced unlocks after First Aid Basics. "
        "Complete 1 of: Cyber English, Cyber Spanish.",
    ]


def test_a_failed_attempt_on_a_locked_course_stays_locked() -> None:
    """Locked wins over in progress: it tells the learner what to do first."""
    tree = package(Item(EMERGENCY))
    history = History()
    history.add(FIRE, EventKind.FAILED, 2)

    result = evaluate(tree, history.events)

    assert result.node((0, 1)).state == NodeState.LOCKED
    assert result.node((0,)).state == NodeState.IN_PROGRESS
    assert result.status == EnrollmentStatus.IN_PROGRESS


# Choice: X of Y with required items.


def security_electives() -> tuple[Group, list[CourseRef]]:
    courses = [CourseRef(100 + i, f"EL-{i}", f"Elective {i}") for i in range(1, 11)]
    items = [Item(course, required=i in (0, 1)) for i, course in enumerate(courses)]
    return group(40, "Security Electives", GroupKind.CHOICE, *items, min_count=6), courses


def test_choice_six_of_ten_with_two_required_lists_what_is_left() -> None:
    """Nothing done: 6 more of all ten, naming the two required ones."""
    electives, courses = security_electives()
    tree = package(Item(electives))

    node = evaluate(tree, []).node((0,))

    assert (node.done, node.needed) == (0, 6)
    assert node.explanation == (
        "Complete 6 more of: "
        + ", ".join(c.name for c in courses)
        + " (Elective 1 and Elective 2 are required)."
    )
    assert node.next_courses == tuple(courses)
    assert node.children[0].required
    assert not node.children[2].required


def test_choice_optional_items_beyond_the_count_do_not_replace_required_ones() -> None:
    """Six optional electives do not satisfy the choice; only the required ones are left."""
    electives, courses = security_electives()
    tree = package(Item(electives))
    history = History()
    for minute, course in enumerate(courses[2:8], start=1):
        history.done(course, minute)

    node = evaluate(tree, history.events).node((0,))

    assert node.state == NodeState.IN_PROGRESS
    assert (node.done, node.needed) == (4, 6)
    assert node.explanation == "Complete all of: Elective 1, Elective 2."
    assert node.next_courses == (courses[0], courses[1])


def test_choice_is_satisfied_when_the_count_and_the_required_items_are_met() -> None:
    """satisfied_at is the later of the last required item and the k-th optional one."""
    electives, courses = security_electives()
    tree = package(Item(electives))
    history = History()
    history.done(courses[0], 50)
    history.done(courses[1], 3)
    for minute, course in zip((10, 20, 5, 40, 30), courses[2:7], strict=True):
        history.done(course, minute)

    before = evaluate(tree, history.events, at(29)).node((0,))
    assert before.explanation == (
        "Complete 2 more of: Elective 1, Elective 6, Elective 7, Elective 8, Elective 9, "
        "Elective 10 (Elective 1 is required)."
    )
    result = evaluate(tree, history.events)
    # Required: 3 and 50; the 4th optional completion is at 40.
    assert result.node((0,)).satisfied_at == at(50)
    assert result.node((0,)).next_courses == ()


def test_nested_three_of_five_groups() -> None:
    """A choice of groups: satisfied by the third group to be satisfied."""
    tracks = [
        group(
            51,
            "Network",
            GroupKind.FAMILY,
            Item(CourseRef(201, "N1", "Net A")),
            Item(CourseRef(202, "N2", "Net B")),
        ),
        group(
            52,
            "Cloud",
            GroupKind.SERIES,
            Item(CourseRef(203, "C1", "Cloud 1")),
            Item(CourseRef(204, "C2", "Cloud 2")),
        ),
        group(
            53,
            "Apps",
            GroupKind.CHOICE,
            Item(CourseRef(205, "A1", "App 1"), required=False),
            Item(CourseRef(206, "A2", "App 2"), required=False),
            Item(CourseRef(207, "A3", "App 3"), required=False),
            min_count=2,
        ),
        group(54, "Data", GroupKind.FAMILY, Item(CourseRef(208, "D1", "Data 1"))),
        group(55, "Identity", GroupKind.FAMILY, Item(CourseRef(209, "I1", "Identity 1"))),
    ]
    programme = group(
        50,
        "Security Tracks",
        GroupKind.CHOICE,
        *(Item(t, required=False) for t in tracks),
        min_count=3,
    )
    tree = package(Item(PHISHING), Item(programme))
    history = History()
    history.done(PHISHING, 1)
    history.add(CourseRef(201, "N1", "Net A"), EventKind.PASSED, 10)
    history.done(CourseRef(204, "C2", "Cloud 2"), 12)  # out of order: counts, series not done
    history.done(CourseRef(209, "I1", "Identity 1"), 15)
    history.done(CourseRef(205, "A1", "App 1"), 20)

    partial = evaluate(tree, history.events)
    tracks_node = partial.node((1,))
    assert (tracks_node.done, tracks_node.needed) == (2, 3)
    assert tracks_node.explanation == "Complete 1 more of: Cloud, Apps, Data."
    assert partial.node((1, 1)).state == NodeState.IN_PROGRESS
    assert partial.node((1, 2)).explanation == "Complete 1 more of: App 2, App 3."
    assert partial.why_not_complete() == [
        "Security Tracks: Complete 1 more of: Cloud, Apps, Data.",
        "Security Tracks > Cloud: Complete Cloud 1.",
        "Security Tracks > Apps: Complete 1 more of: App 2, App 3.",
        "Security Tracks > Data: Complete 1 of: Data 1.",
    ]
    assert partial.root.next_courses == tuple(
        CourseRef(i, c, n)
        for i, c, n in [
            (203, "C1", "Cloud 1"),
            (206, "A2", "App 2"),
            (207, "A3", "App 3"),
            (208, "D1", "Data 1"),
        ]
    )

    history.done(CourseRef(206, "A2", "App 2"), 25)
    history.done(CourseRef(203, "C1", "Cloud 1"), 30)
    done = evaluate(tree, history.events)
    assert done.node((1,)).satisfied_at == at(25)
    assert done.completed_at == at(25)


# Failed attempts, voids, and the past.


def test_a_failed_attempt_is_progress_not_completion() -> None:
    """Failed only: in progress; a later pass completes it at the pass."""
    tree = package(Item(PHISHING))
    history = History()
    history.add(PHISHING, EventKind.FAILED, 5)

    failed = evaluate(tree, history.events)
    assert failed.status == EnrollmentStatus.IN_PROGRESS
    assert failed.node((0,)).state == NodeState.IN_PROGRESS
    assert failed.completed_at is None

    history.add(PHISHING, EventKind.PASSED, 9)
    passed = evaluate(tree, history.events)
    assert passed.status == EnrollmentStatus.COMPLETED
    assert passed.completed_at == at(9)


def test_a_void_removes_the_completion_at_every_moment_as_known_from_the_void_on() -> None:
    """As known now the voided completion never happened, also for moments before the
    void; as known before the void was recorded it counted."""
    tree = package(Item(PHISHING))
    history = History()
    completion = history.done(PHISHING, 5)
    history.void(completion, 20)

    assert evaluate(tree, history.events, at(19)).status == EnrollmentStatus.NOT_STARTED
    as_shown_then = evaluate(tree, history.events, at(19), known_at=at(19))
    assert as_shown_then.status == EnrollmentStatus.COMPLETED
    assert as_shown_then.completed_at == at(5)
    voided = evaluate(tree, history.events, at(20))
    assert voided.status == EnrollmentStatus.NOT_STARTED
    assert voided.why_not_complete() == ["Complete Phishing Awareness."]
    assert evaluate(tree, history.events).status == EnrollmentStatus.NOT_STARTED


def test_voiding_the_first_completion_moves_completed_at_to_the_next_one() -> None:
    """completed_at is the first moment satisfied by the events still counting."""
    tree = package(Item(PHISHING))
    history = History()
    first = history.done(PHISHING, 5)
    history.done(PHISHING, 12)
    history.void(first, 30)

    assert evaluate(tree, history.events, at(29), known_at=at(29)).completed_at == at(5)
    assert evaluate(tree, history.events, at(29)).completed_at == at(12)
    assert evaluate(tree, history.events).completed_at == at(12)


def test_a_void_recorded_before_as_of_applies_even_to_a_later_dated_event() -> None:
    """The void names an event by id; once the void is known the event never counts."""
    tree = package(Item(PHISHING))
    history = History()
    history.events.append(LearnerEvent(1, PHISHING.course_id, EventKind.VOID, at(3), voids=2))
    history.events.append(LearnerEvent(2, PHISHING.course_id, EventKind.COMPLETED, at(6)))

    assert evaluate(tree, history.events).status == EnrollmentStatus.NOT_STARTED


def test_voiding_a_void_does_not_restore_the_event() -> None:
    """Voids are final: a void of a void changes nothing."""
    tree = package(Item(PHISHING))
    history = History()
    completion = history.done(PHISHING, 5)
    history.void(completion, 6)
    history.events.append(LearnerEvent(3, PHISHING.course_id, EventKind.VOID, at(7), voids=2))

    assert evaluate(tree, history.events).status == EnrollmentStatus.NOT_STARTED


def test_a_late_entry_changes_the_past_only_as_known_from_its_recording_on() -> None:
    """A completion recorded at minute 20, dated minute 2: as of minute 5 it counts as
    known now, but what the system showed at minute 10 (as known then) stays not started."""
    tree = package(Item(PHISHING))
    late = LearnerEvent(1, PHISHING.course_id, EventKind.COMPLETED, at(2), recorded_at=at(20))

    assert evaluate(tree, [late], at(5)).completed_at == at(2)
    shown_then = evaluate(tree, [late], at(5), known_at=at(10))
    assert shown_then.status == EnrollmentStatus.NOT_STARTED
    assert evaluate(tree, [late], at(5), known_at=at(20)).status == EnrollmentStatus.COMPLETED


def test_an_enrollment_is_never_complete_before_it_was_on_its_version() -> None:
    """Training done before enrolment satisfies the tree, and completed_at is the enrolment."""
    tree = package(Item(PHISHING))
    history = History()
    history.done(PHISHING, 2)

    result = evaluate(tree, history.events, on_version_since=at(30))

    assert result.status == EnrollmentStatus.COMPLETED
    assert result.root.satisfied_at == at(2)
    assert result.completed_at == at(30)
    assert result.satisfied_by_earlier_training
    assert result.root.explanation == (
        "Completed on 2024-03-01, when enrolled on this version: satisfied by earlier "
        "training (done by 2024-03-01)."
    )
    later = evaluate(tree, history.events, on_version_since=at(1))
    assert later.completed_at == at(2)
    assert not later.satisfied_by_earlier_training


def test_as_of_in_the_past_ignores_later_events() -> None:
    """The status on a past date is what it was then, not what it is now."""
    tree = package(Item(PHISHING), Item(EMERGENCY))
    history = History()
    history.done(PHISHING, 1)
    history.done(FIRST_AID, 10)
    history.done(FIRE, 20)

    assert evaluate(tree, history.events, at(0)).status == EnrollmentStatus.NOT_STARTED
    past = evaluate(tree, history.events, at(15))
    assert past.status == EnrollmentStatus.IN_PROGRESS
    assert past.why_not_complete() == ["Emergency Procedures: Complete Fire Safety."]
    assert evaluate(tree, history.events, at(20)).completed_at == at(20)
    assert evaluate(tree, history.events, at(20) + timedelta(days=400)).completed_at == at(20)


def test_events_on_other_courses_are_ignored() -> None:
    """A completion of a course outside the tree is not activity on this enrollment."""
    tree = package(Item(PHISHING))
    history = History()
    history.done(GDPR, 1)

    result = evaluate(tree, history.events)

    assert result.status == EnrollmentStatus.NOT_STARTED


# Degenerate trees, lookups and helpers.


def test_a_package_without_required_items_never_completes() -> None:
    """With nothing required there is no moment of completion; the reason says so."""
    tree = package(Item(PHISHING, required=False), name="Optional Reading")
    history = History()
    history.done(PHISHING, 1)

    result = evaluate(tree, history.events)

    assert result.status == EnrollmentStatus.IN_PROGRESS
    assert result.why_not_complete() == [
        "Optional Reading has no required items, so it cannot be completed; "
        "an administrator must fix it."
    ]


def test_a_choice_asking_for_more_than_it_has_cannot_be_completed() -> None:
    """An unsatisfiable choice says so and suggests nothing."""
    impossible = group(
        60, "Impossible", GroupKind.CHOICE, Item(ENGLISH, required=False), min_count=2
    )
    result = evaluate(package(Item(impossible)), [])

    assert result.node((0,)).next_courses == ()
    assert result.node((0,)).explanation == (
        "Impossible needs 2 items but has only 1, so it cannot be completed; "
        "an administrator must fix it."
    )


def test_node_looks_up_paths_and_rejects_unknown_ones() -> None:
    """node(path) walks the children; a path that does not exist raises KeyError."""
    result = evaluate(package(Item(PHISHING), Item(EMERGENCY)), [])

    assert result.node(()) is result.root
    assert result.node((1, 1)).course_id == FIRE.course_id
    assert result.node((1, 1)).path == (1, 1)
    with pytest.raises(KeyError):
        result.node((2,))
    with pytest.raises(KeyError):
        result.node((0, 0))


def test_course_ids_lists_courses_at_every_depth() -> None:
    """Every course of the tree, nested or not, once."""
    tree = package(
        Item(PHISHING),
        Item(EMERGENCY),
        Item(LANGUAGE),
        Item(group(70, "Again", GroupKind.FAMILY, Item(PHISHING))),
    )

    assert course_ids(tree) == frozenset({1, 5, 6, 7, 8})


def test_a_course_in_two_places_is_suggested_once() -> None:
    """Next courses are deduplicated across the tree."""
    tree = package(
        Item(PHISHING), Item(group(70, "Again", GroupKind.FAMILY, Item(PHISHING), Item(GDPR)))
    )

    assert evaluate(tree, []).root.next_courses == (PHISHING, GDPR)


def test_a_large_tree_and_history_evaluate_correctly() -> None:
    """A 4,000-course tree with 40,000 events is satisfied exactly when its parts are.

    How fast this runs is measured by ``make bench``, not asserted here.
    """
    courses = [CourseRef(i, f"C{i}", f"Course {i}") for i in range(1, 4001)]
    wide_choice = group(
        80,
        "Wide",
        GroupKind.CHOICE,
        *(Item(c, required=False) for c in courses[:2000]),
        min_count=1500,
    )
    long_series = group(81, "Long", GroupKind.SERIES, *(Item(c) for c in courses[2000:]))
    tree = package(Item(wide_choice), Item(long_series))
    events = [
        LearnerEvent(i, courses[i % 4000].course_id, EventKind.COMPLETED, at(i % 997))
        for i in range(40_000)
    ]

    result = evaluate(tree, events)

    assert result.status == EnrollmentStatus.COMPLETED
    assert result.node((0,)).done == 1500
    assert result.node((1,)).done == 2000
