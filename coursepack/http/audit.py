"""The audit log for auditors: is the chain intact, and the log itself as a download."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from coursepack.audit import api as audit
from coursepack.audit import selectors
from coursepack.http.auth import READERS, require
from coursepack.http.problems import responses
from coursepack.http.schemas import DateIn

router = Router()


class VerificationOut(Schema):
    intact: bool
    checked: int = Field(description="Records whose hashes were recomputed.")
    rows_checked: int = Field(description="Rows the log vouches for, compared with their records.")
    unkeyed: int = Field(description="Records written before the chain was keyed.")
    first_bad_id: int | None = Field(description="The first record that does not verify.")
    reason: str
    verified_at: datetime


def verification() -> dict[str, Any]:
    """Verify the chain now; return what the API and the page show."""
    report = audit.verify_chain()
    return {
        "intact": report.intact,
        "checked": report.checked,
        "rows_checked": report.rows_checked,
        "unkeyed": report.unkeyed,
        "first_bad_id": report.first_bad_id,
        "reason": report.reason,
        "verified_at": timezone.now(),
    }


@router.get("/audit/verification", response=responses({200: VerificationOut}), tags=["audit"])
def verify(request: HttpRequest) -> Any:
    """Verify the keyed audit chain and the rows it vouches for, now (admins and auditors)."""
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
