"""Publishing and in-flight learners: preview a publish's impact, move open
enrollments onto a new version (in the publish, or a chunk at a time in the background)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from coursepack import rules
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.errors import InvalidInput
from coursepack.learning import selectors, summaries
from coursepack.learning.models import (
    Enrollment,
    EnrollmentMove,
)
from coursepack.learning.status_cache import (
    _CACHE_FIELDS,
    _refresh,
)
from coursepack.learning.write_support import (
    _CHUNK,
    _chunks,
    _user,
)
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import PackageVersion

__all__ = [
    "POLICY_MOVES",
    "ImpactPreview",
    "InFlightPolicy",
    "MoveChunk",
    "PolicyImpact",
    "count_inflight",
    "move_inflight",
    "move_inflight_chunk",
    "preview_publish",
]


InFlightPolicy = Literal["keep", "move_not_started", "move_in_progress"]

#: Which stored statuses each in-flight policy moves to the new version.
POLICY_MOVES: dict[str, tuple[str, ...]] = {
    "keep": (),
    "move_not_started": ("not_started",),
    # "Keeping their credit" needs nothing special: completion is a function of the
    # learner's events, which belong to the learner, not to the version.
    "move_in_progress": ("not_started", "in_progress"),
}


@dataclass(frozen=True)
class PolicyImpact:
    """What one in-flight policy would do to the enrollments on the current version."""

    policy: str
    moves: int
    gain_completion: int
    lose_completion: int
    further_from_completion: int


@dataclass(frozen=True)
class ImpactPreview:
    """The impact of publishing a draft, per in-flight policy, before confirming."""

    current_version: PackageVersion | None
    open_enrollments: int
    by_status: dict[str, int]
    policies: list[PolicyImpact]


def _remaining(done: int, needed: int) -> int:
    return max(0, needed - done)


def preview_publish(*, version_id: int) -> ImpactPreview:
    """Say, for each in-flight policy, how many enrollments it moves and how their
    completion would change, were the draft published now. Writes nothing."""
    draft = packaging.get_version(version_id)
    now = timezone.now()
    current = packaging.active_version(draft.package_id, now)
    if current is None:
        return ImpactPreview(None, 0, {}, [PolicyImpact(p, 0, 0, 0, 0) for p in POLICY_MOVES])
    open_enrollments = Enrollment.objects.filter(
        version=current, withdrawn_at__isnull=True, superseded_at__isnull=True
    )
    by_status: dict[str, int] = {
        row["status"]: row["n"]
        for row in open_enrollments.values("status").annotate(n=Count("id")).order_by()
    }
    rule = packaging.status_rule(draft.pk)
    movable = open_enrollments.filter(status__in=POLICY_MOVES["move_in_progress"])
    outcomes: dict[str, list[tuple[bool, bool, bool]]] = {
        s: [] for s in POLICY_MOVES["move_in_progress"]
    }
    for chunk in _chunks(movable.values_list("pk", flat=True).iterator(chunk_size=5000), _CHUNK):
        rows = list(Enrollment.objects.filter(pk__in=chunk))
        events = selectors.event_rows_by_learner([e.learner_id for e in rows], rule.course_ids)
        for enrollment in rows:
            # Were they moved now, they would be on the new version from now on.
            summary = rule.summarize(
                rules.course_facts_from_rows(events.get(enrollment.learner_id, [])), now
            )
            was_complete = enrollment.status == "completed"
            now_complete = summary.status == rules.EnrollmentStatus.COMPLETED
            # Further from completion means more work left, not a smaller fraction:
            # an item becoming optional turns 1/3 into 0/2 with the same two left.
            further = _remaining(summary.done, summary.needed) > _remaining(
                enrollment.progress_done, enrollment.progress_needed
            )
            outcomes[enrollment.status].append(
                (now_complete and not was_complete, was_complete and not now_complete, further)
            )
    impacts = []
    for policy, statuses in POLICY_MOVES.items():
        picked = [o for s in statuses for o in outcomes.get(s, [])]
        impacts.append(
            PolicyImpact(
                policy=policy,
                moves=len(picked),
                gain_completion=sum(o[0] for o in picked),
                lose_completion=sum(o[1] for o in picked),
                further_from_completion=sum(o[2] for o in picked),
            )
        )
    return ImpactPreview(current, sum(by_status.values()), by_status, impacts)


def move_inflight(
    *,
    actor: Actor,
    from_version: PackageVersion,
    to_version: PackageVersion,
    policy: InFlightPolicy,
    at: datetime,
) -> int:
    """Move open enrollments on ``from_version`` that the policy names to ``to_version``.

    Called by ``packaging.api.publish_version`` inside its transaction, through the
    in-flight mover port ``LearningConfig.ready`` registers. Each move
    is recorded on the enrollment's history and in the audit log; statuses are
    re-evaluated against the new version.
    """
    if not POLICY_MOVES.get(_known(policy)):
        return 0
    ids = list(_inflight(from_version.pk, policy).values_list("pk", flat=True))
    moved = 0
    User = get_user_model()
    # Deferred: every move takes off the old version's rows and adds to the new one's.
    with summaries.deferred():
        for chunk in _chunks(ids, _CHUNK):
            rows = list(Enrollment.objects.filter(pk__in=chunk))
            # Lock the learners first: a completion recorded for one of them meanwhile
            # waits, then re-evaluates against the version they were moved to.
            list(
                User.objects.select_for_update()
                .filter(pk__in=[e.learner_id for e in rows])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            _move_rows(rows, from_version, to_version, at, actor, policy)
            moved += len(rows)
    audit.record(
        actor=actor,
        action="enrollment.bulk_moved",
        target=to_version,
        at=at,
        before={"version": from_version.pk},
        after={"version": to_version.pk, "enrollments": ids},
        notes=f"in-flight policy {policy}",
        package_id=to_version.package_id,
    )
    return moved


def _known(policy: str) -> str:
    if policy not in POLICY_MOVES:
        raise InvalidInput(
            "Unknown in-flight policy.",
            problems=[f"inflight_policy: must be one of {', '.join(POLICY_MOVES)}"],
        )
    return policy


def _inflight(from_version_id: int, policy: str) -> Any:
    return Enrollment.objects.filter(
        version_id=from_version_id,
        withdrawn_at__isnull=True,
        superseded_at__isnull=True,
        status__in=POLICY_MOVES[_known(policy)],
    )


def _move_rows(
    rows: list[Enrollment],
    from_version: PackageVersion,
    to_version: PackageVersion,
    at: datetime,
    actor: Actor,
    policy: str,
) -> None:
    """Record each enrollment's move, put it on ``to_version`` and re-evaluate its cached
    status there (the caller holds the learners)."""
    EnrollmentMove.objects.bulk_create(
        EnrollmentMove(
            enrollment=e,
            from_version=from_version,
            to_version=to_version,
            moved_at=at,
            actor=_user(actor),
            policy=policy,
        )
        for e in rows
    )
    for e in rows:
        e.version = to_version
    _refresh(rows)
    Enrollment.objects.bulk_update(rows, ["version", *_CACHE_FIELDS], batch_size=1000)


def count_inflight(*, from_version_id: int, policy: InFlightPolicy) -> int:
    """Return how many open enrollments on ``from_version_id`` the policy would move now."""
    return _inflight(from_version_id, policy).count() if POLICY_MOVES.get(policy) else 0


@dataclass(frozen=True)
class MoveChunk:
    """What one chunk of a background move did."""

    moved: list[int]
    # The highest enrollment id this chunk looked at (the job's cursor), or None when
    # there was nothing left to look at.
    last_id: int | None
    # Why the moves stopped early (the target is no longer the active version), or "".
    stopped: str = ""


def move_inflight_chunk(
    *,
    actor: Actor,
    from_version_id: int,
    to_version_id: int,
    policy: InFlightPolicy,
    after_id: int,
    limit: int,
    notes: str = "",
) -> MoveChunk:
    """Move the next ``limit`` open enrollments (by id, after ``after_id``) that the
    policy names from one version to the next, in one transaction with one audit record.

    The background half of a publish with moves (``jobs.start_publish``): the version
    is already published; this moves learners onto it a committed chunk at a time.
    Each enrollment's status is read when its chunk runs, so a learner who started
    (or finished) meanwhile is judged by the status they have then. Running a chunk
    again moves nobody twice (a moved enrollment is no longer on ``from_version``).
    If ``to_version`` is no longer the active version (a newer one was published),
    nothing moves and ``stopped`` says why.
    """
    with transaction.atomic():
        # Lock order: audit chain, learners, enrollments (ADR 0009).
        head = audit.lock_chain()
        to_version = PackageVersion.objects.get(pk=to_version_id)
        if to_version.status != "published":
            return MoveChunk(
                [],
                None,
                f"v{to_version.version_number} is {to_version.status} now: "
                "the learners left were not moved onto it",
            )
        from_version = PackageVersion.objects.get(pk=from_version_id)
        window = list(
            Enrollment.objects.filter(version_id=from_version_id, pk__gt=after_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not window:
            return MoveChunk([], None)
        User = get_user_model()
        learner_ids = list(
            Enrollment.objects.filter(pk__in=window).values_list("learner_id", flat=True)
        )
        list(
            User.objects.select_for_update()
            .filter(pk__in=learner_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Read the statuses with the learners held: a completion committed before this
        # point is already in them, one after it waits and sees the new version.
        rows = list(_inflight(from_version_id, policy).filter(pk__in=window).order_by("pk"))
        if not rows:
            return MoveChunk([], window[-1])
        now = timezone.now()
        with summaries.deferred():
            _move_rows(rows, from_version, to_version, now, actor, policy)
        moved = [e.pk for e in rows]
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="enrollment.bulk_moved",
                    target=to_version,
                    at=now,
                    before={"version": from_version.pk},
                    after={"version": to_version.pk, "enrollments": moved},
                    notes=f"in-flight policy {policy}{f' ({notes})' if notes else ''}",
                    package_id=to_version.package_id,
                )
            ],
            head=head,
        )
        return MoveChunk(moved, window[-1])
