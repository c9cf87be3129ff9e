"""The training matrix benchmark (issue 14, ADR 0025): the first page for a manager of
about 1/40 of the people (5,000 of 200,000 at full scale) and for an admin's whole
organisation, against a floor measured in the same run.

Untimed set-up, in a transaction rolled back at the end: when the database has no org
units, a tree of about one unit per 100 people (company → divisions → departments →
teams) with every learner placed in a team, and a manager of one department-sized
subtree. The floor: the least a first page can cost — the 50 first people by
username (one indexed query) and their open enrollments in the first ten packages
(one indexed query), with no scope, standing or count.

The issue's target: first page p95 <= 300 ms (server time) for both, at full scale.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from coursepack.accounts.models import Account, Role
from coursepack.bench.measure import Row
from coursepack.bench.scales import Scale
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from coursepack.packaging.models import Package, PackageStatus
from coursepack.reports import matrix

__all__ = ["matrix_rows"]

TARGET_SECONDS = 0.300


class _Rollback(Exception):
    pass


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _time(fn: Callable[[], Any], n: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def _unit(code: str, parent: OrgUnit | None) -> OrgUnit:
    unit = OrgUnit.objects.create(code=code, name=code, parent=parent, path="")
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    return unit


def _build_org(people: list[int]) -> tuple[OrgUnit, int]:
    """Place everyone in a tree of ~1 unit per 100 people; return a department holding
    about 1/40 of them, and how many people it holds."""
    teams_wanted = max(4, len(people) // 100)
    divisions = 10
    departments_per_division = 4
    teams_per_department = max(1, teams_wanted // (divisions * departments_per_division))
    company = _unit("bench-company", None)
    teams: list[OrgUnit] = []
    departments: list[OrgUnit] = []
    for d in range(divisions):
        division = _unit(f"bench-div-{d}", company)
        for p in range(departments_per_division):
            department = _unit(f"bench-dep-{d}-{p}", division)
            departments.append(department)
            teams += [
                _unit(f"bench-team-{d}-{p}-{t}", department) for t in range(teams_per_department)
            ]
    Placement.objects.bulk_create(
        [Placement(user_id=pid, org_unit=teams[i % len(teams)]) for i, pid in enumerate(people)],
        batch_size=2000,
    )
    managed = departments[0]
    size = Placement.objects.filter(org_unit__path__startswith=managed.path).count()
    return managed, size


def matrix_rows(scale: Scale, samples: int = 30) -> list[Row]:
    """Time the matrix's first page (manager, admin) and the floor; roll everything back."""
    rows: list[Row] = []
    try:
        with transaction.atomic():
            rows = _measure(scale, samples)
            raise _Rollback
    except _Rollback:
        pass
    return rows


def _measure(scale: Scale, samples: int) -> list[Row]:
    User = get_user_model()
    people = list(User.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    if OrgUnit.objects.exists():
        managed = OrgUnit.objects.order_by("path")[1:2].get()
        size = Placement.objects.filter(org_unit__path__startswith=managed.path).count()
    else:
        managed, size = _build_org(people)
    manager = User.objects.create_user(username="bench-matrix-manager")
    Account.objects.update_or_create(user=manager, defaults={"role": Role.MANAGER})
    UnitManager.objects.create(unit=managed, user=manager)
    admin = User.objects.create_user(username="bench-matrix-admin")
    Account.objects.update_or_create(user=admin, defaults={"role": Role.ADMIN})
    # The cached queries must not hide the first page's cost: the scope is read per call.
    manager_page = lambda: matrix.matrix_page(matrix.scope_for(manager))  # noqa: E731
    admin_page = lambda: matrix.matrix_page(matrix.scope_for(admin))  # noqa: E731
    first = manager_page()
    if first.total != size:
        raise RuntimeError(f"the manager's matrix counted {first.total}, the placements {size}")
    if admin_page().total != len(people) + 2:
        raise RuntimeError("the admin's matrix does not count every active person")

    packages = list(
        Package.objects.filter(status=PackageStatus.ACTIVE)
        .order_by("name", "pk")
        .values_list("pk", flat=True)[:10]
    )
    user_table = User._meta.db_table

    def floor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, username FROM {user_table} ORDER BY username LIMIT 50")
            ids = [r[0] for r in cursor.fetchall()]
            marks = ",".join(["%s"] * len(ids)) or "NULL"
            package_marks = ",".join(["%s"] * len(packages)) or "NULL"
            cursor.execute(
                "SELECT learner_id, package_id, status, due_in_force, expires_at "
                f"FROM learning_enrollment WHERE learner_id IN ({marks}) "
                f"AND package_id IN ({package_marks}) AND withdrawn_at IS NULL "
                "AND superseded_at IS NULL",
                [*ids, *packages],
            )
            cursor.fetchall()

    floor_samples = _time(floor, samples)
    floor_median = statistics.median(floor_samples)
    rows = [
        Row.of(
            "matrix floor: 50 people by name + their cells (2 indexed queries)",
            floor_samples,
            floor=True,
        )
    ]
    for label, fn, who in (
        ("matrix first page, manager", manager_page, f"{size:,} people in scope"),
        ("matrix first page, admin (whole organisation)", admin_page, f"{len(people):,} people"),
    ):
        timed = _time(fn, samples)
        p95 = _p95(timed)
        rows.append(
            Row.of(
                label,
                timed,
                ratio=statistics.median(timed) / floor_median if floor_median else None,
                target="p95 ≤ 300 ms",
                passed=p95 <= TARGET_SECONDS,
                note=f"{who}; p95 {p95 * 1000:.1f} ms; 50 people by 10 packages",
                extra={"p95": p95},
            )
        )
    overdue = _time(lambda: matrix.overdue_list(matrix.scope_for(manager), limit=50), samples)
    rows.append(
        Row.of(
            "manager's overdue list (first 50)",
            overdue,
            ratio=statistics.median(overdue) / floor_median if floor_median else None,
            note=f"{size:,} people in scope; p95 {_p95(overdue) * 1000:.1f} ms",
        )
    )
    return rows
