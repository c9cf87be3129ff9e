"""Typed errors of background jobs."""

from coursepack.errors import DomainError, NotFound


class JobNotFound(NotFound):
    code = "job_not_found"


class ExportNotReady(DomainError):
    """The export's file is not written yet (or the job stopped)."""

    code = "export_not_ready"
    http_status = 409


class ExportRunsAsJob(DomainError):
    """The export is too large to write in a request: request it as a job."""

    code = "export_runs_as_job"
    http_status = 409


class ExportExpired(DomainError):
    """The export's file was removed after its keeping time; request it again."""

    code = "export_expired"
    http_status = 410
