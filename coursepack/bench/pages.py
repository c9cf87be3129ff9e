"""Benchmarks of the authoring and operations pages, timed through Django's whole stack
in this process (server time: middleware, session, view, template)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Count

from coursepack.bench.measure import MS, Row, percentile, ratio, rolled_back
from coursepack.bench.scales import HISTORY_PACKAGE, LOADED_PACKAGE
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["authoring_pages", "operations_pages"]


def authoring_pages(runner: Runner) -> list[Row]:
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
    client.force_login(runner.admin)
    history = runner.packages[HISTORY_PACKAGE]
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
        with rolled_back():
            draft = packaging.create_package(actor=runner.admin, name="Bench: 40-item draft")
            for course_id in (
                Course.objects.filter(status=CourseStatus.ACTIVE)
                .order_by("pk")
                .values_list("pk", flat=True)[:40]
            ):
                packaging.add_item(actor=runner.admin, version_id=draft.pk, course_id=course_id)
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
                for index in range(runner.plan.pages + runner.plan.warmup):
                    started = time.perf_counter()
                    response = client.get(url)
                    took = time.perf_counter() - started
                    if response.status_code != status:
                        raise RuntimeError(f"{url} answered {response.status_code}")
                    if index >= runner.plan.warmup:
                        times.append(took)
                row = Row.of(label, times, floor=is_floor)
                p95 = sorted(times)[max(0, -(-95 * len(times) // 100) - 1)]
                row.extra["p95"] = p95
                row.note = f"p95 {p95 * 1000:.1f} ms"
                if is_floor:
                    floor_median = row.median
                else:
                    row.ratio = ratio(row.median, floor_median)
                    row.target = "p95 <=300 ms (SQLite)"
                    row.passed = p95 <= 300 * MS
                rows.append(row)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return rows


def operations_pages(runner: Runner) -> list[Row]:
    """Time three pages through Django's whole stack (middleware, session, view,
    template) in this process: the time a server spends, without the network.

    A version's enrollments filtered by status (the loaded package's version
    with the large case's learners, first page), one learner's progress page (as the admin), and
    "My training" (as the learner).
    """
    from django.test import Client

    # The loaded package: the large case's learners all on its active version.
    loaded = runner.packages[LOADED_PACKAGE]
    biggest = (
        Enrollment.objects.filter(package=loaded, withdrawn_at__isnull=True)
        .values("version_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if biggest is None:
        raise RuntimeError(f"{loaded.name} has no enrollments")
    n = runner.plan.pages + runner.plan.warmup
    admin = Client(HTTP_HOST="localhost")
    admin.force_login(runner.admin)
    picked = runner.open_enrollments(n)
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
            if index >= runner.plan.warmup:
                times.append(took)
        row = Row.of(label, times, note="server time, in process")
        p95 = percentile(times, 0.95)
        row.target = f"p95 <=300 ms (p95 {p95 * 1000:.0f} ms)"
        row.passed = p95 <= 300 * MS
        rows.append(row)
    return rows
