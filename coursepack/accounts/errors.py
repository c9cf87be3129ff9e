"""Typed errors of accounts and tokens."""

from coursepack.errors import DomainError, NotFound


class TokenNotFound(NotFound):
    code = "token_not_found"


class UsernameTaken(DomainError):
    code = "username_taken"


class PermissionDenied(DomainError):
    """The caller's role does not allow this action."""

    code = "permission_denied"
    http_status = 403
