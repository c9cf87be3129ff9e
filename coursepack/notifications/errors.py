"""Typed errors of reminders and notifications."""

from coursepack.errors import DomainError, NotFound


class UnknownMessageKind(NotFound):
    code = "unknown_message_kind"


class TemplateInvalid(DomainError):
    """A template names a placeholder its kind does not have, or is malformed."""

    code = "template_invalid"
    http_status = 422


class MessageNotFound(NotFound):
    code = "message_not_found"
