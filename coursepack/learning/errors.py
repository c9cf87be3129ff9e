"""Typed errors of enrollments and completion events."""

from coursepack.errors import DomainError, NotFound


class LearnerNotFound(NotFound):
    code = "learner_not_found"


class EnrollmentNotFound(NotFound):
    code = "enrollment_not_found"


class EventNotFound(NotFound):
    code = "event_not_found"


class NoActiveVersion(DomainError):
    code = "no_active_version"


class VersionNotEnrollable(DomainError):
    code = "version_not_enrollable"


class AlreadyEnrolled(DomainError):
    code = "already_enrolled"


class AlreadyWithdrawn(DomainError):
    code = "already_withdrawn"


class IdempotencyConflict(DomainError):
    """The external id was used before for a different event."""

    code = "idempotency_conflict"


class CannotVoid(DomainError):
    code = "cannot_void"


class NotAllowedToExempt(DomainError):
    """The actor's role may not grant or revoke exemptions (COURSEPACK_EXEMPTING_ROLES)."""

    code = "permission_denied"
    http_status = 403


class ItemNotInVersion(DomainError):
    code = "item_not_in_version"


class ExemptionNotFound(NotFound):
    code = "exemption_not_found"


class AlreadyRevoked(DomainError):
    code = "already_revoked"


class EquivalenceNotFound(NotFound):
    code = "equivalence_not_found"


class EquivalenceAlreadyChanged(DomainError):
    code = "equivalence_already_changed"


class NoPeriodToOpen(DomainError):
    code = "no_period_to_open"
