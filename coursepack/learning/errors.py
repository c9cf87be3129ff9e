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
