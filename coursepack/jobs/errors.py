"""Typed errors of background jobs."""

from coursepack.errors import NotFound


class JobNotFound(NotFound):
    code = "job_not_found"
