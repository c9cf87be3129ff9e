"""The benchmarks: each operation timed against a floor measured in the same run.

Run through ``manage.py run_benchmarks`` on a database that
``generate_scale_data`` filled. Operations that write either leave the cache
exact (a completion through the service) or run inside a transaction that is
rolled back (bulk enrolment, publish), so every sample sees the same data.
Errors are collected per operation: the run goes on and reports them, and the
command then exits non-zero. Timings never decide the exit status.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.bench import http_load, standing
from coursepack.bench.generate import DEFAULT_END
from coursepack.bench.measure import Row
from coursepack.bench.scales import (
    EMPTY_PACKAGE,
    HISTORY_PACKAGE,
    LOADED_PACKAGE,
    Scale,
)
from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning import selectors as learning_selectors
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import Package

__all__ = ["Plan", "Runner", "plan_for", "rebuild_part"]

MS = 0.001
GIB = 2**30


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


@contextmanager
def _rolled_back() -> Iterator[None]:
    """Run the block in a transaction that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _rss_peak_bytes() -> int:
    # ru_maxrss is in KiB on Linux.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _optional(module: str, name: str) -> Any:
    """Return ``module.name`` if another part of the project provides it, else None."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


# --- the rebuild, in a process of its own (its peak memory is the measurement) ---------


def rebuild_part(part: str) -> dict[str, Any]:
    """Run the rebuild (``part="rebuild"``) or its floor (``"floor"``); return the timings.

    The rebuild is ``learning.api.rebuild_statuses`` itself, timed batch by batch
    through its progress callback. The floor reads the same rows, batch by batch,
    with the same queries, and evaluates nothing.
    """
    baseline = _rss_peak_bytes()
    chunks: list[float] = []
    last = time.perf_counter()
    started = last

    def tick(_: int) -> None:
        nonlocal last
        now = time.perf_counter()
        chunks.append(now - last)
        last = now

    drifted = checked = 0
    if part == "rebuild":
        report = learning.rebuild_statuses(actor=None, fix=True, progress=tick)
        drifted, checked = len(report.drifted), report.checked
    else:
        checked = _read_like_rebuild(tick)
    return {
        "part": part,
        "chunks": chunks,
        "total": time.perf_counter() - started,
        "checked": checked,
        "drifted": drifted,
        "rss_before": baseline,
        "rss_peak": _rss_peak_bytes(),
    }


def _read_like_rebuild(tick: Callable[[int], None]) -> int:
    """Read every enrollment and its learner's events, batch by batch, exactly as the
    rebuild does (``learning.selectors.status_batches``), and evaluate nothing."""
    checked = 0
    for enrollments, _events, _moves in learning_selectors.status_batches(
        learning.LEARNERS_PER_BATCH
    ):
        checked += len(enrollments)
        tick(len(enrollments))
    return checked


# --- the runner -------------------------------------------------------------------


@dataclass
class Runner:
    scale: Scale
    plan: Plan
    seed: int = 1
    rows: list[Row] = field(default_factory=list)
    log: Callable[[str], None] = print
    # False when only benchmarks that bring their own data run (the legacy migration):
    # then the database needs no generate_scale_data.
    generated: bool = True
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.sqlite = connection.vendor == "sqlite"
        if not self.generated:
            return
        User = get_user_model()
        self.admin = User.objects.get(username="bench-admin")
        self.sqlite = connection.vendor == "sqlite"
        self.packages = {
            name: Package.objects.get(name=name)
            for name in (HISTORY_PACKAGE, LOADED_PACKAGE, EMPTY_PACKAGE)
        }
        # As a server that has been running a while: every released version's tree
        # in memory, so no timed operation pays for loading one.
        packaging_selectors.warm_caches()

    # --- helpers ------------------------------------------------------------------

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

    # --- 1. record a completion --------------------------------------------------

    def completion(self) -> list[Row]:
        plan = self.plan
        picks = []
        for enrollment in self.open_enrollments(plan.completions + plan.warmup):
            tree_courses = sorted(packaging_selectors.version_course_ids(enrollment.version_id))
            mine: set[int] = set()
            for version_id in Enrollment.objects.filter(
                learner_id=enrollment.learner_id
            ).values_list("version_id", flat=True):
                mine |= packaging_selectors.version_course_ids(version_id)
            # The floor's event is on a course outside all of the learner's
            # versions, so it changes no stored status and the cache stays exact.
            outside = self._course_outside(mine)
            picks.append((enrollment.learner_id, self.rng.choice(tree_courses), outside))
        sql = (
            "INSERT INTO learning_completionevent (learner_id, course_id, kind, occurred_at, "
            "recorded_at, recorded_by_id, source, external_id, evidence_note, late_reason, voids_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, '', NULL)"
        )
        times: list[float] = []
        floor: list[float] = []
        changed = 0
        for index, (learner_id, course_id, outside) in enumerate(picks):

            def record(learner_id: int = learner_id, course_id: int = course_id) -> None:
                nonlocal changed
                result = learning.record_completion(
                    actor=self.admin,
                    learner_id=learner_id,
                    course_id=course_id,
                    kind="completed",
                    source="api",
                )
                changed += result.enrollments_changed

            def bare_insert(learner_id: int = learner_id, course_id: int = outside) -> None:
                now = timezone.now()
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        sql,
                        [learner_id, course_id, "completed", now, now, self.admin.pk, "api", ""],
                    )

            took_op = _timed(record)
            took_floor = _timed(bare_insert)
            if index >= plan.warmup:
                times.append(took_op)
                floor.append(took_floor)
        op = Row.of(
            "record one completion + update affected enrollments",
            times,
            note=f"{changed} status changes",
        )
        base = Row.of("bare INSERT of the event row, own transaction", floor, floor=True)
        op.ratio = _ratio(op.median, base.median)
        targets = ["<=3x floor"]
        ok = op.ratio is not None and op.ratio <= 3
        if self.sqlite:
            targets.insert(0, "p99 <=5 ms")
            ok = ok and op.p99 is not None and op.p99 <= 5 * MS
        op.target, op.passed = ", ".join(targets), ok
        return [op, base]

    def _course_outside(self, courses: set[int]) -> int:
        from coursepack.catalog.models import Course

        candidates = Course.objects.exclude(pk__in=list(courses)).values_list("pk", flat=True)
        found = candidates.order_by("?" if self.sqlite else "pk").first()
        if found is None:
            raise RuntimeError("every course is in this learner's versions")
        return int(found)

    # --- 2. rebuild every status, in subprocesses ----------------------------------

    def rebuild(self, manage_py: Path) -> list[Row]:
        results = {}
        # A first, untimed read brings the tables into the page caches, so that
        # neither timed pass pays for a cold cache the other does not.
        for part in ("floor", "rebuild", "floor"):
            with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
                subprocess.run(
                    [
                        sys.executable,
                        str(manage_py),
                        "run_benchmarks",
                        "--part",
                        part,
                        "--json-out",
                        out.name,
                    ],
                    check=True,
                )
                results[part] = json.loads(Path(out.name).read_text())
        rebuild, floor = results["rebuild"], results["floor"]
        if rebuild["drifted"]:
            raise RuntimeError(
                f"the rebuild found {rebuild['drifted']} drifted enrollment(s): "
                "the generated cache (or a benchmark's write) was not exact"
            )
        op = Row.of(
            f"rebuild all stored statuses, per batch of {learning.LEARNERS_PER_BATCH} learners",
            rebuild["chunks"],
            note=f"{rebuild['checked']:,} enrollments, total {rebuild['total']:.1f} s, 0 drifted",
        )
        base = Row.of(
            "read the same rows, no evaluation, per batch",
            floor["chunks"],
            floor=True,
            note=f"total {floor['total']:.1f} s",
        )
        op.ratio = _ratio(rebuild["total"], floor["total"])
        op.target, op.passed = "<=2x floor (totals)", op.ratio is not None and op.ratio <= 2
        memory = Row(
            operation="peak memory of the rebuild (process max RSS)",
            n=1,
            median=float(rebuild["rss_peak"]),
            unit="B",
            note=f"{rebuild['rss_before'] / 2**20:,.0f} MiB before it started",
            target="<=1 GiB",
            passed=rebuild["rss_peak"] <= GIB,
        )
        op.extra = {"rebuild": rebuild, "floor": floor}
        return [op, base, memory]

    # --- 3. per-version completion counts ------------------------------------------

    def counts(self) -> list[Row]:
        package = self.packages[HISTORY_PACKAGE]
        size = Enrollment.objects.filter(package=package).count()
        package_report = _optional("coursepack.reports.selectors", "package_report")
        filters_type = _optional("coursepack.reports.selectors", "ReportFilters")
        label = "per-version completion counts, one package"
        fn: Callable[[], dict[int, tuple[int, int]]]
        if package_report is not None and filters_type is not None:

            def fn() -> dict[int, tuple[int, int]]:
                (row,) = package_report(filters_type(package_id=package.pk))
                return {v.version_id: (v.counts.enrolled, v.counts.completed) for v in row.versions}

            note = f"reports.selectors.package_report, {size:,} enrollments"
        else:

            def fn() -> dict[int, tuple[int, int]]:
                (summary,) = learning_selectors.package_summaries(timezone.now(), [package.pk])
                return {v.version.pk: (v.enrolled, v.completed) for v in summary.versions}

            note = f"learning.selectors.package_summaries (no reports app), {size:,} enrollments"
        sql = (
            "SELECT version_id, "
            "COUNT(*) FILTER (WHERE withdrawn_at IS NULL), "
            "COUNT(*) FILTER (WHERE withdrawn_at IS NOT NULL), "
            "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND status = 'not_started'), "
            "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND status = 'in_progress'), "
            "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND status = 'completed'), "
            "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND completed_at IS NOT NULL) "
            "FROM learning_enrollment WHERE package_id = %s GROUP BY version_id"
        )

        def hand_written() -> dict[int, tuple[int, int]]:
            with connection.cursor() as cursor:
                cursor.execute(sql, [package.pk])
                return {r[0]: (r[1], r[5]) for r in cursor.fetchall()}

        expected = hand_written()
        got = {k: v for k, v in fn().items() if v != (0, 0)}
        if got != expected:
            raise RuntimeError(f"the selector counted {got}, the SQL {expected}")
        times, floor = [], []
        for index in range(self.plan.counts + self.plan.warmup):
            took_op, took_floor = _timed(fn), _timed(hand_written)
            if index >= self.plan.warmup:
                times.append(took_op)
                floor.append(took_floor)
        op = Row.of(label, times, note=note)
        base = Row.of("the same aggregate in hand-written SQL", floor, floor=True)
        op.ratio = _ratio(op.median, base.median)
        op.target = "p99 <=50 ms, <=1.5x SQL"
        op.passed = op.p99 is not None and op.p99 <= 50 * MS and (op.ratio or 99) <= 1.5
        return [op, base]

    # --- 3b. compliance standing counts and a three-period transcript ----------------

    def lifecycle(self) -> list[Row]:
        """Standing counts of one package against the same counts in hand-written SQL
        (``coursepack.bench.standing``), and the transcript of a learner with three
        certification periods."""
        return [*standing.standing_rows(self), *self._three_periods()]

    def _three_periods(self) -> list[Row]:
        """Time the transcript of a learner with three certification periods (built
        through the services with the clock set back, then rolled back)."""
        transcript = _optional("coursepack.learning.transcript", "transcript")
        if transcript is None:
            return []
        rows: list[Row] = []
        with _rolled_back():
            real_now = timezone.now
            start = real_now() - timedelta(days=800)
            moment = [start]
            timezone.now = lambda: moment[0]
            try:
                course = Course.objects.order_by("pk").first()
                assert course is not None
                draft = packaging.create_package(actor=self.admin, name="Bench: annual")
                packaging.add_item(actor=self.admin, version_id=draft.pk, course_id=course.pk)
                packaging.set_version_lifecycle(
                    actor=self.admin,
                    version_id=draft.pk,
                    due_kind="after_enrolment",
                    due_days=30,
                    valid_days=365,
                    window_days=60,
                )
                packaging.publish_version(actor=self.admin, version_id=draft.pk)
                learner = accounts.create_user(actor=self.admin, username="bench-annual")
                learning.enroll(
                    actor=self.admin, learner_id=learner.pk, package_id=draft.package_id
                )
                for offset in (10, 320, 700):
                    moment[0] = start + timedelta(days=offset)
                    learning.open_certification_periods(actor=None)
                    learning.record_completion(
                        actor=self.admin, learner_id=learner.pk, course_id=course.pk
                    )
                moment[0] = start + timedelta(days=700)
                learning.open_certification_periods(actor=None)
            finally:
                timezone.now = real_now
            periods = Enrollment.objects.filter(learner=learner).count()
            as_of = real_now()
            times = []
            for index in range(self.plan.transcripts + self.plan.warmup):
                took = _timed(functools.partial(transcript, learner.pk, as_of))
                if index >= self.plan.warmup:
                    times.append(took)
            op = Row.of(
                "transcript of a learner with three certification periods",
                times,
                note=f"learning.transcript.transcript, {periods} periods",
            )
            op.target, op.passed = "p99 <=20 ms", op.p99 is not None and op.p99 <= 20 * MS
            rows.append(op)
        return rows

    # --- 4. point-in-time transcript ----------------------------------------------

    def transcript(self) -> list[Row]:
        transcript = _optional("coursepack.learning.transcript", "transcript")
        start = DEFAULT_END - timedelta(days=500)
        moments = [
            start + timedelta(seconds=self.rng.randint(0, 530 * 86400))
            for _ in range(self.plan.transcripts + self.plan.warmup)
        ]
        learners = [e.learner_id for e in self.open_enrollments(len(moments))]
        if transcript is not None:
            fn = transcript
            note = "learning.transcript.transcript"
        else:

            def fn(learner_id: int, as_of: datetime) -> list[Any]:
                return [
                    learning_selectors.enrollment_progress(pk, as_of=as_of)
                    for pk in Enrollment.objects.filter(
                        learner_id=learner_id, enrolled_at__lte=as_of
                    ).values_list("pk", flat=True)
                ]

            note = "enrollment_progress per enrollment (no transcript module)"
        times = []
        for index, (learner_id, as_of) in enumerate(zip(learners, moments, strict=False)):
            took = _timed(functools.partial(fn, learner_id, as_of))
            if index >= self.plan.warmup:
                times.append(took)
        op = Row.of("point-in-time transcript of one learner", times, note=note)
        op.target, op.passed = "p99 <=20 ms", op.p99 is not None and op.p99 <= 20 * MS
        if transcript is None:
            return [op]
        # The same learners and moments, as known at the moment itself (what the
        # record showed then): two timelines evaluated, and the changes since listed.
        known_times = []
        for index, (learner_id, as_of) in enumerate(zip(learners, moments, strict=False)):
            took = _timed(functools.partial(transcript, learner_id, as_of, as_of))
            if index >= self.plan.warmup:
                known_times.append(took)
        known = Row.of(
            "point-in-time transcript as known at that moment (known_at = as_of)",
            known_times,
            note="learning.transcript.transcript, compared with as known now",
        )
        known.target = "p99 <=20 ms"
        known.passed = known.p99 is not None and known.p99 <= 20 * MS
        return [op, known]

    # --- 5. bulk enrolment -----------------------------------------------------------

    def bulk_enroll(self) -> list[Row]:
        User = get_user_model()
        package = self.packages[EMPTY_PACKAGE]
        learners = list(
            User.objects.filter(username__startswith="bench-learner-")
            .order_by("pk")
            .values_list("pk", flat=True)[: self.scale.big]
        )
        times = []
        for _ in range(self.plan.bulk_runs):
            with _rolled_back():
                started = time.perf_counter()
                result = learning.bulk_enroll(
                    actor=self.admin, package_id=package.pk, learner_ids=learners
                )
                times.append(time.perf_counter() - started)
                if result.enrolled != len(learners):
                    raise RuntimeError(f"enrolled {result.enrolled} of {len(learners)}")
        op = Row.of(
            f"bulk enrol {len(learners):,} learners",
            times,
            note="each run rolled back",
        )
        op.target = "<=10 s"
        op.passed = op.p99 is not None and op.p99 <= 10
        return [op]

    # --- 6. publish with learners on the old version ---------------------------------

    def publish(self) -> list[Row]:
        loaded, empty = self.packages[LOADED_PACKAGE], self.packages[EMPTY_PACKAGE]
        now = timezone.now()
        on_loaded = {}
        for package in (loaded, empty):
            active = packaging_selectors.active_version(package.pk, now)
            if active is None:
                raise RuntimeError(f"{package.name} has no active version")
            on_loaded[package.pk] = (
                active.pk,
                Enrollment.objects.filter(version=active, withdrawn_at__isnull=True).count(),
            )

        def publish_once(package: Package) -> float:
            with _rolled_back():
                draft = packaging.create_draft_from(
                    actor=self.admin, version_id=on_loaded[package.pk][0]
                )
                return _timed(
                    lambda: packaging.publish_version(
                        actor=self.admin, version_id=draft.pk, inflight_policy="keep"
                    )
                )

        times: list[float] = []
        floor: list[float] = []
        for index in range(self.plan.publishes + self.plan.warmup):
            took_loaded, took_empty = publish_once(loaded), publish_once(empty)
            if index >= self.plan.warmup:
                times.append(took_loaded)
                floor.append(took_empty)
        op = Row.of(
            f"publish a new version, {on_loaded[loaded.pk][1]:,} learners on the old one",
            times,
            note="policy keep; rolled back",
        )
        base = Row.of(f"the same publish with {on_loaded[empty.pk][1]} learners", floor, floor=True)
        op.ratio = _ratio(op.median, base.median)
        op.target, op.passed = "ratio <=1.2", op.ratio is not None and op.ratio <= 1.2
        return [op, base]

    # --- 8. authoring pages ------------------------------------------------------------

    def authoring_pages(self) -> list[Row]:
        """Time the authoring pages in-process (server time: middleware, view, template).

        The floor is the styled 404 page: the same middleware, session and base template
        with no data read. The 40-item draft is built inside a transaction that is rolled
        back, so the data set stays as generated.
        """
        from django.core import signals
        from django.db import close_old_connections
        from django.test import Client

        from coursepack.catalog.models import Course, CourseStatus

        client = Client(HTTP_HOST="localhost")
        client.force_login(self.admin)
        history = self.packages[HISTORY_PACKAGE]
        numbers = list(
            history.versions.exclude(status="draft")
            .order_by("version_number")
            .values_list("version_number", flat=True)
        )
        # Requests in one open transaction: keep Django from closing the connection
        # at each request's end, as its own test client does in tests.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        rows: list[Row] = []
        try:
            with _rolled_back():
                draft = packaging.create_package(actor=self.admin, name="Bench: 40-item draft")
                for course_id in (
                    Course.objects.filter(status=CourseStatus.ACTIVE)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:40]
                ):
                    packaging.add_item(actor=self.admin, version_id=draft.pk, course_id=course_id)
                cases = [
                    ("styled 404 page", "/no-such-page/", 404, True),
                    ("page: package list (first page)", "/", 200, False),
                    ("page: package page (most versions)", f"/packages/{history.pk}/", 200, False),
                    ("page: draft editor, 40 items", f"/drafts/package/{draft.pk}/", 200, False),
                    (
                        f"page: compare v{numbers[0]} and v{numbers[-1]}",
                        f"/packages/{history.pk}/compare/?from={numbers[0]}&to={numbers[-1]}",
                        200,
                        False,
                    ),
                ]
                floor_median: float | None = None
                for label, url, status, is_floor in cases:
                    times = []
                    for index in range(self.plan.pages + self.plan.warmup):
                        started = time.perf_counter()
                        response = client.get(url)
                        took = time.perf_counter() - started
                        if response.status_code != status:
                            raise RuntimeError(f"{url} answered {response.status_code}")
                        if index >= self.plan.warmup:
                            times.append(took)
                    row = Row.of(label, times, floor=is_floor)
                    p95 = sorted(times)[max(0, -(-95 * len(times) // 100) - 1)]
                    row.extra["p95"] = p95
                    row.note = f"p95 {p95 * 1000:.1f} ms"
                    if is_floor:
                        floor_median = row.median
                    else:
                        row.ratio = _ratio(row.median, floor_median)
                        row.target = "p95 <=300 ms (SQLite)"
                        row.passed = p95 <= 300 * MS
                    rows.append(row)
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        return rows

    # --- 9. the operations pages (server time) ---------------------------------------

    def operations_pages(self) -> list[Row]:
        """Time three pages through Django's whole stack (middleware, session, view,
        template) in this process: the time a server spends, without the network.

        A version's enrollments filtered by status (the loaded package's version
        with the large case's learners, first page), one learner's progress page (as the admin), and
        "My training" (as the learner).
        """
        from django.test import Client

        # The loaded package: the large case's learners all on its active version.
        loaded = self.packages[LOADED_PACKAGE]
        biggest = (
            Enrollment.objects.filter(package=loaded, withdrawn_at__isnull=True)
            .values("version_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        if biggest is None:
            raise RuntimeError(f"{loaded.name} has no enrollments")
        n = self.plan.pages + self.plan.warmup
        admin = Client(HTTP_HOST="localhost")
        admin.force_login(self.admin)
        picked = self.open_enrollments(n)
        statuses = ["in_progress", "completed", "not_started"]
        cases: list[tuple[str, list[tuple[Client, str]]]] = [
            (
                f"version's enrollments page ({biggest['n']:,} enrollments), by status",
                [
                    (admin, f"/versions/{biggest['version_id']}/enrollments/?status={s}")
                    for s in (statuses * n)[:n]
                ],
            ),
            ("a learner's progress page", [(admin, f"/enrollments/{e.pk}/") for e in picked]),
        ]
        User = get_user_model()
        learners = {u.pk: u for u in User.objects.filter(pk__in={e.learner_id for e in picked})}
        mine = []
        for e in picked:
            client = Client(HTTP_HOST="localhost")
            client.force_login(learners[e.learner_id])
            mine.append((client, "/my-training/"))
        cases.append(("My training (a learner's home)", mine))
        rows = []
        for label, requests in cases:
            times = []
            for index, (client, url) in enumerate(requests):
                started = time.perf_counter()
                response = client.get(url)
                took = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"GET {url}: {response.status_code}")
                if index >= self.plan.warmup:
                    times.append(took)
            row = Row.of(label, times, note="server time, in process")
            p95 = _percentile(times, 0.95)
            row.target = f"p95 <=300 ms (p95 {p95 * 1000:.0f} ms)"
            row.passed = p95 <= 300 * MS
            rows.append(row)
        return rows

    # --- 7. HTTP under load ------------------------------------------------------------

    def http(self, log_dir: Path) -> list[Row]:
        plan = self.plan
        token = accounts.issue_token(actor=self.admin, name=f"bench {time.time():.0f}").secret
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        reads = [
            http_load.Request("GET", f"/api/v1/enrollments/{e.pk}/progress")
            for e in self.open_enrollments(plan.http_reads)
        ]
        writes = []
        for e in self.open_enrollments(plan.http_writes):
            course = self.rng.choice(sorted(packaging_selectors.version_course_ids(e.version_id)))
            writes.append(
                http_load.Request(
                    "POST",
                    "/api/v1/completions",
                    {"learner_id": e.learner_id, "course_id": course, "kind": "passed"},
                    expect=201,
                )
            )
        workers = plan.http_workers
        rows = []
        pidfile = os.environ.get("BENCH_SERVER_PIDFILE")
        with http_load.server(
            workers=workers,
            threads=4,
            log=log_dir / "server.log",
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

    # --- 8. Load: a burst of clients, and API traffic during a background job ---------

    def load(self, manage_py: Path, log_dir: Path) -> list[Row]:
        """50 clients at once on new connections (0 resets, 0 5xx), then 100 interleaved
        API writes and reads while the job worker enrols every learner in the background."""
        from coursepack.jobs import api as jobs
        from coursepack.jobs import selectors as job_selectors

        plan = self.plan
        token = accounts.issue_token(actor=self.admin, name=f"load {time.time():.0f}").secret
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        reads = [
            http_load.Request("GET", f"/api/v1/enrollments/{e.pk}/progress")
            for e in self.open_enrollments(50)
        ]
        writes = []
        for e in self.open_enrollments(50):
            course = self.rng.choice(sorted(packaging_selectors.version_course_ids(e.version_id)))
            writes.append(
                http_load.Request(
                    "POST",
                    "/api/v1/completions",
                    {"learner_id": e.learner_id, "course_id": course, "kind": "passed"},
                    expect=201,
                )
            )
        mixed = [r for pair in zip(reads, writes, strict=False) for r in pair]
        rows = []
        with http_load.server(
            workers=plan.http_workers, threads=8, log=log_dir / "load-server.log"
        ) as port:
            burst_requests = [*reads, http_load.Request("GET", "/login/")]
            each = 4 if self.scale.name == "smoke" else 20
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

            package = self.packages[EMPTY_PACKAGE]
            job = jobs.start_bulk_enroll(
                actor=self.admin, package_id=package.pk, all_learners=True, notes="load benchmark"
            )
            worker_log = (log_dir / "load-worker.log").open("ab")
            worker = subprocess.Popen(
                [sys.executable, str(manage_py), "run_jobs", "--interval", "0.2"],
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
                finish_by = time.monotonic() + (300 if self.scale.name == "smoke" else 3600)
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


def _percentile(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``samples`` (0 < fraction <= 1)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


def _ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or not floor:
        return None
    return value / floor


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
