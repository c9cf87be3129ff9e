"""Enrolment: enrol one learner or many in a package's active version, withdraw."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from coursepack import rules
from coursepack.accounts.models import Account
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.learning import lifecycle_facts, selectors, summaries
from coursepack.learning.errors import (
    AlreadyEnrolled,
    AlreadyWithdrawn,
    EnrollmentNotFound,
    NoActiveVersion,
    VersionNotEnrollable,
)
from coursepack.learning.models import (
    Enrollment,
)
from coursepack.learning.status_cache import (
    _apply,
    _cached,
    _new_enrollment_cache,
    _refresh,
    _status_snapshot,
)
from coursepack.learning.write_support import (
    _CHUNK,
    _chunks,
    _lock_learner,
    _user,
)
from coursepack.packaging import selectors as packaging
from coursepack.packaging.errors import PackageNotFound, VersionNotFound
from coursepack.packaging.models import Package, PackageStatus, PackageVersion
from coursepack.validation import collecting

__all__ = [
    "BulkEnrollResult",
    "bulk_enroll",
    "enroll",
    "withdraw",
]


def _hire_dates(learner_ids: Iterable[int]) -> dict[int, date]:
    """Return the known hire dates of these learners (one query)."""
    rows = (
        Account.objects.filter(user_id__in=list(learner_ids), hire_date__isnull=False)
        .values_list("user_id", "hire_date")
        .order_by()
    )
    return {user_id: hired for user_id, hired in rows if hired is not None}


def _enrollable_version(package: Package, version_id: int | None, now: datetime) -> PackageVersion:
    if package.status == PackageStatus.RETIRED:
        raise VersionNotEnrollable(
            f"Package {package.name!r} is retired and takes no new enrollments; "
            "reinstate it or choose another package."
        )
    active = packaging.active_version(package.pk, now)
    if version_id is not None and (active is None or version_id != active.pk):
        asked = PackageVersion.objects.filter(pk=version_id, package=package).first()
        if asked is None:
            raise VersionNotFound(f"Package {package.name!r} has no version with id {version_id}.")
        state = packaging.version_state(asked, active_id=active.pk if active else None, now=now)
        instead = (
            f"learners can only enrol in the active version, {active.version_number}."
            if active is not None
            else "publish it (or wait for the scheduled version to take effect) first."
        )
        raise VersionNotEnrollable(f"Version {asked.version_number} is {state}; {instead}")
    if active is None:
        raise NoActiveVersion(
            f"Package {package.name!r} has no published version in effect yet; publish a "
            "version (or wait for the scheduled one) before enrolling learners."
        )
    return active


def _lock_package(package_id: int) -> Package:
    try:
        return Package.objects.select_for_update().get(pk=package_id)
    except Package.DoesNotExist:
        raise PackageNotFound(f"There is no package with id {package_id}.") from None


def enroll(
    *,
    actor: Actor,
    learner_id: int,
    package_id: int,
    version_id: int | None = None,
    notes: str = "",
) -> Enrollment:
    """Enrol a learner in the package's active version, pinned to it from now on.

    ``version_id``, when given, must be that active version: an integration that
    thinks it enrols in a particular version is told if it is no longer the one.
    """
    with transaction.atomic():
        package = _lock_package(package_id)
        audit.lock_chain()
        learner = _lock_learner(learner_id)
        now = timezone.now()
        version = _enrollable_version(package, version_id, now)
        existing = (
            Enrollment.objects.filter(learner=learner, package=package, withdrawn_at__isnull=True)
            .values_list("pk", flat=True)
            .first()
        )
        if existing is not None:
            raise AlreadyEnrolled(
                f"{learner.get_username()} is already enrolled in {package.name!r}; "
                "withdraw that enrollment first to enrol again.",
                existing_id=existing,
            )
        due_rule, certification = packaging.lifecycle_rules([version.pk])[version.pk]
        due_at = rules.initial_due_at(
            due_rule, enrolled_at=now, hire_date=_hire_dates([learner.pk]).get(learner.pk)
        )
        enrollment = Enrollment(
            learner=learner,
            package=package,
            version=version,
            enrolled_at=now,
            enrolled_by=_user(actor),
            due_at=due_at,
        )
        _apply(enrollment, _new_enrollment_cache(enrollment, certification))
        try:
            with transaction.atomic():
                enrollment.save()
        except IntegrityError:
            raise AlreadyEnrolled(
                f"{learner.get_username()} is already enrolled in {package.name!r}."
            ) from None
        audit.record(
            actor=actor,
            action="enrollment.created",
            target=enrollment,
            at=now,
            after=_status_snapshot(enrollment),
            notes=notes,
            package_id=package.pk,
        )
    return enrollment


@dataclass
class BulkEnrollResult:
    """What a bulk enrolment did."""

    version: PackageVersion
    enrolled: int = 0
    already_enrolled: list[int] = field(default_factory=list)
    unknown_learners: list[int] = field(default_factory=list)


def bulk_enroll(
    *,
    actor: Actor,
    package_id: int,
    learner_ids: Iterable[int],
    notes: str = "",
    progress: Callable[[int], None] | None = None,
    chunk_size: int = _CHUNK,
    enrolled_at: Mapping[int, datetime] | None = None,
) -> BulkEnrollResult:
    """Enrol many learners in the package's active version in one transaction.

    Learners are read in chunks from ``learner_ids`` (any iterable, so a file can
    be streamed); those already enrolled or unknown are reported, not errors.
    ``progress`` is called with the number of learners handled in each chunk.
    ``enrolled_at`` keeps, per learner id, the moment they were really enrolled
    (a migration from another system); learners not in it are enrolled now.
    """
    User = get_user_model()
    if enrolled_at:
        with collecting("The learners cannot be enrolled.") as problems:
            limit = timezone.now()
            for learner_id, moment in enrolled_at.items():
                if timezone.is_naive(moment) or moment > limit:
                    problems.add(
                        "enrolled_at",
                        f"learner {learner_id}: must include a time zone and not be in the future",
                    )
                    break
    # Deferred: every new enrollment counts under the same few summary keys (ADR 0037).
    with transaction.atomic(), summaries.deferred():
        package = _lock_package(package_id)
        audit.lock_chain()
        now = timezone.now()
        version = _enrollable_version(package, None, now)
        rule = packaging.status_rule(version.pk)
        due_rule, certification = packaging.lifecycle_rules([version.pk])[version.pk]
        equivalences = lifecycle_facts.equivalence_facts()
        courses = set(rule.course_ids) | equivalences.sources_for(rule.course_ids)
        result = BulkEnrollResult(version=version)
        enrolled_by = getattr(_user(actor), "pk", None)
        seen: set[int] = set()
        enrolled_ids: list[int] = []
        for chunk in _chunks(learner_ids, chunk_size):
            wanted = [i for i in dict.fromkeys(chunk) if i not in seen]
            seen.update(wanted)
            # Lock the learners (in id order, as every bulk write does) so that a
            # completion recorded for one of them meanwhile waits and is counted.
            known = set(
                User.objects.select_for_update()
                .filter(pk__in=wanted)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            taken = set(
                Enrollment.objects.filter(
                    package=package, learner_id__in=wanted, withdrawn_at__isnull=True
                ).values_list("learner_id", flat=True)
            )
            events = selectors.event_rows_by_learner(known - taken, courses)
            hired = _hire_dates(known - taken)
            rows = []
            for learner_id in wanted:
                if learner_id not in known:
                    result.unknown_learners.append(learner_id)
                elif learner_id in taken:
                    result.already_enrolled.append(learner_id)
                else:
                    # Ids, not instances: the relation descriptors cost at 100k rows.
                    enrollment = Enrollment(
                        learner_id=learner_id,
                        package_id=package.pk,
                        version_id=version.pk,
                        enrolled_at=enrolled_at.get(learner_id, now) if enrolled_at else now,
                        enrolled_by_id=enrolled_by,
                    )
                    enrollment.due_at = rules.initial_due_at(
                        due_rule,
                        enrolled_at=enrollment.enrolled_at,
                        hire_date=hired.get(learner_id),
                    )
                    facts = rules.course_facts_from_rows(
                        events.get(learner_id, []),
                        equivalences=equivalences.equivalences,
                        equivalence_changes=equivalences.changes,
                    )
                    _apply(
                        enrollment,
                        _cached(
                            rule.summarize(facts, enrollment.enrolled_at),
                            due_at=enrollment.due_at,
                            certification=certification,
                        ),
                    )
                    rows.append(enrollment)
                    enrolled_ids.append(learner_id)
            Enrollment.objects.bulk_create(rows, batch_size=1000)
            result.enrolled += len(rows)
            if progress is not None:
                progress(len(chunk))
        audit.record(
            actor=actor,
            action="enrollment.bulk_created",
            target=package,
            at=now,
            after={
                "version": version.pk,
                "enrolled": result.enrolled,
                "learners": enrolled_ids,
                "already_enrolled": result.already_enrolled,
                "unknown_learners": result.unknown_learners,
            },
            notes=notes,
            package_id=package.pk,
        )
    return result


def withdraw(*, actor: Actor, enrollment_id: int, notes: str = "") -> Enrollment:
    """Withdraw an enrollment; its record is kept, and its status is from now on what the
    learner had as of the withdrawal, as known now (a completion dated before the
    withdrawal and recorded after it still counts)."""
    with transaction.atomic():
        try:
            learner_id = Enrollment.objects.values_list("learner_id", flat=True).get(
                pk=enrollment_id
            )
        except Enrollment.DoesNotExist:
            raise EnrollmentNotFound(f"There is no enrollment with id {enrollment_id}.") from None
        audit.lock_chain()
        _lock_learner(learner_id)
        enrollment = Enrollment.objects.get(pk=enrollment_id)
        if enrollment.withdrawn_at is not None:
            raise AlreadyWithdrawn(
                f"Enrollment {enrollment_id} was already withdrawn on "
                f"{enrollment.withdrawn_at:%Y-%m-%d %H:%M}."
            )
        now = timezone.now()
        before = _status_snapshot(enrollment)
        enrollment.withdrawn_at = now
        enrollment.withdrawn_by = _user(actor)
        _refresh([enrollment])
        enrollment.save()
        audit.record(
            actor=actor,
            action="enrollment.withdrawn",
            target=enrollment,
            at=now,
            before=before,
            after={**_status_snapshot(enrollment), "withdrawn_at": now.isoformat()},
            notes=notes,
            package_id=enrollment.package_id,
        )
    return enrollment
