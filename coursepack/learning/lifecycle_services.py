"""The write path of the compliance lifecycle: extensions, exemptions, equivalences and
certification periods (PRODUCT.md, "Compliance lifecycle").

Every fact is a new row (who, when, why), never an update; each function is one
transaction that validates first, writes, recomputes the cached fields of the
enrollments it touches, and appends to the audit log. Import these from
``coursepack.learning.api``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from coursepack import rules
from coursepack.accounts import api as accounts
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseNotFound
from coursepack.catalog.models import Course
from coursepack.learning import lifecycle_facts, selectors
from coursepack.learning.errors import (
    AlreadyRevoked,
    EnrollmentNotFound,
    EquivalenceAlreadyChanged,
    EquivalenceNotFound,
    ExemptionNotFound,
    ItemNotInVersion,
    NoActiveVersion,
    NoPeriodToOpen,
    NotAllowedToExempt,
)
from coursepack.learning.models import (
    DueExtension,
    Enrollment,
    EnrollmentStatus,
    Equivalence,
    EquivalenceChange,
    EquivalenceChangeKind,
    Exemption,
    ExemptionRevocation,
    WaiverReason,
)
from coursepack.learning.status_cache import (
    _apply,
    _lifecycle,
    _new_enrollment_cache,
    _refresh,
    _status_change_entries,
    _status_snapshot,
    _store,
    _summaries,
)
from coursepack.learning.write_support import _lock_learner, _user
from coursepack.packaging import selectors as packaging
from coursepack.validation import collecting

__all__ = [
    "EquivalenceImpact",
    "apply_equivalence_retroactively",
    "create_equivalence",
    "end_equivalence",
    "equivalence_impact",
    "exempt",
    "extend_due_date",
    "open_certification_periods",
    "open_next_period",
    "revoke_exemption",
]

_MAX_BULK = 10_000


def _check_ids(problems: Any, name: str, ids: Iterable[int]) -> list[int]:
    found = list(dict.fromkeys(ids))
    if not found:
        problems.add(name, "choose at least one enrollment")
    elif len(found) > _MAX_BULK:
        problems.add(name, f"at most {_MAX_BULK:,} at a time")
    return found


def _lock_enrollments(enrollment_ids: list[int]) -> list[Enrollment]:
    """Lock the learners of these enrollments (in id order) and return the enrollments."""
    enrollments = list(Enrollment.objects.filter(pk__in=enrollment_ids).order_by("pk"))
    missing = sorted(set(enrollment_ids) - {e.pk for e in enrollments})
    if missing:
        raise EnrollmentNotFound(
            f"There is no enrollment with id {', '.join(map(str, missing[:10]))}."
        )
    for learner_id in sorted({e.learner_id for e in enrollments}):
        _lock_learner(learner_id)
    return enrollments


def _recompute(actor: Actor, enrollments: list[Enrollment], now: datetime, cause: str) -> list:
    """Recompute the enrollments' cached fields, store the changed ones, and return the
    audit entries that say so."""
    befores = {e.pk: _status_snapshot(e) for e in enrollments}
    changed = _refresh(enrollments)
    _store(changed)
    return _status_change_entries(actor, changed, befores, now, cause)


# --- due dates ------------------------------------------------------------------------


def extend_due_date(
    *, actor: Actor, enrollment_ids: Iterable[int], due_at: datetime, reason: str
) -> list[DueExtension]:
    """Extend the due date of one enrollment or many to ``due_at``, in force from now.

    Each enrollment gets its own extension row; the earlier dates stay on the record
    (the due date in force as of an earlier moment is unchanged). Refused for
    withdrawn enrollments and for a date not later than the one in force.
    """
    with collecting("The due date cannot be extended.") as problems:
        ids = _check_ids(problems, "enrollment_ids", enrollment_ids)
        reason = problems.text("reason", reason, max_length=20_000)
        if timezone.is_naive(due_at):
            problems.add("due_at", "must include a time zone")
    with transaction.atomic():
        chain = audit.lock_chain()
        enrollments = _lock_enrollments(ids)
        now = timezone.now()
        with collecting("The due date cannot be extended.") as problems:
            for e in enrollments:
                if e.withdrawn_at is not None or e.superseded_at is not None:
                    problems.add("enrollment_ids", f"enrollment {e.pk} is closed")
                elif e.due_in_force is not None and due_at <= e.due_in_force:
                    problems.add(
                        "due_at",
                        f"enrollment {e.pk} is already due on "
                        f"{e.due_in_force:%Y-%m-%d %H:%M %Z}; choose a later date",
                    )
        rows = DueExtension.objects.bulk_create(
            DueExtension(
                enrollment=e,
                due_at=due_at,
                effective_at=now,
                recorded_at=now,
                recorded_by=_user(actor),
                reason=reason,
            )
            for e in enrollments
        )
        entries = [
            audit.Entry(
                actor=actor,
                action="enrollment.due_extended",
                target=e,
                at=now,
                before={"due_in_force": e.due_in_force.isoformat() if e.due_in_force else None},
                after={"due_at": due_at.isoformat()},
                notes=reason,
                package_id=e.package_id,
            )
            for e in enrollments
        ]
        entries += _recompute(actor, enrollments, now, "due date extended")
        audit.record_all(entries, head=chain)
    return rows


# --- exemptions -----------------------------------------------------------------------


def _require_may_exempt(actor: Actor) -> None:
    if actor is None:
        return  # the system itself (a command or an import) acts for an admin
    role = accounts.role_of(actor)
    allowed = tuple(getattr(settings, "COURSEPACK_EXEMPTING_ROLES", ("admin",)))
    if role is None or role.value not in allowed:
        raise NotAllowedToExempt(
            "Your role may not grant or revoke exemptions; ask someone whose role is "
            f"{' or '.join(allowed)} (COURSEPACK_EXEMPTING_ROLES)."
        )


def _tree_has(tree: rules.RequirementTree, *, course_id: int | None, group_id: int | None) -> bool:
    if course_id is None and group_id is None:
        return True
    stack = [item.node for item in tree.items]
    while stack:
        node = stack.pop()
        if isinstance(node, rules.CourseRef):
            if node.course_id == course_id:
                return True
        else:
            if node.group_id == group_id:
                return True
            stack.extend(item.node for item in node.items)
    return False


def exempt(
    *,
    actor: Actor,
    enrollment_ids: Iterable[int],
    reason: str,
    note: str = "",
    course_id: int | None = None,
    group_id: int | None = None,
    ends_at: datetime | None = None,
) -> list[Exemption]:
    """Exempt one enrollment or many from one course or group item (or, with neither,
    from the whole package), from now on, with a cmi5 waived reason and a note.

    The item must be in each enrollment's version. An exempt item counts as
    satisfied from now; it never makes anyone less complete. With ``ends_at`` (a
    waiver valid until a date) it lapses then: from that moment it no longer counts,
    with no job needed. All or nothing: one refused enrollment refuses the whole
    selection, naming it.
    """
    _require_may_exempt(actor)
    with collecting("The exemption cannot be recorded.") as problems:
        ids = _check_ids(problems, "enrollment_ids", enrollment_ids)
        if reason not in WaiverReason.values:
            problems.add("reason", f"must be one of {', '.join(WaiverReason.values)}")
        note = problems.text("note", note, max_length=20_000, required=False)
        if course_id is not None and group_id is not None:
            problems.add("group_id", "exempt from a course or a group, not both at once")
        if ends_at is not None:
            if timezone.is_naive(ends_at):
                problems.add("ends_at", "must include a time zone")
            elif ends_at <= timezone.now():
                problems.add("ends_at", "must be in the future (leave it empty for no end)")
    with transaction.atomic():
        chain = audit.lock_chain()
        enrollments = _lock_enrollments(ids)
        now = timezone.now()
        for e in enrollments:
            if e.withdrawn_at is not None or e.superseded_at is not None:
                raise ItemNotInVersion(f"Enrollment {e.pk} is closed; exempt its open period.")
            tree = packaging.requirement_tree(e.version_id)
            if not _tree_has(tree, course_id=course_id, group_id=group_id):
                what = f"course {course_id}" if course_id is not None else f"group {group_id}"
                raise ItemNotInVersion(
                    f"Version {tree.version_number} of {tree.name!r} (enrollment {e.pk}) has no "
                    f"{what}; exempt from an item of the learner's own version."
                )
        rows = Exemption.objects.bulk_create(
            Exemption(
                enrollment=e,
                course_id=course_id,
                group_id=group_id,
                reason=reason,
                note=note,
                effective_at=now,
                ends_at=ends_at,
                recorded_at=now,
                recorded_by=_user(actor),
            )
            for e in enrollments
        )
        entries = [
            audit.Entry(
                actor=actor,
                action="enrollment.exempted",
                target=e,
                at=now,
                after={
                    "reason": reason,
                    "course": course_id,
                    "group": group_id,
                    **({"ends_at": ends_at.isoformat()} if ends_at is not None else {}),
                },
                notes=note,
                package_id=e.package_id,
            )
            for e in enrollments
        ]
        entries += _recompute(actor, enrollments, now, "exemption granted")
        audit.record_all(entries, head=chain)
    return rows


def revoke_exemption(*, actor: Actor, exemption_id: int, reason: str) -> ExemptionRevocation:
    """Revoke an exemption from now on; before now it still counted (this is not a
    correction of the record)."""
    _require_may_exempt(actor)
    with collecting("The exemption cannot be revoked.") as problems:
        reason = problems.text("reason", reason, max_length=20_000)
    with transaction.atomic():
        try:
            exemption = Exemption.objects.get(pk=exemption_id)
        except Exemption.DoesNotExist:
            raise ExemptionNotFound(f"There is no exemption with id {exemption_id}.") from None
        chain = audit.lock_chain()
        (enrollment,) = _lock_enrollments([exemption.enrollment_id])
        if ExemptionRevocation.objects.filter(exemption=exemption).exists():
            raise AlreadyRevoked(f"Exemption {exemption_id} was already revoked.")
        now = timezone.now()
        revocation = ExemptionRevocation.objects.create(
            exemption=exemption,
            effective_at=now,
            recorded_at=now,
            recorded_by=_user(actor),
            reason=reason,
        )
        entries = [
            audit.Entry(
                actor=actor,
                action="enrollment.exemption_revoked",
                target=enrollment,
                at=now,
                after={"exemption": exemption.pk},
                notes=reason,
                package_id=enrollment.package_id,
            ),
            *_recompute(actor, [enrollment], now, "exemption revoked"),
        ]
        audit.record_all(entries, head=chain)
    return revocation


# --- equivalences ---------------------------------------------------------------------


@dataclass(frozen=True)
class EquivalenceImpact:
    """What creating (or retroactively applying) an equivalence would do now."""

    # Open enrollments whose version contains a course the equivalence counts for.
    enrollments_checked: int
    # Of those, how many would become complete.
    would_complete: int
    would_complete_ids: list[int]


def _enrollments_with(course_ids: set[int], *, closed_too: bool = False) -> list[Enrollment]:
    """Return the open enrollments (with ``closed_too``, every one) whose version contains
    any of these courses."""
    rows = Enrollment.objects.all()
    if not closed_too:
        rows = rows.filter(withdrawn_at__isnull=True, superseded_at__isnull=True)
    version_ids = rows.values_list("version_id", flat=True).distinct().order_by()
    wanted = [v for v in version_ids if not course_ids.isdisjoint(packaging.version_course_ids(v))]
    return list(rows.filter(version_id__in=wanted).order_by("pk"))


def _impact(equivalences: lifecycle_facts.EquivalenceFacts, targets: set[int]) -> EquivalenceImpact:
    enrollments = [e for e in _enrollments_with(targets) if e.status != EnrollmentStatus.COMPLETED]
    lifecycle = _lifecycle((e.pk for e in enrollments), equivalences)
    events = selectors.event_rows_by_learner({e.learner_id for e in enrollments})
    moved = selectors.latest_moves(e.pk for e in enrollments)
    keys = [
        (
            e.pk,
            e.learner_id,
            e.version_id,
            e.withdrawn_at,
            e.enrolled_at,
            e.superseded_at,
            e.counts_from,
            e.due_at,
        )
        for e in enrollments
    ]
    complete = [
        e.pk
        for e, cached in zip(enrollments, _summaries(keys, events, moved, lifecycle), strict=True)
        if cached[0] == EnrollmentStatus.COMPLETED
    ]
    return EquivalenceImpact(len(enrollments), len(complete), complete)


def _proposed(
    source_course_id: int, target_course_id: int, both_ways: bool, retroactive: bool, now: datetime
) -> lifecycle_facts.EquivalenceFacts:
    current = lifecycle_facts.equivalence_facts()
    added = [rules.Equivalence(0, source_course_id, target_course_id, now, retroactive, now)]
    if both_ways:
        added.append(
            rules.Equivalence(0, target_course_id, source_course_id, now, retroactive, now)
        )
    return lifecycle_facts.EquivalenceFacts((*current.equivalences, *added), current.changes)


def _check_equivalence(problems: Any, source_course_id: int, target_course_id: int) -> None:
    if source_course_id == target_course_id:
        problems.add("target_course_id", "choose a different course from the source")


def equivalence_impact(
    *,
    source_course_id: int | None = None,
    target_course_id: int | None = None,
    both_ways: bool = False,
    retroactive: bool = False,
    equivalence_id: int | None = None,
) -> EquivalenceImpact:
    """Return what creating an equivalence now would change — or, given
    ``equivalence_id``, what applying that one retroactively now would — without
    writing anything: how many open enrollments it touches and which would become
    complete. The engine's pure computation over the proposed facts, the same one
    ``create_equivalence`` and ``apply_equivalence_retroactively`` record."""
    if equivalence_id is not None:
        try:
            existing = Equivalence.objects.get(pk=equivalence_id)
        except Equivalence.DoesNotExist:
            raise EquivalenceNotFound(
                f"There is no equivalence with id {equivalence_id}."
            ) from None
        source_course_id, target_course_id = existing.source_id, existing.target_id
        both_ways, retroactive = existing.both_ways, True
    with collecting("The equivalence's impact cannot be computed.") as problems:
        if source_course_id is None:
            problems.add("source_course_id", "choose the course whose completions count")
        if target_course_id is None:
            problems.add("target_course_id", "choose the course they count for")
        if source_course_id is not None and target_course_id is not None:
            _check_equivalence(problems, source_course_id, target_course_id)
    assert source_course_id is not None and target_course_id is not None
    for course_id in (source_course_id, target_course_id):
        if not Course.objects.filter(pk=course_id).exists():
            raise CourseNotFound(f"There is no course with id {course_id}.")
    proposed = _proposed(source_course_id, target_course_id, both_ways, retroactive, timezone.now())
    targets = {target_course_id, source_course_id} if both_ways else {target_course_id}
    return _impact(proposed, targets)


def create_equivalence(
    *,
    actor: Actor,
    source_course_id: int,
    target_course_id: int,
    both_ways: bool = False,
    retroactive: bool = False,
    notes: str = "",
) -> tuple[Equivalence, EquivalenceImpact]:
    """Make a completion of the source course count for the target (and the reverse when
    ``both_ways``) from now on — or, when ``retroactive``, for earlier completions too,
    as recorded. Return the equivalence and its impact (computed before it was applied)."""
    with collecting("The equivalence cannot be created.") as problems:
        _check_equivalence(problems, source_course_id, target_course_id)
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    with transaction.atomic():
        chain = audit.lock_chain()
        for course_id in (source_course_id, target_course_id):
            if not Course.objects.filter(pk=course_id).exists():
                raise CourseNotFound(f"There is no course with id {course_id}.")
        now = timezone.now()
        targets = {target_course_id, source_course_id} if both_ways else {target_course_id}
        impact = _impact(
            _proposed(source_course_id, target_course_id, both_ways, retroactive, now), targets
        )
        equivalence = Equivalence.objects.create(
            source_id=source_course_id,
            target_id=target_course_id,
            both_ways=both_ways,
            starts_at=now,
            retroactive=retroactive,
            recorded_at=now,
            recorded_by=_user(actor),
            notes=notes,
        )
        entries = [
            audit.Entry(
                actor=actor,
                action="equivalence.created",
                target=equivalence,
                at=now,
                after={
                    "source": source_course_id,
                    "target": target_course_id,
                    "both_ways": both_ways,
                    "retroactive": retroactive,
                    "would_complete": impact.would_complete,
                },
                notes=notes,
            )
        ]
        entries += _recompute_courses(actor, targets, now, f"equivalence {equivalence.pk}")
        audit.record_all(entries, head=chain)
    return equivalence, impact


def _recompute_courses(actor: Actor, courses: set[int], now: datetime, cause: str) -> list:
    # Closed ones too: a withdrawn enrollment keeps what it had as of its withdrawal *as
    # known now*, and a retroactive equivalence changes what is known of then.
    enrollments = _enrollments_with(courses, closed_too=True)
    for learner_id in sorted({e.learner_id for e in enrollments}):
        _lock_learner(learner_id)
    return _recompute(actor, enrollments, now, cause) if enrollments else []


def _change_equivalence(
    *, actor: Actor, equivalence_id: int, kind: str, notes: str
) -> EquivalenceChange:
    with collecting("The equivalence cannot be changed.") as problems:
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    with transaction.atomic():
        chain = audit.lock_chain()
        try:
            equivalence = Equivalence.objects.select_for_update().get(pk=equivalence_id)
        except Equivalence.DoesNotExist:
            raise EquivalenceNotFound(
                f"There is no equivalence with id {equivalence_id}."
            ) from None
        done = EquivalenceChange.objects.filter(equivalence=equivalence)
        if done.filter(kind=EquivalenceChangeKind.END).exists():
            raise EquivalenceAlreadyChanged(f"Equivalence {equivalence_id} has already ended.")
        if done.filter(kind=kind).exists() or (
            kind == EquivalenceChangeKind.RETROACTIVE and equivalence.retroactive
        ):
            raise EquivalenceAlreadyChanged(
                f"Equivalence {equivalence_id} is already applied retroactively."
            )
        now = timezone.now()
        change = EquivalenceChange.objects.create(
            equivalence=equivalence,
            kind=kind,
            occurred_at=now,
            recorded_at=now,
            recorded_by=_user(actor),
            notes=notes,
        )
        courses = {equivalence.target_id}
        if equivalence.both_ways:
            courses.add(equivalence.source_id)
        entries = [
            audit.Entry(
                actor=actor,
                action=f"equivalence.{'ended' if kind == 'end' else 'applied_retroactively'}",
                target=equivalence,
                at=now,
                after={"change": kind},
                notes=notes,
            ),
            *_recompute_courses(actor, courses, now, f"equivalence {equivalence.pk} {kind}"),
        ]
        audit.record_all(entries, head=chain)
    return change


def end_equivalence(*, actor: Actor, equivalence_id: int, notes: str = "") -> EquivalenceChange:
    """End an equivalence now: later completions of the source no longer count; credit
    already earned through it stays."""
    return _change_equivalence(
        actor=actor, equivalence_id=equivalence_id, kind=EquivalenceChangeKind.END, notes=notes
    )


def apply_equivalence_retroactively(
    *, actor: Actor, equivalence_id: int, notes: str = ""
) -> EquivalenceChange:
    """Let completions of the source from before the equivalence's start count too, as
    known from now (recorded as a retroactive application)."""
    return _change_equivalence(
        actor=actor,
        equivalence_id=equivalence_id,
        kind=EquivalenceChangeKind.RETROACTIVE,
        notes=notes,
    )


# --- certification periods ------------------------------------------------------------


def _window_opens_at(enrollment: Enrollment) -> datetime | None:
    _, certification = packaging.lifecycle_rules([enrollment.version_id])[enrollment.version_id]
    if certification is None or enrollment.expires_at is None:
        return None
    return enrollment.expires_at - timedelta(days=certification.window_days)


def _open_period(actor: Actor, previous: Enrollment, opens_at: datetime, now: datetime) -> list:
    """Create the period after ``previous`` (locked) on the version active when the window
    opened; return the audit entries."""
    version = packaging.active_version(previous.package_id, opens_at) or packaging.active_version(
        previous.package_id, now
    )
    if version is None:
        raise NoActiveVersion(
            f"Package {previous.package_id} has no published version to open the next "
            "certification period on; publish one first."
        )
    before = _status_snapshot(previous)
    previous.superseded_at = opens_at
    nxt = Enrollment(
        learner_id=previous.learner_id,
        package_id=previous.package_id,
        version=version,
        enrolled_at=opens_at,
        enrolled_by=_user(actor),
        due_at=previous.expires_at,
        period_number=previous.period_number + 1,
        previous_period=previous,
        counts_from=opens_at,
    )
    _refresh([previous])
    previous.save()
    _, certification = packaging.lifecycle_rules([version.pk])[version.pk]
    _apply(nxt, _new_enrollment_cache(nxt, certification))
    nxt.save()
    return [
        audit.Entry(
            actor=actor,
            action="enrollment.period_closed",
            target=previous,
            at=now,
            before=before,
            after={**_status_snapshot(previous), "superseded_at": opens_at.isoformat()},
            package_id=previous.package_id,
        ),
        audit.Entry(
            actor=actor,
            action="enrollment.period_opened",
            target=nxt,
            at=now,
            after={
                **_status_snapshot(nxt),
                "period": nxt.period_number,
                "previous_period": previous.pk,
                "opened_at": opens_at.isoformat(),
            },
            package_id=nxt.package_id,
        ),
    ]


def open_next_period(*, actor: Actor, enrollment_id: int) -> Enrollment:
    """Open the next certification period of a completed enrollment whose
    recertification window has opened; return the new enrollment."""
    with transaction.atomic():
        chain = audit.lock_chain()
        (previous,) = _lock_enrollments([enrollment_id])
        previous.refresh_from_db()
        now = timezone.now()
        opens_at = _window_opens_at(previous)
        if (
            previous.withdrawn_at is not None
            or previous.superseded_at is not None
            or opens_at is None
            or opens_at > now
        ):
            raise NoPeriodToOpen(
                f"Enrollment {enrollment_id} has no recertification window open now "
                "(it is not complete, does not expire, is closed, or its window opens later)."
            )
        entries = _open_period(actor, previous, opens_at, now)
        audit.record_all(entries, head=chain)
    return previous.next_period


def open_certification_periods(*, actor: Actor, now: datetime | None = None) -> int:
    """Open every certification period whose window has opened by ``now`` (default: now),
    one transaction per learner; return how many were opened. Run it periodically (the
    ``open_certification_periods`` command): standings are right without it, derived
    from the dates at read time, but a new period is what the learner works on."""
    moment = now or timezone.now()
    candidates = (
        Enrollment.objects.filter(
            withdrawn_at__isnull=True,
            superseded_at__isnull=True,
            expires_at__isnull=False,
            status=EnrollmentStatus.COMPLETED,
        )
        # No window opens earlier than the widest window before expiry.
        .filter(expires_at__lte=moment + timedelta(days=packaging.widest_window_days()))
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    opened = 0
    for enrollment_id in list(candidates):
        enrollment = Enrollment.objects.get(pk=enrollment_id)
        opens_at = _window_opens_at(enrollment)
        if opens_at is None or opens_at > moment:
            continue
        try:
            open_next_period(actor=actor, enrollment_id=enrollment_id)
        except NoPeriodToOpen:
            continue  # closed or completed differently meanwhile
        opened += 1
    return opened
