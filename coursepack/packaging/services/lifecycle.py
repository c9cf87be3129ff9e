"""A package version's lifecycle rules: when its training is due, how long it is valid."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.packaging.models import DueKind, PackageVersion, VersionLifecycle
from coursepack.packaging.services._common import _check_notes, _lock_version, _require_draft
from coursepack.packaging.services.versions import _touch_version
from coursepack.validation import collecting

_MAX_DAYS = 36_600  # a century: anything longer is a typing mistake


def set_version_lifecycle(
    *,
    actor: Actor,
    version_id: int,
    due_kind: str = DueKind.NEVER,
    due_days: int | None = None,
    due_fixed_at: datetime | None = None,
    valid_days: int | None = None,
    window_days: int = 0,
    grace_days: int = 0,
    notes: str = "",
) -> VersionLifecycle:
    """Set a draft version's due-date rule and validity (replacing what the draft had).

    ``due_kind`` is after_enrolment or after_hire (with ``due_days``), fixed (with
    ``due_fixed_at``) or never. ``valid_days`` (none: never expires) with
    ``window_days`` before expiry for recertification and ``grace_days`` after it.
    """
    notes = _check_notes(notes)
    with collecting("The lifecycle rules cannot be set.") as problems:
        if due_kind not in DueKind.values:
            problems.add("due_kind", f"must be one of {', '.join(DueKind.values)}")
        if due_kind in (DueKind.AFTER_ENROLMENT, DueKind.AFTER_HIRE):
            if due_days is None or not 0 <= due_days <= _MAX_DAYS:
                problems.add("due_days", f"give a number of days from 0 to {_MAX_DAYS}")
        elif due_days is not None:
            problems.add("due_days", "only applies to due dates after enrolment or hire")
        if due_kind == DueKind.FIXED:
            if due_fixed_at is None or timezone.is_naive(due_fixed_at):
                problems.add("due_fixed_at", "give a date and time with a time zone")
        elif due_fixed_at is not None:
            problems.add("due_fixed_at", "only applies to a fixed due date")
        if valid_days is not None and not 1 <= valid_days <= _MAX_DAYS:
            problems.add("valid_days", f"give a number of days from 1 to {_MAX_DAYS}")
        for name, value in (("window_days", window_days), ("grace_days", grace_days)):
            if not 0 <= value <= _MAX_DAYS:
                problems.add(name, f"give a number of days from 0 to {_MAX_DAYS}")
        if valid_days is None and (window_days or grace_days):
            problems.add("valid_days", "a recertification window or grace needs a validity")
        elif valid_days is not None and window_days > valid_days:
            problems.add("window_days", "the window cannot open before the completion")
    with transaction.atomic():
        package, version = _lock_version(version_id)
        _require_draft(version, "given new lifecycle rules")
        now = timezone.now()
        before = _snapshot(VersionLifecycle.objects.filter(version=version).first())
        lifecycle, _ = VersionLifecycle.objects.update_or_create(
            version=version,
            defaults={
                "due_kind": due_kind,
                "due_days": due_days,
                "due_fixed_at": due_fixed_at,
                "valid_days": valid_days,
                "window_days": window_days,
                "grace_days": grace_days,
            },
        )
        _touch_version(version)
        audit.record(
            actor=actor,
            action="version.lifecycle_set",
            target=version,
            at=now,
            before=before,
            after=_snapshot(lifecycle),
            notes=notes,
            package_id=package.pk,
        )
    return lifecycle


def copy_lifecycle(source: PackageVersion, draft: PackageVersion) -> None:
    """Copy a version's lifecycle rules into a new draft of the same package."""
    rule = VersionLifecycle.objects.filter(version=source).first()
    if rule is not None:
        rule.pk = None
        rule.version = draft
        rule.save(force_insert=True)


def _snapshot(lifecycle: VersionLifecycle | None) -> dict[str, object] | None:
    if lifecycle is None:
        return None
    return {
        "due_kind": lifecycle.due_kind,
        "due_days": lifecycle.due_days,
        "due_fixed_at": lifecycle.due_fixed_at.isoformat() if lifecycle.due_fixed_at else None,
        "valid_days": lifecycle.valid_days,
        "window_days": lifecycle.window_days,
        "grace_days": lifecycle.grace_days,
    }
