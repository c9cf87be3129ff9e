"""The legacy migration benchmark: ``import_legacy`` against bare bulk inserts of the same rows.

A legacy database of the scale's shape (packages, learners, enrollments and
completion events of the scale; seven courses per package) is written to a
SQLite file first, untimed. Then, each in a transaction that is rolled back:

- the migration: ``legacy.analyse`` and ``legacy.migrate`` (both passes over the
  legacy rows, every service, statuses and audit records);
- the floor: the same legacy rows read with the same DB-API cursors, and the same
  number of rows written with ``bulk_create`` (courses, packages, versions and
  their items, users and their accounts, events, enrollments) — no checks, no
  statuses, no audit.

The issue's target: migration <= 2x the floor.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from coursepack.accounts.models import Account, Role
from coursepack.bench.measure import Row
from coursepack.bench.scales import Scale
from coursepack.catalog.models import Course
from coursepack.interchange import legacy, legacy_example
from coursepack.interchange.legacy.source import start_evidence
from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging.models import Package, PackageVersion, PackageVersionItem

__all__ = ["COURSES_PER_PACKAGE", "migration_rows"]

COURSES_PER_PACKAGE = 7
_BATCH = 1000
T = TypeVar("T")


def _shape(scale: Scale) -> legacy_example.LegacyData:
    return legacy_example.generated(
        packages=scale.packages,
        courses_per_package=COURSES_PER_PACKAGE,
        users=scale.learners,
        enrollments=scale.enrollments,
        completions=scale.events,
    )


def _migrate(path: str) -> legacy.Report:
    with legacy.LegacySource(path) as source:
        plan = legacy.analyse(source, dry_run=False)
        return legacy.migrate(source, plan)


def _copy_events(batch: list[CompletionEvent]) -> None:
    """Write events with COPY (PostgreSQL): the write path the migration uses there."""
    columns = [
        *("learner_id", "course_id", "kind", "occurred_at", "recorded_at", "source"),
        *("external_id", "evidence_note", "late_reason"),
    ]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor
        sql = f"COPY {quote(CompletionEvent._meta.db_table)} ({', '.join(columns)}) FROM STDIN"
        with raw.copy(sql) as copy:
            for e in batch:
                copy.write_row([getattr(e, c) for c in columns])


def _floor(path: str, *, copy: bool = False) -> dict[str, int]:
    """Read every legacy row and write as many Coursepack rows with bulk_create (the
    events with COPY when ``copy``). The database's summary triggers count them as they
    count the migration's rows, deferred (ADR 0037): on PostgreSQL, live, every bulk
    insert would add to the same summary rows again and again (quadratic)."""
    write_events: Callable[[list[CompletionEvent]], Any] = (
        _copy_events if copy else CompletionEvent.objects.bulk_create
    )
    now = timezone.now()
    written = dict.fromkeys(("courses", "packages", "learners", "enrollments", "events"), 0)
    with legacy.LegacySource(path) as source, learning.deferred_summaries():
        packages = source.packages()
        courses = source.courses()
        created = Package.objects.bulk_create(
            Package(
                key=f"floor-{p.id}", name=p.name, created_at=p.created_at or now, updated_at=now
            )
            for p in packages
        )
        package_ids = {p.id: c.pk for p, c in zip(packages, created, strict=True)}
        versions = PackageVersion.objects.bulk_create(
            PackageVersion(package_id=pk, version_number=1, name=p.name, created_at=now)
            for p, pk in zip(packages, package_ids.values(), strict=True)
        )
        version_ids = {p.id: v.pk for p, v in zip(packages, versions, strict=True)}
        new_courses = Course.objects.bulk_create(
            (
                Course(code=f"floor-{c.id}", name=c.name, created_at=now, updated_at=now)
                for c in courses
            ),
            batch_size=_BATCH,
        )
        course_ids = {c.id: n.pk for c, n in zip(courses, new_courses, strict=True)}
        PackageVersionItem.objects.bulk_create(
            (
                PackageVersionItem(
                    version_id=version_ids[c.package_id], position=n, course_id=course_ids[c.id]
                )
                for n, c in enumerate(courses, 1)
                if c.package_id in version_ids
            ),
            batch_size=_BATCH,
        )
        written["courses"], written["packages"] = len(courses), len(packages)
        User = get_user_model()
        user_ids: dict[int, int] = {}

        # Users in bulk first, as the migration creates them before any event.
        legacy_users = sorted(
            {r[1] for r in source.enrollments() if r[1] is not None}
            | {r[1] for r in source.completions() if r[1] is not None}
        )
        for start in range(0, len(legacy_users), _BATCH):
            chunk = legacy_users[start : start + _BATCH]
            new_users = User.objects.bulk_create(
                User(username=f"floor-{u}", password=make_password(None)) for u in chunk
            )
            Account.objects.bulk_create(Account(user_id=u.pk, role=Role.LEARNER) for u in new_users)
            user_ids.update({u: n.pk for u, n in zip(chunk, new_users, strict=True)})
        written["learners"] = len(user_ids)
        batch: list[CompletionEvent] = []
        for cid, uid, course, _, started, done, _ in source.completions():
            if uid is None or course not in course_ids or done is None:
                continue
            batch.append(
                CompletionEvent(
                    learner_id=user_ids[uid],
                    course_id=course_ids[course],
                    kind="completed",
                    occurred_at=done,
                    recorded_at=now,
                    source="import",
                    external_id=f"floor:{cid}",
                    evidence_note=start_evidence(started),
                )
            )
            if len(batch) >= _BATCH:
                write_events(batch)
                written["events"] += len(batch)
                batch = []
        write_events(batch)
        written["events"] += len(batch)
        enrollments: list[Enrollment] = []
        for _, uid, package_id, enrolled_at, _, _ in source.enrollments():
            if uid is None or package_id not in version_ids:
                continue
            enrollments.append(
                Enrollment(
                    learner_id=user_ids[uid],
                    package_id=package_ids[package_id],
                    version_id=version_ids[package_id],
                    enrolled_at=enrolled_at or now,
                )
            )
            if len(enrollments) >= _BATCH:
                Enrollment.objects.bulk_create(enrollments)
                written["enrollments"] += len(enrollments)
                enrollments = []
        Enrollment.objects.bulk_create(enrollments)
        written["enrollments"] += len(enrollments)
    return written


def _rolled_back_timing(fn: Callable[[], T]) -> tuple[float, T]:
    with transaction.atomic():
        started = time.perf_counter()
        result = fn()
        took = time.perf_counter() - started
        transaction.set_rollback(True)
    return took, result


def migration_rows(scale: Scale) -> list[Row]:
    """Build the legacy database, then time the migration and its floor (one run each)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "legacy.sqlite3")
        counts = legacy_example.write_legacy(path, _shape(scale))
        took, report = _rolled_back_timing(lambda: _migrate(path))
        floor_took, floor_written = _rolled_back_timing(lambda: _floor(path))
        # On PostgreSQL the migration writes events with COPY: the same floor with
        # COPY too says how much of the ratio that write path explains.
        copy_took = (
            _rolled_back_timing(lambda: _floor(path, copy=True))[0]
            if connection.vendor == "postgresql"
            else None
        )
    assert report.written is not None
    if report.written["completion_events"] != floor_written["events"]:
        raise RuntimeError(
            f"the migration wrote {report.written['completion_events']} events, "
            f"the floor {floor_written['events']}"
        )
    shape = (
        f"{counts['packages']:,} packages, {counts['courses']:,} courses, "
        f"{floor_written['learners']:,} learners, "
        f"{counts['user_package_enrollments']:,} enrollments, "
        f"{counts['user_course_completions']:,} completions"
    )
    base = Row.of(
        "read the legacy rows, bulk_create the same rows (no checks, statuses, audit)",
        [floor_took],
        floor=True,
    )
    op = Row.of(
        f"import_legacy: {shape}",
        [took],
        note="analyse + migrate, one transaction, rolled back",
    )
    op.ratio = took / floor_took if floor_took else None
    op.target = "<=2x floor"
    op.passed = op.ratio is not None and op.ratio <= 2
    # The process's peak (legacy database written, both passes, the floor): the
    # migration streams the legacy rows, so this grows with learners and
    # enrollments, not with completions.
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    op.extra = {"written": report.written, "floor_written": floor_written, "peak_mib": peak_mib}
    if copy_took is None:
        return [op, base]
    copy_floor = Row.of(
        "for comparison: the same floor, events written with COPY as the migration does",
        [copy_took],
        note=f"migration / this = {took / copy_took:.2f}x (not the issue's floor)",
    )
    return [op, base, copy_floor]
