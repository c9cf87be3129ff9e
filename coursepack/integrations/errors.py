"""Typed errors of webhooks."""

from coursepack.errors import DomainError, NotFound


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class EventNotDelivered(DomainError):
    """Redelivery of an event the subscription has not reached (or does not take)."""

    code = "event_not_delivered"
    http_status = 409
