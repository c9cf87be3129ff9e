"""Typed errors of accounts and tokens."""

from coursepack.errors import DomainError, NotFound


class TokenNotFound(NotFound):
    code = "token_not_found"


class UsernameTaken(DomainError):
    code = "username_taken"


class ExternalIdTaken(DomainError):
    """Another user already has this external (HR system) id; ``existing_id`` names them."""

    code = "external_id_taken"


class PermissionDenied(DomainError):
    """The caller's role does not allow this action."""

    code = "permission_denied"
    http_status = 403


class UsernameReserved(DomainError):
    code = "username_reserved"
    http_status = 422


class UserNotFound(NotFound):
    code = "user_not_found"


class LastAdmin(DomainError):
    """The change would leave Coursepack without an active training admin."""

    code = "last_admin"


class CannotChangeOwnAccess(DomainError):
    """An admin may not deactivate themselves or take away their own admin role."""

    code = "cannot_change_own_access"


class InvalidPasswordLink(DomainError):
    """A set-password link that is malformed, used already or expired."""

    code = "invalid_password_link"
    http_status = 400
