"""The base of Coursepack's typed domain errors.

Every refused action raises a subclass of :class:`DomainError` whose message says
what to do instead. The HTTP and web layers map ``code`` to a status and show
``message``; they never invent messages of their own.
"""

from __future__ import annotations


class DomainError(Exception):
    """An action the domain refuses; nothing was changed."""

    #: Stable, machine-readable code (used by the API's problem+json responses).
    code: str = "domain_error"
    #: The HTTP status an API maps this error to.
    http_status: int = 409

    def __init__(
        self, message: str, *, problems: list[str] | None = None, existing_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[str] = problems or []
        #: For "it already exists": the id of what exists, so a client can use it.
        self.existing_id = existing_id

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "\n" + "\n".join(f"- {p}" for p in self.problems)


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""

    code = "not_found"
    http_status = 404


class InvalidInput(DomainError):
    """The input is malformed; each problem names the field."""

    code = "invalid_input"
    http_status = 422
