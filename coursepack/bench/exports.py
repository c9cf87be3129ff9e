"""Benchmarks of exports as background jobs (issues 12, 19; ADR 0031).

The whole organisation's report XLSX (every table, every learner) as an EXPORT job —
queued, then run to its written file by the job runner in this process, reading one
moment — against bare openpyxl writing the same cells (write-only, no styles, from
memory) in the same run. And the largest CSV, every learner, to its first byte.

The job runs inside a transaction that is rolled back (its job row and audit
records leave no trace); its file goes to a temporary folder removed afterwards.
"""

from __future__ import annotations

import tempfile
import time
from typing import TYPE_CHECKING

from django.db import transaction
from django.test import Client, override_settings

from coursepack.bench.measure import Row, ratio
from coursepack.bench.xlsx_floor import bare_xlsx, organisation_sheets
from coursepack.jobs import api as jobs
from coursepack.jobs import exports
from coursepack.reports.selectors import ReportFilters

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner


class _Rollback(Exception):
    pass


def _job(runner: Runner, folder: str) -> tuple[float, int, int]:
    """Queue and run the whole organisation's report export; return (seconds, rows,
    bytes). Everything it wrote to the database is rolled back."""
    found: dict[str, int] = {}
    started = time.perf_counter()
    try:
        with override_settings(EXPORTS_DIR=folder), transaction.atomic():
            job = exports.start_report_export(actor=runner.admin, filters=ReportFilters())
            job = jobs.run_job(job.pk)
            if job.status != "succeeded":
                raise RuntimeError(f"the export job ended {job.status}: {job.error}")
            found = {"rows": int(job.result["rows"]), "bytes": int(job.result["bytes"])}
            raise _Rollback
    except _Rollback:
        pass
    return time.perf_counter() - started, found["rows"], found["bytes"]


def export_jobs(runner: Runner) -> list[Row]:
    """Time the whole organisation's XLSX as a job against bare openpyxl, and the
    every-learner CSV to its first byte."""
    sheets = organisation_sheets()

    def bare() -> int:
        return bare_xlsx(sheets)

    # At the full scale one sample of each takes minutes and warms itself up.
    samples, warmup = (1, 0) if runner.scale.name == "full" else (3, 1)
    times, floor = [], []
    rows = size = 0
    with tempfile.TemporaryDirectory(prefix="coursepack-bench-exports-") as folder:
        for index in range(warmup + samples):
            took, rows, size = _job(runner, folder)
            started = time.perf_counter()
            bare()
            took_floor = time.perf_counter() - started
            if index >= warmup:
                times.append(took)
                floor.append(took_floor)
    cell_count = sum(len(h) * (1 + len(b)) for _, h, b in sheets)
    row = Row.of(
        "XLSX, whole organisation, as an export job",
        times,
        note=f"{rows:,} learners, {cell_count:,} cells, {size / 1e6:.1f} MB; queue + run + file",
    )
    base = Row.of("  the same cells, bare openpyxl write-only", floor, floor=True)
    row.ratio = ratio(row.median, base.median)
    row.target = "<=2x bare openpyxl"
    row.passed = (row.ratio or 99) <= 2
    return [row, base, _csv_first_byte(runner)]


def _csv_first_byte(runner: Runner) -> Row:
    """Time the every-learner CSV to its first byte (it streams from one read moment)."""
    client = Client(HTTP_HOST="localhost")
    client.force_login(runner.admin)
    times = []
    for index in range(runner.plan.warmup + 5):
        started = time.perf_counter()
        response = client.get("/reports/learners.csv")
        next(iter(response.streaming_content))  # type: ignore[attr-defined]
        took = time.perf_counter() - started
        response.close()
        if index >= runner.plan.warmup:
            times.append(took)
    row = Row.of("CSV first byte: learners.csv, every learner", times, note="server time")
    row.target = "<=1 s"
    row.passed = max(times) <= 1
    return row
