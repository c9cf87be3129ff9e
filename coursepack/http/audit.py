"""The audit log for auditors: is the chain intact, and the log itself as a download."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Query, Router, Schema

from coursepack.audit import selectors
from coursepack.http.auth import READERS, require
from coursepack.http.problems import responses
from coursepack.http.schemas import DateIn
from coursepack.jobs import selectors as jobs_selectors

router = Router()


class FullRunOut(Schema):
    job_id: int
    finished_at: datetime
    intact: bool
    checked: int = Field(description="Records the full run verified.")
    rows_checked: int
    unkeyed: int
    first_bad_id: int | None
    reason: str


class VerificationOut(Schema):
    intact: bool = Field(
        description="Neither the last full run nor the check made now found a problem."
    )
    scope: Literal["since_last_full_run", "everything"] = Field(
        description="What the check made now read: the records appended since the last full "
        "run (and the rows they vouch for), or every record when no full run exists yet."
    )
    checked: int = Field(description="Records whose hashes were recomputed now.")
    rows_checked: int = Field(description="Rows compared with their records now.")
    unkeyed: int = Field(description="Records written before the chain was keyed (seen now).")
    first_bad_id: int | None = Field(description="The first record that does not verify.")
    reason: str
    verified_at: datetime
    full_run: FullRunOut | None = Field(
        description="The newest finished full verification (an audit_verify job)."
    )
    full_run_pending_job_id: int | None = Field(
        description="A full verification queued or running now."
    )


def verification() -> dict[str, Any]:
    """Return the last full run and a check of what was appended since (page and API)."""
    status = jobs_selectors.verification_status()
    return {
        "intact": status.intact,
        "scope": "since_last_full_run" if status.incremental else "everything",
        "checked": status.now.checked,
        "rows_checked": status.now.rows_checked,
        "unkeyed": status.now.unkeyed,
        "first_bad_id": status.first_bad_id,
        "reason": status.reason,
        "verified_at": status.checked_at,
        "full_run": asdict(status.full_run) if status.full_run else None,
        "full_run_pending_job_id": status.pending_job_id,
    }


@router.get("/audit/verification", response=responses({200: VerificationOut}), tags=["audit"])
def verify(request: HttpRequest) -> Any:
    """The last full verification of the keyed chain and the rows it vouches for, and a
    check made now of the records appended since (admins and auditors)."""
    require(request, *READERS)
    return verification()


class ExportQuery(Schema):
    format: Literal["csv", "jsonl"] = "jsonl"
    since: DateIn | None = Field(None, alias="from")
    until: DateIn | None = Field(None, alias="to")


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(selectors.EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
            for v in row.values()
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/audit/export",
    response=responses({200: None}),
    tags=["audit"],
    openapi_extra={
        "responses": {
            "200": {
                "description": "The audit log, oldest first, streamed: CSV or JSON Lines.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/jsonl": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def export(request: HttpRequest, query: Query[ExportQuery]) -> Any:
    """Download the audit log (admins and auditors), streamed, optionally for days [from, to]."""
    require(request, *READERS)
    filters = selectors.AuditFilters(since=query.since, until=query.until)
    rows = selectors.export_rows(filters)
    # The range is checked before streaming starts (an empty range is a 422).
    first = next(rows, None)

    def all_rows() -> Iterator[dict[str, Any]]:
        if first is not None:
            yield first
            yield from rows

    stamp = date.today().isoformat()
    if query.format == "csv":
        response = StreamingHttpResponse(_csv(all_rows()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    else:
        response = StreamingHttpResponse(_jsonl(all_rows()), content_type="application/jsonl")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.jsonl"'
    return response
