"""The seed's four scenarios and a nested rule, end to end through the services.

Each test enrols a learner, records completions through ``record_completion`` and
checks what is stored (status, progress, ``completed_at``) and what the learner is
told (``enrollment_progress``). ``completed_at`` is always the time of the event
that satisfied the package, never the time it was recorded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from learning_helpers import backdate, base_time, drift, record, stored

from coursepack.learning import api as learning
from coursepack.learning import selectors
from tests.factories import make_course, make_group, make_published_package

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def test_standalone_courses(admin: Any, learner: Any) -> None:
    """Every required course must be complete; optional ones never block; completed_at
    is the time of the last required course's first completion."""
    # Given a package of two required courses and an optional one
    t = base_time()
    a = make_course(name="Phishing Awareness")
    b = make_course(name="Password Security")
    c = make_course(name="GDPR Overview")
    version = make_published_package(items=[a, b, (c, False)])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    assert stored(enrollment) == ("not_started", 0, 2, None)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert progress.root.explanation == (
        "Complete 2 more required items: Phishing Awareness, Password Security."
    )
    assert [x.name for x in progress.root.next_courses] == [
        "Phishing Awareness",
        "Password Security",
    ]

    # When the learner completes the optional course, then one required course
    record(learner, c, t + HOUR)
    assert stored(enrollment) == ("in_progress", 0, 2, None)
    assert selectors.enrollment_progress(enrollment.pk).optional_done == 1
    record(learner, a, t + 2 * HOUR)
    assert stored(enrollment) == ("in_progress", 1, 2, None)
    assert selectors.enrollment_progress(enrollment.pk).why_not_complete() == [
        "Complete Password Security."
    ]

    # And the last required one
    record(learner, b, t + 3 * HOUR)

    # Then the enrollment is complete since that course's event
    assert stored(enrollment) == ("completed", 2, 2, t + 3 * HOUR)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert progress.root.explanation == f"Completed on {(t + 3 * HOUR).date().isoformat()}."
    assert progress.why_not_complete() == []

    # When a later completion of a done course arrives, nothing moves
    record(learner, a, t + 4 * HOUR)
    assert stored(enrollment)[3] == t + 3 * HOUR
    # When an earlier (back-dated) completion of the last course arrives, the package
    # was in fact complete as soon as both required courses were
    record(learner, b, t + HOUR / 2)
    assert stored(enrollment) == ("completed", 2, 2, t + 2 * HOUR)
    assert drift() == []


def test_family_one_of_n(admin: Any, learner: Any) -> None:
    """A family is complete with any one of its courses; a failed attempt only starts it."""
    # Given a package whose one item is the family "English or Spanish edition"
    t = base_time()
    en = make_course(name="Cybersecurity Essentials (English)")
    es = make_course(name="Cybersecurity Essentials (Spanish)")
    family = make_group(kind="family", name="Language", items=[en, es])
    version = make_published_package(items=[family])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    assert stored(enrollment) == ("not_started", 0, 1, None)
    node = selectors.enrollment_progress(enrollment.pk).node([0])
    assert node.explanation == (
        "Complete 1 of: Cybersecurity Essentials (English), Cybersecurity Essentials (Spanish)."
    )
    assert (node.done, node.needed) == (0, 1)

    # When the learner fails the English edition
    record(learner, en, t + HOUR, kind="failed")
    # Then they are in progress
    assert stored(enrollment) == ("in_progress", 0, 1, None)
    assert selectors.enrollment_progress(enrollment.pk).node([0, 0]).state == "in_progress"

    # When they pass the Spanish edition
    record(learner, es, t + 2 * HOUR, kind="passed")
    # Then the family, and so the package, is complete since then
    assert stored(enrollment) == ("completed", 1, 1, t + 2 * HOUR)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert progress.node([0]).satisfied_at == t + 2 * HOUR
    assert progress.node([0, 0]).state == "in_progress"
    assert progress.node([0, 1]).state == "completed"

    # When the English edition turns out to have been completed earlier still
    record(learner, en, t + HOUR + timedelta(minutes=30))
    # Then the first satisfying event counts
    assert stored(enrollment) == ("completed", 1, 1, t + HOUR + timedelta(minutes=30))
    assert drift() == []


def test_series_in_order_locks_but_counts_out_of_order(admin: Any, learner: Any) -> None:
    """A series needs all its courses; later ones are locked until the one before is
    complete, yet a completion of a locked course still counts."""
    # Given a package whose one item is the series First Aid -> Fire Safety -> Evacuation
    t = base_time()
    first_aid = make_course(name="First Aid Basics")
    fire = make_course(name="Fire Safety")
    evacuation = make_course(name="Evacuation Drill")
    series = make_group(
        kind="series", name="Emergency Procedures", items=[first_aid, fire, evacuation]
    )
    version = make_published_package(items=[series])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)

    # Then only the first course is open
    progress = selectors.enrollment_progress(enrollment.pk)
    assert [c.name for c in progress.root.next_courses] == ["First Aid Basics"]
    assert [n.state for n in progress.node([0]).children] == ["not_started", "locked", "locked"]
    assert progress.node([0, 1]).explanation == "Fire Safety unlocks after First Aid Basics."
    assert progress.node([0, 2]).explanation == "Evacuation Drill unlocks after Fire Safety."
    assert progress.node([0]).explanation == (
        "Complete in order: First Aid Basics, then Fire Safety, then Evacuation Drill. "
        "Fire Safety unlocks after First Aid Basics. Evacuation Drill unlocks after Fire Safety."
    )

    # When the learner completes the locked second course first
    record(learner, fire, t + HOUR)
    # Then it counts; the first course is still to do, and the third, no longer locked
    # (its predecessor is complete), is offered beside it, in the series' order
    assert stored(enrollment) == ("in_progress", 0, 1, None)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert [n.state for n in progress.node([0]).children] == [
        "not_started",
        "completed",
        "not_started",
    ]
    assert (progress.node([0]).done, progress.node([0]).needed) == (1, 3)
    assert [c.name for c in progress.root.next_courses] == ["First Aid Basics", "Evacuation Drill"]
    assert progress.node([0]).explanation == "Complete First Aid Basics and Evacuation Drill."

    # When they complete the last course, and only then record the first one, back-dated
    record(learner, evacuation, t + 3 * HOUR)
    assert stored(enrollment) == ("in_progress", 0, 1, None)
    record(learner, first_aid, t + 2 * HOUR)

    # Then the series was complete when its last missing course was: at the latest event
    assert stored(enrollment) == ("completed", 1, 1, t + 3 * HOUR)
    assert drift() == []


def test_choice_six_of_ten_with_two_required(admin: Any, learner: Any) -> None:
    """Six of ten, both required courses among them: completed_at is when the sixth
    countable course was done, and optional courses beyond four do not count."""
    # Given the choice "6 of 10, C1 and C2 required" as a package's only item
    t = base_time()
    courses = [make_course(name=f"Elective {n}") for n in range(1, 11)]
    choice = make_group(
        kind="choice",
        name="Electives",
        min_count=6,
        items=[(courses[0], True), (courses[1], True), *courses[2:]],
    )
    version = make_published_package(items=[choice])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    node = selectors.enrollment_progress(enrollment.pk).node([0])
    assert node.explanation == (
        "Complete 6 more of: "
        + ", ".join(f"Elective {n}" for n in range(1, 11))
        + " (Elective 1 and Elective 2 are required)."
    )

    # When the learner completes six optional courses
    for n in range(2, 8):
        record(learner, courses[n], t + n * HOUR)
    # Then they are not complete: only four optional courses count, and both required are missing
    assert stored(enrollment) == ("in_progress", 0, 1, None)
    node = selectors.enrollment_progress(enrollment.pk).node([0])
    assert (node.done, node.needed) == (4, 6)
    assert node.explanation == "Complete all of: Elective 1, Elective 2."

    # When they complete one required course
    record(learner, courses[0], t + 10 * HOUR)
    node = selectors.enrollment_progress(enrollment.pk).node([0])
    assert (node.done, node.needed, node.explanation) == (5, 6, "Complete Elective 2.")

    # And the other, back-dated before the last optional courses
    record(learner, courses[1], t + HOUR)
    # Then the rule was satisfied by the first required course's event (t+10h): the
    # fourth-earliest optional (t+5h) and the other required course (t+1h) came before
    assert stored(enrollment) == ("completed", 1, 1, t + 10 * HOUR)
    assert drift() == []


def test_choice_satisfied_by_fourth_optional_course(admin: Any, learner: Any) -> None:
    """With both required courses done, the fourth optional course is the satisfying
    event; later ones change nothing."""
    t = base_time()
    courses = [make_course() for _ in range(10)]
    choice = make_group(
        kind="choice", min_count=6, items=[(courses[0], True), (courses[1], True), *courses[2:]]
    )
    version = make_published_package(items=[choice])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    record(learner, courses[0], t)
    record(learner, courses[1], t + HOUR)
    for n in range(2, 5):
        record(learner, courses[n], t + n * HOUR)
    assert stored(enrollment)[0] == "in_progress"
    record(learner, courses[5], t + 5 * HOUR)
    assert stored(enrollment) == ("completed", 1, 1, t + 5 * HOUR)
    record(learner, courses[6], t + 6 * HOUR)
    assert stored(enrollment) == ("completed", 1, 1, t + 5 * HOUR)


def test_nested_three_of_five_groups(admin: Any, learner: Any) -> None:
    """A "3 of 5 groups" rule is complete when its third group is, at any depth."""
    # Given five groups of every kind inside a "3 of 5" choice, and an optional course
    t = base_time()
    c = {name: make_course(name=name) for name in "ABCDEFGHIJ"}
    g1 = make_group(kind="family", name="G1", items=[c["A"], c["B"]])
    g2 = make_group(kind="series", name="G2", items=[c["C"], c["D"]])
    g3 = make_group(kind="choice", name="G3", min_count=1, items=[c["E"], c["F"]])
    g4 = make_group(kind="family", name="G4", items=[c["G"]])
    inner = make_group(kind="family", name="G5 inner", items=[c["H"]])
    g5 = make_group(kind="series", name="G5", items=[inner, c["I"]])
    tracks = make_group(kind="choice", name="Tracks", min_count=3, items=[g1, g2, g3, g4, g5])
    version = make_published_package(items=[tracks, (c["J"], False)])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    assert stored(enrollment) == ("not_started", 0, 1, None)
    assert selectors.enrollment_progress(enrollment.pk).why_not_complete() == [
        "Tracks: Complete 3 more of: G1, G2, G3, G4, G5.",
        "Tracks > G1: Complete 1 of: A, B.",
        "Tracks > G2: Complete in order: C, then D. D unlocks after C.",
        "Tracks > G3: Complete 1 more of: E, F.",
        "Tracks > G4: Complete 1 of: G.",
        "Tracks > G5: Complete in order: G5 inner, then I. I unlocks after G5 inner.",
        "Tracks > G5 > G5 inner: Complete 1 of: H.",
    ]

    # When G1 is satisfied (t+1), G2 is half done (t+2), G3 satisfied (t+3)
    record(learner, c["B"], t + HOUR)
    record(learner, c["C"], t + 2 * HOUR)
    record(learner, c["F"], t + 3 * HOUR)
    # Then two of three groups are done
    assert stored(enrollment) == ("in_progress", 0, 1, None)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert (progress.node([0]).done, progress.node([0]).needed) == (2, 3)
    assert progress.why_not_complete() == [
        "Tracks: Complete 1 more of: G2, G4, G5.",
        "Tracks > G2: Complete D.",
        "Tracks > G4: Complete 1 of: G.",
        "Tracks > G5: Complete in order: G5 inner, then I. I unlocks after G5 inner.",
        "Tracks > G5 > G5 inner: Complete 1 of: H.",
    ]

    # When G5 is completed through its nested family (t+5, t+6)
    record(learner, c["H"], t + 5 * HOUR)
    assert stored(enrollment)[0] == "in_progress"
    record(learner, c["I"], t + 6 * HOUR)
    # Then the third group is done, at t+6
    assert stored(enrollment) == ("completed", 1, 1, t + 6 * HOUR)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert progress.node([0, 4]).satisfied_at == t + 6 * HOUR
    assert progress.node([0, 4, 0]).satisfied_at == t + 5 * HOUR

    # When G4 turns out to have been done at t+4
    record(learner, c["G"], t + 4 * HOUR)
    # Then the rule was satisfied at t+4: the third of (t+1, t+3, t+4, t+6)
    assert stored(enrollment) == ("completed", 1, 1, t + 4 * HOUR)
    # And the optional course counts for display only
    record(learner, c["J"], t + 7 * HOUR)
    progress = selectors.enrollment_progress(enrollment.pk)
    assert (progress.optional_done, progress.optional_total) == (1, 1)
    assert stored(enrollment) == ("completed", 1, 1, t + 4 * HOUR)
    assert drift() == []
