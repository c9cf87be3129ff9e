"""Benchmarks of the API served by real worker processes: reads and writes under load, a
burst of clients on new connections, and API traffic during a background job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from coursepack.accounts import api as accounts
from coursepack.bench import http_load
from coursepack.bench.measure import MS, Row
from coursepack.bench.scales import EMPTY_PACKAGE
from coursepack.packaging import selectors as packaging_selectors

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["http", "load"]


def _requests(
    runner: Runner, reads: int, writes: int
) -> tuple[list[http_load.Request], list[http_load.Request]]:
    """Return ``reads`` progress reads and ``writes`` completion posts, each for a random
    open enrollment (a write on a course of the enrollment's version)."""
    progress = [
        http_load.Request("GET", f"/api/v1/enrollments/{e.pk}/progress")
        for e in runner.open_enrollments(reads)
    ]
    completions = []
    for e in runner.open_enrollments(writes):
        course = runner.rng.choice(sorted(packaging_selectors.version_course_ids(e.version_id)))
        completions.append(
            http_load.Request(
                "POST",
                "/api/v1/completions",
                {"learner_id": e.learner_id, "course_id": course, "kind": "passed"},
                expect=201,
            )
        )
    return progress, completions


def http(runner: Runner) -> list[Row]:
    plan = runner.plan
    token = accounts.issue_token(actor=runner.admin, name=f"bench {time.time():.0f}").secret
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    reads, writes = _requests(runner, plan.http_reads, plan.http_writes)
    workers = plan.http_workers
    rows = []
    pidfile = os.environ.get("BENCH_SERVER_PIDFILE")
    with http_load.server(
        workers=workers,
        threads=4,
        log=runner.log_dir / "server.log",
        pidfile=Path(pidfile) if pidfile else None,
    ) as port:
        # Warm every worker (imports, connections, tree cache) before timing.
        http_load.run_load(
            port,
            reads[: 8 * workers],
            concurrency=workers * 2,
            max_seconds=30,
            headers=headers,
        )
        for label, requests, target in (
            ("HTTP GET progress", reads, True),
            ("HTTP POST completion", writes, False),
        ):
            result = http_load.run_load(
                port,
                requests,
                concurrency=plan.http_concurrency,
                max_seconds=plan.http_seconds,
                headers=headers,
            )
            row = Row.of(
                label,
                result.latencies,
                rate=result.rate,
                note=f"{plan.http_concurrency} connections, {workers} workers x 4 threads",
            )
            if target:
                row.target = ">=500 req/s, p99 <=50 ms"
                row.passed = result.rate >= 500 and (row.p99 or 99) <= 50 * MS
            else:
                # Writers queue fairly (coursepack/sqlite_backend on SQLite).
                row.target = "p99 <=100 ms"
                row.passed = (row.p99 or 99) <= 100 * MS
            if result.errors:
                row.error = f"{len(result.errors)} failed, first: {result.errors[0]}"
            rows.append(row)
    return rows


def load(runner: Runner) -> list[Row]:
    """50 clients at once on new connections (0 resets, 0 5xx), then 100 interleaved
    API writes and reads while the job worker enrols every learner in the background."""
    from coursepack.jobs import api as jobs
    from coursepack.jobs import selectors as job_selectors

    plan = runner.plan
    token = accounts.issue_token(actor=runner.admin, name=f"load {time.time():.0f}").secret
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    reads, writes = _requests(runner, 50, 50)
    mixed = [r for pair in zip(reads, writes, strict=False) for r in pair]
    rows = []
    with http_load.server(
        workers=plan.http_workers, threads=8, log=runner.log_dir / "load-server.log"
    ) as port:
        burst_requests = [*reads, http_load.Request("GET", "/login/")]
        each = 4 if runner.scale.name == "smoke" else 20
        result = http_load.burst(port, burst_requests, clients=50, each=each, headers=headers)
        row = Row.of(
            f"50 concurrent clients x {each} requests, a new connection each",
            result.latencies,
            rate=result.rate,
            note=f"{len(result.errors)} resets or 5xx",
        )
        row.target, row.passed = "0 resets, 0 5xx", not result.errors
        if result.errors:
            row.error = f"{len(result.errors)} failed, first: {result.errors[0]}"
        rows.append(row)

        package = runner.packages[EMPTY_PACKAGE]
        job = jobs.start_bulk_enroll(
            actor=runner.admin, package_id=package.pk, all_learners=True, notes="load benchmark"
        )
        worker_log = (runner.log_dir / "load-worker.log").open("ab")
        worker = subprocess.Popen(
            [sys.executable, str(runner.manage_py), "run_jobs", "--interval", "0.2"],
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while job_selectors.job_progress(job.pk).status == "queued":
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            during = http_load.run_load(
                port, mixed, concurrency=8, max_seconds=300, headers=headers
            )
            at_end = job_selectors.job_progress(job.pk)
            finish_by = time.monotonic() + (300 if runner.scale.name == "smoke" else 3600)
            while at_end.status in ("queued", "running") and time.monotonic() < finish_by:
                time.sleep(0.5)
                at_end = job_selectors.job_progress(job.pk)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
            worker_log.close()
        row = Row.of(
            f"100 API writes and reads during a background bulk enrolment of {job.total:,} learners",
            during.latencies,
            rate=during.rate,
            note=f"job {at_end.status}, {at_end.done:,} learners",
        )
        row.target = "all succeed"
        row.passed = not during.errors and len(during.latencies) == len(mixed)
        if during.errors:
            row.error = f"{len(during.errors)} failed, first: {during.errors[0]}"
        elif at_end.status != "succeeded":
            row.error = f"the background job {at_end.status}: {at_end.error}"
        rows.append(row)
    return rows
