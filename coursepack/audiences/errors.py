"""Typed errors of audiences."""

from coursepack.errors import NotFound


class AudienceNotFound(NotFound):
    code = "audience_not_found"
