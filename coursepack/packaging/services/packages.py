"""Packages themselves: create, rename, retire, reinstate and delete."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from coursepack import references
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.packaging.errors import (
    PackageHasEnrollments,
    PackageHasHistory,
    PackageKeyTaken,
)
from coursepack.packaging.models import (
    Package,
    PackageStatus,
    PackageVersion,
    VersionStatus,
)
from coursepack.packaging.services._common import (
    _check_key,
    _check_notes,
    _check_past,
    _check_text_inputs,
    _free_key,
    _lock_package,
    _package_snapshot,
    _user,
)
from coursepack.packaging.services.publishing import settle_package
from coursepack.validation import collecting


def create_package(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    category: str = "",
    key: str | None = None,
    created_at: datetime | None = None,
) -> PackageVersion:
    """Create a package and return its draft version 1.

    ``key`` is the package's natural key; a key another package has is refused
    naming that package, so a retried create never makes a second one. Without
    it the key is derived from the name (made unique with a suffix).
    ``created_at`` keeps a past creation time (a package migrated from another
    system); the audit record is stamped with now, when it was written.
    """
    with collecting("The package cannot be created.") as problems:
        name_, description_ = _check_text_inputs(problems, name, description)
        category = problems.text("category", category, max_length=100, required=False)
        key = _check_key(problems, key)
        now = timezone.now()
        _check_past(problems, "created_at", created_at, now)
    with transaction.atomic():
        if key is not None:
            _refuse_taken_key(key)
        try:
            # A savepoint: a concurrent create of the same key loses here, not as a 500.
            with transaction.atomic():
                package = Package.objects.create(
                    key=key or _free_key(Package, name_ or "", "package"),
                    name=name_ or "",
                    description=description_ or "",
                    category=category,
                    created_at=created_at or now,
                    updated_at=created_at or now,
                    created_by=_user(actor),
                )
        except IntegrityError:
            if key is not None:
                _refuse_taken_key(key)
            raise
        version = PackageVersion.objects.create(
            package=package,
            version_number=1,
            name=package.name,
            description=package.description,
            created_at=package.created_at,
            created_by=_user(actor),
        )
        audit.record(
            actor=actor,
            action="package.created",
            target=package,
            at=now,
            after=_package_snapshot(package),
            package_id=package.pk,
        )
    return version


def _refuse_taken_key(key: str) -> None:
    existing = Package.objects.filter(key=key).values_list("pk", flat=True).first()
    if existing is not None:
        raise PackageKeyTaken(
            f"Package {existing} already has the key {key!r}: it is the package this "
            "request creates, or choose another key.",
            existing_id=existing,
        )


def update_package(
    *,
    actor: Actor,
    package_id: int,
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
) -> Package:
    """Change the package container's name, description or category.

    The container's fields are for finding the package; what learners are
    required to do lives in its versions and is not affected.
    """
    with collecting("The package cannot be changed.") as problems:
        name, description = _check_text_inputs(problems, name, description)
        if category is not None:
            category = problems.text("category", category, max_length=100, required=False)
    with transaction.atomic():
        package = _lock_package(package_id)
        before = _package_snapshot(package)
        if name is not None:
            package.name = name
        if description is not None:
            package.description = description
        if category is not None:
            package.category = category
        now = timezone.now()
        package.updated_at = now
        package.save()
        audit.record(
            actor=actor,
            action="package.updated",
            target=package,
            at=now,
            before=before,
            after=_package_snapshot(package),
            package_id=package.pk,
        )
    return package


def _set_package_status(
    *, actor: Actor, package_id: int, status: PackageStatus, action: str, notes: str
) -> Package:
    notes = _check_notes(notes)
    with transaction.atomic():
        package = _lock_package(package_id)
        if package.status == status:
            return package
        before = _package_snapshot(package)
        now = timezone.now()
        settle_package(package, now)
        package.status = status
        package.retired_at = now if status == PackageStatus.RETIRED else None
        package.updated_at = now
        package.save()
        audit.record(
            actor=actor,
            action=action,
            target=package,
            at=now,
            before=before,
            after=_package_snapshot(package),
            notes=notes,
            package_id=package.pk,
        )
    return package


def retire_package(*, actor: Actor, package_id: int, notes: str = "") -> Package:
    """Stop new enrollments and publishes; learners already enrolled keep their version."""
    return _set_package_status(
        actor=actor,
        package_id=package_id,
        status=PackageStatus.RETIRED,
        action="package.retired",
        notes=notes,
    )


def reinstate_package(*, actor: Actor, package_id: int, notes: str = "") -> Package:
    """Open a retired package for enrollments and publishes again."""
    return _set_package_status(
        actor=actor,
        package_id=package_id,
        status=PackageStatus.ACTIVE,
        action="package.reinstated",
        notes=notes,
    )


def delete_package(*, actor: Actor, package_id: int, notes: str = "") -> None:
    """Delete a package that nobody is enrolled in and that was never published."""
    notes = _check_notes(notes)
    with transaction.atomic():
        package = _lock_package(package_id)
        # Enrollments (learning, a higher layer) refer to a package through a
        # PROTECT foreign key; ask the database, not the learning app.
        if any(rows.exists() for _, rows in references.protected_references(package)):
            raise PackageHasEnrollments(
                f"Package {package.name!r} has enrollments; retire it instead of deleting it."
            )
        if package.versions.exclude(status=VersionStatus.DRAFT).exists():
            raise PackageHasHistory(
                f"Package {package.name!r} has published versions, which are kept for the "
                "audit record; retire it instead of deleting it."
            )
        audit.record(
            actor=actor,
            action="package.deleted",
            target=package,
            at=timezone.now(),
            before=_package_snapshot(package),
            notes=notes,
            package_id=package.pk,
        )
        package.versions.all().delete()
        package.delete()
