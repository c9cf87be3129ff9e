"""Typed errors of groups, packages and versions. Each message says what to do instead."""

from coursepack.errors import DomainError, NotFound


class PackageNotFound(NotFound):
    code = "package_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class GroupNotFound(NotFound):
    code = "group_not_found"


class ItemNotFound(NotFound):
    code = "item_not_found"


class VersionNotDraft(DomainError):
    """The version is published, scheduled or archived: it can never change."""

    code = "version_not_draft"


class DraftAlreadyExists(DomainError):
    code = "draft_already_exists"


class CannotCloneDraft(DomainError):
    code = "cannot_clone_draft"


class PublishValidationFailed(DomainError):
    """The draft cannot be completed or is ambiguous; ``problems`` lists every reason."""

    code = "publish_validation_failed"
    http_status = 422


class PackageRetired(DomainError):
    code = "package_retired"


class PackageHasEnrollments(DomainError):
    code = "package_has_enrollments"


class PackageHasHistory(DomainError):
    code = "package_has_history"


class GroupCycle(DomainError):
    code = "group_cycle"


class DuplicateItem(DomainError):
    code = "duplicate_item"


class GroupDraftInUse(DomainError):
    code = "group_draft_in_use"


class StaleRevision(DomainError):
    """The draft changed since the caller read it; re-read and apply the edit again."""

    code = "stale_revision"
    http_status = 412


class PackageKeyTaken(DomainError):
    """Another package has this key; ``existing_id`` names it (a retried create finds it)."""

    code = "package_key_taken"


class GroupKeyTaken(DomainError):
    """Another course group has this key; ``existing_id`` names it."""

    code = "group_key_taken"
