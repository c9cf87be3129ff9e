"""Publishing package versions: checks, scheduling, archiving, the publish log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal, Protocol

from django.db import transaction
from django.utils import timezone

from coursepack import rules
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.errors import InvalidInput
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    PublishValidationFailed,
    VersionNotDraft,
)
from coursepack.packaging.models import (
    Package,
    PackageVersion,
    PublishAction,
    PublishRecord,
    VersionStatus,
)
from coursepack.packaging.services._common import (
    _check_notes,
    _check_past,
    _check_revision,
    _located_problems,
    _lock_version,
    _require_package_open,
    _tree_problems,
    _user,
)
from coursepack.validation import collecting


def publish_problems(version_id: int) -> list[str]:
    """Return every reason the version cannot be published (empty when it can)."""
    return _tree_problems(selectors.requirement_tree(version_id))


@dataclass(frozen=True)
class PublishProblem:
    """One reason a draft cannot be published, and the item it is about.

    ``position`` is the 1-based position of the draft's item the problem is in (for a
    problem inside a group, the group's position); None when it is about the whole draft.
    """

    message: str
    position: int | None


def located_publish_problems(version_id: int, *, group: bool = False) -> list[PublishProblem]:
    """Return every reason a package draft (or, with ``group``, a group draft) cannot be
    published, each with the position of the item to fix."""
    node: rules.Group | rules.RequirementTree = (
        selectors.group_tree(version_id) if group else selectors.requirement_tree(version_id)
    )
    return [
        PublishProblem(message, path[0] + 1 if path else None)
        for message, path in _located_problems(node)
    ]


InFlightPolicyName = Literal["keep", "move_not_started", "move_in_progress"]


class InflightMover(Protocol):
    """Move a package's open enrollments from one version to the next at publish.

    ``learning`` owns enrollments and registers its ``move_inflight`` here when
    Django starts (``LearningConfig.ready``), so packaging never imports it.
    """

    def __call__(
        self,
        *,
        actor: Actor,
        from_version: PackageVersion,
        to_version: PackageVersion,
        policy: InFlightPolicyName,
        at: datetime,
    ) -> int: ...


_inflight_movers: list[InflightMover] = []


def register_inflight_mover(mover: InflightMover) -> None:
    """Make ``mover`` the one ``publish_version`` calls for a policy other than keep."""
    _inflight_movers[:] = [mover]


def _inflight_mover() -> InflightMover:
    if not _inflight_movers:
        raise RuntimeError(
            "No in-flight mover is registered: add coursepack.learning to INSTALLED_APPS, "
            "whose ready() registers learning.api.move_inflight."
        )
    return _inflight_movers[0]


@dataclass(frozen=True)
class PublishOutcome:
    """What a publish did."""

    version: PackageVersion
    previous: PackageVersion | None
    scheduled: bool
    record: PublishRecord
    moved_enrollments: int = 0


def _archive(
    version: PackageVersion, *, at: datetime, actor: Actor, now: datetime, reason: str
) -> None:
    before_status = version.status
    version.status = VersionStatus.ARCHIVED
    version.archived_at = at
    version.archived_by = _user(actor)
    version.save(update_fields=["status", "archived_at", "archived_by"])
    entry = PublishRecord.objects.create(
        package_id=version.package_id,
        version=version,
        action=PublishAction.ARCHIVED,
        occurred_at=at,
        actor=_user(actor),
        change_notes=reason,
    )
    audit.record(
        actor=actor,
        action="version.archived",
        target=version,
        at=now,
        before={"status": before_status},
        after={"status": version.status, "archived_at": at.isoformat()},
        notes=reason,
        package_id=version.package_id,
        binds=[entry],
    )


def settle_package(package: Package, now: datetime) -> None:
    """Bring stored statuses up to the clock: a scheduled version whose date has come
    becomes published and the one it replaces archived — both stamped with the
    effective date, not with now. Call with the package row locked.

    Reads never depend on this (``selectors.active_version`` derives the answer
    from the stamps); writes settle first so stored statuses stay truthful.
    """
    due = PackageVersion.objects.filter(
        package=package, status=VersionStatus.SCHEDULED, effective_from__lte=now
    ).first()
    if due is None:
        return
    assert due.effective_from is not None
    current = PackageVersion.objects.filter(package=package, status=VersionStatus.PUBLISHED).first()
    if current is not None:
        _archive(
            current,
            at=due.effective_from,
            actor=None,
            now=now,
            reason=f"replaced by v{due.version_number} on its effective date",
        )
    due.status = VersionStatus.PUBLISHED
    due.save(update_fields=["status"])
    entry = PublishRecord.objects.create(
        package=package,
        version=due,
        action=PublishAction.ACTIVATED,
        previous_version=current,
        occurred_at=due.effective_from,
        effective_from=due.effective_from,
        change_notes=due.change_notes,
    )
    audit.record(
        actor=None,
        action="version.took_effect",
        target=due,
        at=now,
        before={"status": "scheduled"},
        after={"status": "published"},
        notes=f"effective {due.effective_from.isoformat()}",
        package_id=package.pk,
        binds=[entry],
    )


def _resolve_effective(effective_at: datetime | None, now: datetime) -> datetime | None:
    """Return the future moment a publish takes effect, or None for 'now'."""
    if effective_at is None:
        return None
    if timezone.is_naive(effective_at):
        raise InvalidInput(
            "The effective date is ambiguous.",
            problems=["effective_at: give a time zone (e.g. 2025-01-01T00:00:00Z)"],
        )
    start_of_today = datetime.combine(
        timezone.localdate(now), time.min, tzinfo=timezone.get_current_timezone()
    )
    if effective_at < start_of_today:
        raise InvalidInput(
            "The effective date is in the past.",
            problems=[
                "effective_at: must be today or later; leave it empty to publish now "
                "(history cannot be rewritten by back-dating a version)"
            ],
        )
    return effective_at if effective_at > now else None


def publish_version(
    *,
    actor: Actor,
    version_id: int,
    change_notes: str = "",
    effective_at: datetime | None = None,
    expected_revision: int | None = None,
    inflight_policy: InFlightPolicyName = "keep",
    published_at: datetime | None = None,
    defer_moves: bool = False,
) -> PublishOutcome:
    """Publish a draft.

    Without an effective date (or with one that has come) the draft becomes the
    active version and the previously active one is archived in this same
    transaction. With a future date it is *scheduled*: it becomes the version
    new enrollments get on that date, with no job needing to run. Learners
    already enrolled stay on their version unless ``inflight_policy`` says to
    move them (see ``learning.api.move_inflight``).

    ``published_at`` records a publish that happened in the past, in another
    system (a migration): the version is published and in effect from that
    moment. Only a package's first publish can be back-dated, so no history of
    this system is rewritten; the audit record is stamped with now.

    ``defer_moves`` publishes now and records the policy, but moves nobody: the
    caller moves the learners afterwards in committed chunks (a background job,
    ``jobs.api.start_publish``), so a large package does not hold the write lock
    for the whole move. ``moved_enrollments`` is then 0 on the publish record.
    """
    change_notes = _check_notes(change_notes)
    with collecting("The version cannot be published.") as checks:
        _check_past(checks, "published_at", published_at, timezone.now())
        if published_at is not None and effective_at is not None:
            checks.add("published_at", "give either published_at or effective_at, not both")
        if published_at is not None and inflight_policy != "keep":
            checks.add("inflight_policy", "a back-dated first publish has no one to move")
    with transaction.atomic():
        package, version = _lock_version(version_id)
        if version.status != VersionStatus.DRAFT:
            raise VersionNotDraft(
                f"Version {version.version_number} of {version.name!r} is already {version.status}; "
                "only a draft can be published. Create a new version from it and publish that "
                "draft instead."
            )
        _check_revision(version.revision, expected_revision, f"Draft v{version.version_number}")
        _require_package_open(package, "publish a version")
        now = timezone.now()
        scheduled_for = _resolve_effective(effective_at, now)
        if scheduled_for is not None and inflight_policy != "keep":
            raise InvalidInput(
                "Learners cannot be moved to a version that is not yet in effect.",
                problems=[
                    "inflight_policy: publish now to move enrolled learners, or keep them "
                    "on their version"
                ],
            )
        if (
            published_at is not None
            and PackageVersion.objects.filter(package=package)
            .exclude(status=VersionStatus.DRAFT)
            .exists()
        ):
            raise InvalidInput(
                "Only a package's first publish can be back-dated.",
                problems=[
                    "published_at: this package already has published history; publish now "
                    "instead (history cannot be rewritten by back-dating a version)"
                ],
            )
        problems = publish_problems(version.pk)
        if problems:
            raise PublishValidationFailed(
                f"Version {version.version_number} of {version.name!r} cannot be published "
                "until these are fixed:",
                problems=problems,
            )
        settle_package(package, now)
        before = {"status": version.status}
        current = PackageVersion.objects.filter(
            package=package, status=VersionStatus.PUBLISHED
        ).first()
        superseded = PackageVersion.objects.filter(
            package=package, status=VersionStatus.SCHEDULED
        ).first()
        if superseded is not None:
            _archive(
                superseded,
                at=now,
                actor=actor,
                now=now,
                reason=f"superseded by v{version.version_number} before taking effect",
            )
        if scheduled_for is None and current is not None:
            _archive(
                current,
                at=now,
                actor=actor,
                now=now,
                reason=f"replaced by v{version.version_number}",
            )
        version.status = (
            VersionStatus.PUBLISHED if scheduled_for is None else VersionStatus.SCHEDULED
        )
        version.published_at = published_at or now
        version.published_by = _user(actor)
        version.effective_from = scheduled_for or published_at or now
        version.change_notes = change_notes
        version.save()
        moved = 0
        moves = scheduled_for is None and current is not None and inflight_policy != "keep"
        if moves and not defer_moves:
            assert current is not None
            moved = _inflight_mover()(
                actor=actor,
                from_version=current,
                to_version=version,
                policy=inflight_policy,
                at=now,
            )
        record = PublishRecord.objects.create(
            package=package,
            version=version,
            action=PublishAction.PUBLISHED if scheduled_for is None else PublishAction.SCHEDULED,
            previous_version=current,
            occurred_at=version.published_at,
            actor=_user(actor),
            effective_from=version.effective_from,
            change_notes=change_notes,
            inflight_policy=inflight_policy,
            moved_enrollments=moved,
        )
        package.updated_at = now
        package.save(update_fields=["updated_at"])
        audit.record(
            actor=actor,
            action="version.published" if scheduled_for is None else "version.scheduled",
            target=version,
            at=now,
            before=before,
            after={
                "status": version.status,
                "effective_from": version.effective_from.isoformat(),
                "inflight_policy": inflight_policy,
                "moved_enrollments": moved,
                **({"moves": "in the background"} if moves and defer_moves else {}),
            },
            notes=change_notes,
            package_id=package.pk,
            binds=[record],
        )
    return PublishOutcome(
        version=version,
        previous=current,
        scheduled=scheduled_for is not None,
        record=record,
        moved_enrollments=moved,
    )
