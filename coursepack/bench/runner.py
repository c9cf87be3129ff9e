"""The benchmark runner: the data every benchmark shares, the registry of benchmarks
(``--only`` names them) and the table they print.

Run through ``manage.py run_benchmarks`` on a database that
``generate_scale_data`` filled. Each benchmark family lives in a module of its
own (``completion``, ``rebuild``, ``counts``, ``reports`` ...) as a function that
takes the :class:`Runner` and returns its table rows; :data:`OPERATIONS` lists
them in the order they run. Operations that write either leave the cache exact
(a completion through the service) or run inside a transaction that is rolled
back (bulk enrolment, publish), so every sample sees the same data. Errors are
collected per operation: the run goes on and reports them, and the command then
exits non-zero. Timings never decide the exit status.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection

from coursepack.bench import (
    api_load,
    completion,
    counts,
    enrolment,
    events,
    http_cpu,
    lifecycle,
    matrix,
    migration,
    organisation,
    pages,
    publish,
    rebuild,
    reminders,
    transcript,
)
from coursepack.bench import exports as exports_bench
from coursepack.bench import reports as reports_bench
from coursepack.bench.measure import Row, render_table
from coursepack.bench.scales import (
    EMPTY_PACKAGE,
    HISTORY_PACKAGE,
    LOADED_PACKAGE,
    Scale,
)
from coursepack.learning.models import Enrollment
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import Package

__all__ = ["OPERATIONS", "Plan", "Runner", "environment", "plan_for", "table"]


@dataclass(frozen=True)
class Plan:
    """How many samples each benchmark takes, and the HTTP load's bounds."""

    completions: int
    counts: int
    transcripts: int
    bulk_runs: int
    publishes: int
    http_reads: int
    http_writes: int
    http_concurrency: int
    http_seconds: float
    http_workers: int
    warmup: int = 3
    pages: int = 50


def plan_for(scale: Scale) -> Plan:
    """Return the sample counts for a scale: fewer at the smoke scale, to stay within seconds."""
    if scale.name == "smoke":
        return Plan(20, 10, 20, 2, 4, 20, 10, 2, 20, http_workers=1, warmup=2, pages=8)
    return Plan(300, 50, 300, 3, 20, 3000, 1000, 8, 60, http_workers=os.cpu_count() or 2)


@dataclass
class Runner:
    """What every benchmark shares: the scale and plan, the generated data's admin and
    packages, a seeded random source, and the rows measured so far."""

    scale: Scale
    plan: Plan
    seed: int = 1
    rows: list[Row] = field(default_factory=list)
    log: Callable[[str], None] = print
    # False when only benchmarks that bring their own data run (the legacy migration):
    # then the database needs no generate_scale_data.
    generated: bool = True
    # The manage.py that benchmarks running in processes of their own call again,
    # and where the HTTP servers and the job worker write their logs.
    manage_py: Path = field(default_factory=lambda: Path(sys.argv[0]).resolve())
    log_dir: Path = Path("/tmp")
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.sqlite = connection.vendor == "sqlite"
        if not self.generated:
            return
        User = get_user_model()
        self.admin = User.objects.get(username="bench-admin")
        self.packages = {
            name: Package.objects.get(name=name)
            for name in (HISTORY_PACKAGE, LOADED_PACKAGE, EMPTY_PACKAGE)
        }
        # As a server that has been running a while: every released version's tree
        # in memory, so no timed operation pays for loading one.
        packaging_selectors.warm_caches()

    def run(self, name: str, fn: Callable[[], list[Row]]) -> None:
        """Run one benchmark; keep its rows, or one row saying what went wrong."""
        self.log(f"-- {name}")
        started = time.perf_counter()
        try:
            rows = fn()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            rows = [Row(operation=name, error=f"{type(exc).__name__}: {exc}")]
        self.rows += rows
        self.log(f"   {time.perf_counter() - started:.1f} s")

    def open_enrollments(self, count: int) -> list[Enrollment]:
        """Return ``count`` open enrollments picked at random (by id, deterministic)."""
        bounds = Enrollment.objects.filter(withdrawn_at__isnull=True)
        ids = list(bounds.order_by("pk").values_list("pk", flat=True)[:1])
        top = list(bounds.order_by("-pk").values_list("pk", flat=True)[:1])
        if not ids:
            raise RuntimeError("no enrollments: run generate_scale_data first")
        picked: dict[int, Enrollment] = {}
        tries = 0
        while len(picked) < count and tries < count * 20:
            tries += 1
            wanted = [self.rng.randint(ids[0], top[0]) for _ in range(count)]
            for e in bounds.filter(pk__in=wanted):
                picked.setdefault(e.pk, e)
        return list(picked.values())[:count]


# The benchmarks, in the order they run: ``--only`` takes these names. A new family of
# benchmarks goes in a module of its own and adds one line here.
OPERATIONS: dict[str, Callable[[Runner], list[Row]]] = {
    "rebuild": rebuild.rebuild,
    "completion": completion.completion,
    "counts": counts.counts,
    "lifecycle": lifecycle.lifecycle,
    "reminders": reminders.reminder_rows,
    "transcript": transcript.transcript,
    "bulk": enrolment.bulk_enroll,
    "publish": publish.publish,
    "migration": lambda runner: migration.migration_rows(runner.scale),
    "matrix": lambda runner: matrix.matrix_rows(runner.scale),
    "authoring_pages": pages.authoring_pages,
    "operations_pages": pages.operations_pages,
    "events": events.events_feed,
    "reports": reports_bench.report_pages,
    "exports": exports_bench.export_jobs,
    "http": api_load.http,
    "http_cpu": http_cpu.http_cpu,
    "load": api_load.load,
    "people_sync": organisation.people_sync,
}

# Benchmarks that bring their own data: when only these run, the database needs no
# generate_scale_data.
OWN_DATA = frozenset({"migration"})


def table(runner: Runner, env: dict[str, str], took: float) -> str:
    """Return the run's rows as one table, titled with the engine and scale, with notes
    on the machine, its load and how to read the columns."""
    scale = runner.scale
    title = f"### {env['engine']} — scale {scale.name}"
    notes = [
        f"Scale: {scale.describe()}.",
        f"Machine: {env['cpus']} CPUs, {env['memory']} RAM, Python {env['python']}, "
        f"{env['platform']}; load average {env['load']} before, {env['load after']} after; "
        f"{env['when']}; benchmarks took {took:.0f} s.",
        "median/p99 over n samples; ratio = median / floor's median (rebuild: total / total; "
        "publish: with learners / without); targets on p99 unless said otherwise.",
    ]
    if scale.name != "full":
        notes.append(
            "Not the full scale: the targets are for the full scale, so PASS/MISS here is indicative only."
        )
    return render_table(title, runner.rows, notes)


def environment() -> dict[str, str]:
    """Describe the machine and the database the run measured."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            engine = f"SQLite {cursor.fetchone()[0]}"
        else:
            cursor.execute("show server_version")
            engine = f"PostgreSQL {cursor.fetchone()[0]}"
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
            memory = f"{kib / 2**20:.1f} GiB"
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "engine": engine,
        "cpus": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load": load,
        "when": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
