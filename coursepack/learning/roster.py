"""Reads for the operations pages: who can be enrolled, the learners' directory, a
version's enrollments, a learner's own training, and the events behind one enrollment.

Plain reads, no writes: the pages call these, then the services in
``learning.api`` to change anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from coursepack import rules
from coursepack.accounts.models import Role
from coursepack.learning import selectors
from coursepack.learning.models import CompletionEvent, Enrollment, EventKind
from coursepack.packaging import selectors as packaging

__all__ = [
    "EnrolmentPreview",
    "NextStep",
    "PreviewRow",
    "TrainingCard",
    "enrollment_events",
    "learner_candidates",
    "learner_directory",
    "learners_only",
    "my_training",
    "preview_enrolment",
]

# How many usernames one question to the database names (SQLite's variable limit
# is 32,766; PostgreSQL has none that matters here).
_LOOKUP_CHUNK = 2000


def learners_only(users: QuerySet[Any]) -> QuerySet[Any]:
    """Narrow users to learners: no admin or auditor role, and not a superuser without
    an account (who is an admin, as ``accounts.api.role_of`` says)."""
    return users.filter(Q(account__role=Role.LEARNER) | Q(account__isnull=True, is_superuser=False))


def learner_candidates(
    search: str, *, package_id: int | None, keep: Iterable[int] = (), limit: int = 20
) -> list[Any]:
    """Return the learners ``keep`` names (those already ticked), then, when there is
    a ``search``, up to ``limit`` other active learners whose username or name
    contains it; each with
    ``enrolled`` set when they already have an open enrollment in the package."""
    search = search.strip()
    users = learners_only(get_user_model().objects.filter(is_active=True))
    kept = list(users.filter(pk__in=list(keep)).order_by("username", "pk"))
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    found = kept
    if search:
        others = users.exclude(pk__in=[u.pk for u in kept]).order_by("username", "pk")
        found = kept + list(others[:limit])
    open_ids: set[int] = set()
    if package_id is not None and found:
        open_ids = set(
            Enrollment.objects.filter(
                package_id=package_id,
                withdrawn_at__isnull=True,
                learner_id__in=[u.pk for u in found],
            ).values_list("learner_id", flat=True)
        )
    for user in found:
        user.enrolled = user.pk in open_ids
    return found


@dataclass(frozen=True)
class PreviewRow:
    """One line of the list to enrol, and what enrolling would do with it."""

    # Where the name came from, e.g. "CSV line 12", "pasted line 3", "ticked".
    line: str
    username: str
    learner_id: int | None
    name: str
    # Empty when the learner will be enrolled; else why not, in words.
    problem: str


@dataclass
class EnrolmentPreview:
    """What enrolling a list of usernames would do; nothing has been written."""

    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def to_enrol(self) -> list[PreviewRow]:
        return [r for r in self.rows if not r.problem]

    @property
    def problems(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.problem]

    @property
    def learner_ids(self) -> list[int]:
        return [r.learner_id for r in self.to_enrol if r.learner_id is not None]


def preview_enrolment(*, package_id: int, lines: Iterable[tuple[str, str]]) -> EnrolmentPreview:
    """Say, line by line, who would be enrolled in the package and why the others
    would not: a blank line, a username nobody has, a deactivated account, an admin
    or auditor, a name given twice, or someone already enrolled.

    ``lines`` are (where, username) pairs, e.g. ("CSV line 12", "alice").
    """
    User = get_user_model()
    wanted = [(n, text.strip()) for n, text in lines]
    names = list(dict.fromkeys(u for _, u in wanted if u))
    users: dict[str, Any] = {}
    for start in range(0, len(names), _LOOKUP_CHUNK):
        chunk = names[start : start + _LOOKUP_CHUNK]
        for found in User.objects.filter(username__in=chunk).select_related("account"):
            users[found.username] = found
    # Usernames are matched exactly, then ignoring case (people type "Alice").
    missing = [n for n in names if n not in users]
    if missing:
        folded = {n.casefold(): n for n in missing}
        for start in range(0, len(missing), _LOOKUP_CHUNK):
            query = Q()
            for name in missing[start : start + _LOOKUP_CHUNK]:
                query |= Q(username__iexact=name)
            for found in User.objects.filter(query).select_related("account"):
                original = folded.get(found.username.casefold())
                if original is not None and original not in users:
                    users[original] = found
    enrolled: set[int] = set()
    ids = [u.pk for u in users.values()]
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        enrolled.update(
            Enrollment.objects.filter(
                package_id=package_id,
                withdrawn_at__isnull=True,
                learner_id__in=ids[start : start + _LOOKUP_CHUNK],
            ).values_list("learner_id", flat=True)
        )
    preview = EnrolmentPreview()
    seen: dict[int, str] = {}
    for line, username in wanted:
        user: Any = users.get(username)
        problem = ""
        if not username:
            problem = "No username on this line."
        elif user is None:
            problem = f"Nobody has the username “{username}”."
        elif not user.is_active:
            problem = f"{user.username}'s account is deactivated; reactivate it first."
        elif _staff(user):
            problem = f"{user.username} is an admin or auditor, not a learner."
        elif user.pk in seen:
            problem = f"Listed twice: already on {seen[user.pk]}."
        elif user.pk in enrolled:
            problem = f"{user.username} is already enrolled in this package."
        if user is not None and user.pk not in seen:
            seen[user.pk] = line
        preview.rows.append(
            PreviewRow(
                line=line,
                username=username,
                learner_id=user.pk if user is not None else None,
                name=(user.get_full_name() or user.username) if user is not None else "",
                problem=problem,
            )
        )
    return preview


def _staff(user: Any) -> bool:
    account = getattr(user, "account", None)
    if account is not None:
        return bool(account.role != Role.LEARNER)
    return bool(user.is_superuser)


@dataclass(frozen=True)
class NextStep:
    """One required item the learner can work on now, and the courses that advance it."""

    label: str
    # The engine's words for what is left, e.g. "Complete 1 of: ..."; empty for a course.
    explanation: str
    courses: tuple[rules.CourseRef, ...]


def _next_steps(evaluation: rules.Evaluation) -> list[NextStep]:
    steps = []
    for node in evaluation.root.children:
        if not node.required or node.satisfied or node.state == rules.NodeState.LOCKED:
            continue
        if node.course_id is not None:
            steps.append(NextStep(label=node.label, explanation="", courses=node.next_courses))
        elif node.next_courses:
            steps.append(
                NextStep(label=node.label, explanation=node.explanation, courses=node.next_courses)
            )
    return steps


@dataclass(frozen=True)
class TrainingCard:
    """One of a learner's enrollments as their home page shows it."""

    enrollment: Enrollment
    evaluation: rules.Evaluation
    # The required items to work on now, in the tree's order.
    next_steps: list[NextStep]
    # (what is locked, what unlocks it), e.g. ("Fire Safety", "First Aid Basics").
    locked: list[tuple[str, str]]
    why_not_complete: list[str]

    @property
    def percent(self) -> int:
        needed = self.enrollment.progress_needed
        return 100 if needed == 0 else round(100 * self.enrollment.progress_done / needed)


def _locked(node: rules.NodeResult, found: list[tuple[str, str]]) -> None:
    """Collect the locked items under ``node`` with the item before each in its series."""
    previous: rules.NodeResult | None = None
    for child in node.children:
        if child.state == rules.NodeState.LOCKED and node.kind == "series" and previous:
            found.append((child.label, previous.label))
        elif child.state != rules.NodeState.COMPLETED and child.children:
            _locked(child, found)
        previous = child


def my_training(learner_id: int, now: datetime) -> tuple[list[TrainingCard], list[Enrollment]]:
    """Return a learner's open enrollments (with what to do next, what is locked and
    why it is not complete) and their withdrawn ones, newest first."""
    enrollments = list(
        Enrollment.objects.filter(learner_id=learner_id)
        .select_related("package", "version")
        .order_by("-enrolled_at", "-id")
    )
    open_ones = [e for e in enrollments if e.withdrawn_at is None]
    trees = {e.version_id: packaging.requirement_tree(e.version_id) for e in open_ones}
    wanted: set[int] = set()
    for tree in trees.values():
        wanted |= rules.course_ids(tree)
    events = selectors.events_by_learner([learner_id], frozenset(wanted)).get(learner_id, [])
    cards = []
    for enrollment in open_ones:
        evaluation = selectors.evaluate_enrollment(
            enrollment, events, as_of=now, tree=trees[enrollment.version_id]
        )
        locked: list[tuple[str, str]] = []
        _locked(evaluation.root, locked)
        cards.append(
            TrainingCard(
                enrollment=enrollment,
                evaluation=evaluation,
                next_steps=_next_steps(evaluation),
                locked=locked,
                why_not_complete=evaluation.why_not_complete(),
            )
        )
    # Unfinished first: what needs doing comes before what is done.
    cards.sort(key=lambda c: c.evaluation.status == rules.EnrollmentStatus.COMPLETED)
    return cards, [e for e in enrollments if e.withdrawn_at is not None]


def enrollment_events(enrollment: Enrollment) -> list[CompletionEvent]:
    """Return the learner's events on the courses of the enrollment's version, oldest
    first, each with ``voided_by`` loaded (a void of it, if any)."""
    course_ids = packaging.version_course_ids(enrollment.version_id)
    return list(
        CompletionEvent.objects.filter(learner_id=enrollment.learner_id, course_id__in=course_ids)
        .select_related("course", "recorded_by", "voided_by", "voids")
        .order_by("occurred_at", "id")
    )


def get_event(event_id: int) -> CompletionEvent | None:
    """Return the completion event with its learner, course and recorder, or None."""
    return (
        CompletionEvent.objects.select_related("learner", "course", "recorded_by")
        .filter(pk=event_id)
        .first()
    )


def _count_of(rows: QuerySet[Any]) -> Coalesce:
    counted = rows.order_by().values("learner_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def learner_directory(search: str = "") -> QuerySet[Any]:
    """Return the users whose transcripts can be read, by username, with how many
    enrollments (open and in all) and completion events (voids not counted) each has.

    ``search`` narrows to usernames and names containing it.
    """
    users = get_user_model().objects.all()
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    mine = Enrollment.objects.filter(learner_id=OuterRef("pk"))
    return users.annotate(
        open_enrollments=_count_of(mine.filter(withdrawn_at__isnull=True)),
        all_enrollments=_count_of(mine),
        event_count=_count_of(
            CompletionEvent.objects.filter(learner_id=OuterRef("pk")).exclude(kind=EventKind.VOID)
        ),
    ).order_by("username", "pk")
