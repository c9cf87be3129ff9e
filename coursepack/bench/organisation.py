"""The organisation's benchmark data and benchmark (ADR 0024).

``generate_organisation`` (called once by ``bench.generate.generate``) builds a
tree of about one org unit per 100 learners (2,000 at the full scale: company →
10 divisions → 100 departments → teams), gives every learner an account with an
external id and job title, places everyone in a team with a line manager, and
makes each department's first person its unit manager.

``people_sync`` (``run_benchmarks --only people_sync``) times an HR file of
every person with 1 % of them changed (moves, new job titles, leavers): the dry
run, and the whole sync (stage + the job's chunks), rolled back. The floor is
reading the file and the people it is compared with — what any sync must do.
"""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from coursepack.accounts import usernames
from coursepack.accounts.models import Account, Role
from coursepack.bench.measure import Row
from coursepack.jobs import api as jobs
from coursepack.organisation import api as organisation
from coursepack.organisation.models import OrgUnit, Placement, UnitManager

__all__ = ["generate_organisation", "people_sync"]

_BATCH = 5000
_JOB_TITLES = ("Engineer", "Analyst", "Sales rep", "Nurse", "Driver", "Accountant", "Buyer")


def _unit_count(learners: int) -> int:
    return max(4, min(2000, learners // 100))


def generate_organisation(learner_ids: Sequence[int], *, seed: int = 1) -> dict[str, int]:
    """Build the org tree and place every learner in it; return what was made.

    Rows are inserted directly (as the rest of the generator does), never mixed
    with real records.
    """
    rng = random.Random(seed)
    total = _unit_count(len(learner_ids))
    first = int(OrgUnit.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    units: list[OrgUnit] = []

    def add(code: str, name: str, parent: OrgUnit | None) -> OrgUnit:
        pk = first + len(units)
        unit = OrgUnit(
            pk=pk,
            code=code,
            name=name,
            parent_id=parent.pk if parent else None,
            path=f"{parent.path if parent else '/'}{pk}/",
        )
        units.append(unit)
        return unit

    company = add("BENCH-CO", "Bench company", None)
    divisions = [add(f"BENCH-D{d:02d}", f"Division {d}", company) for d in range(10)]
    departments = [
        add(f"BENCH-D{d:02d}-{n:02d}", f"Department {d}.{n}", division)
        for d, division in enumerate(divisions)
        for n in range(10)
    ][: max(1, total - 11)]
    teams = [
        add(f"BENCH-T{t:04d}", f"Team {t}", departments[t % len(departments)])
        for t in range(max(1, total - len(units)))
    ]
    for start in range(0, len(units), _BATCH):
        OrgUnit.objects.bulk_create(units[start : start + _BATCH])
    User = get_user_model()
    names = dict(User.objects.filter(pk__in=learner_ids).values_list("pk", "username"))
    accounts = [
        Account(
            user_id=pk,
            role=Role.LEARNER,
            external_id=f"HR{pk:08d}",
            job_title=_JOB_TITLES[pk % len(_JOB_TITLES)],
            username_key=usernames.username_key(names[pk]),
        )
        for pk in learner_ids
    ]
    for start in range(0, len(accounts), _BATCH):
        Account.objects.bulk_create(accounts[start : start + _BATCH])
    # Each team's first person is the line manager of the rest of the team.
    by_team: dict[int, list[int]] = {}
    for pk in learner_ids:
        by_team.setdefault(teams[rng.randrange(len(teams))].pk, []).append(pk)
    placements = [
        Placement(user_id=pk, org_unit_id=team, manager_id=None if i == 0 else people[0])
        for team, people in by_team.items()
        for i, pk in enumerate(people)
    ]
    for start in range(0, len(placements), _BATCH):
        Placement.objects.bulk_create(placements[start : start + _BATCH])
    # Each department is managed by the line manager of its first team.
    managers = []
    for department in departments:
        team = next((t for t in teams if t.parent_id == department.pk and t.pk in by_team), None)
        if team is not None:
            managers.append(UnitManager(unit_id=department.pk, user_id=by_team[team.pk][0]))
    UnitManager.objects.bulk_create(managers)
    Account.objects.filter(user_id__in=[m.user_id for m in managers]).update(role=Role.MANAGER)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('organisation_orgunit', 'id'), "
                "(SELECT MAX(id) FROM organisation_orgunit))"
            )
    return {"org units": len(units), "placements": len(placements), "unit managers": len(managers)}


def _hr_file(changed_share: float, seed: int) -> tuple[bytes, dict[str, int]]:
    """Return a full HR file of everyone with an external id, ``changed_share`` of them
    changed (half move team, a quarter get a new title, a quarter leave)."""
    rng = random.Random(seed)
    teams = list(OrgUnit.objects.filter(code__startswith="BENCH-T").values_list("code", flat=True))
    externals = dict(
        Account.objects.filter(external_id__isnull=False).values_list("user_id", "external_id")
    )
    rows = (
        get_user_model()
        .objects.filter(account__external_id__isnull=False, is_active=True)
        .values_list(
            "pk",
            "username",
            "first_name",
            "last_name",
            "email",
            "account__external_id",
            "account__job_title",
            "placement__org_unit__code",
            "placement__manager_id",
        )
        .order_by("pk")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "external_id",
            "username",
            "first_name",
            "last_name",
            "email",
            "job_title",
            "org_unit",
            "manager_external_id",
            "active",
        ]
    )
    made = {"moves": 0, "titles": 0, "leavers": 0, "rows": 0}
    for _pk, name, first, last, email, ext, title, unit, manager in rows:
        active = "true"
        roll = rng.random()
        if roll < changed_share / 2:
            unit = rng.choice(teams)
            made["moves"] += 1
        elif roll < changed_share * 3 / 4:
            title = f"{title} II"
            made["titles"] += 1
        elif roll < changed_share:
            active = "false"
            made["leavers"] += 1
        writer.writerow(
            [ext, name, first, last, email, title, unit or "", externals.get(manager, ""), active]
        )
        made["rows"] += 1
    return out.getvalue().encode(), made


def people_sync(bench: Any) -> list[Row]:
    """Time a full HR file with 1 % changes: the dry run, and the sync applied (rolled back)."""
    if not Account.objects.filter(external_id__startswith="HR").exists():
        raise RuntimeError("no placed people: generate_scale_data adds them (organisation)")
    data, made = _hr_file(0.01, seed=getattr(bench, "seed", 1))
    runs = 1 if bench.scale.name == "full" else 2

    def floor() -> None:
        organisation.parse_people_csv(data)
        list(
            get_user_model()
            .objects.filter(account__external_id__isnull=False)
            .values_list(
                "pk",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_active",
                "account__external_id",
                "account__job_title",
                "account__hire_date",
                "placement__org_unit_id",
                "placement__manager_id",
            )
        )

    def dry_run() -> dict[str, int]:
        columns, rows = organisation.parse_people_csv(data)
        return organisation.plan_people_sync(
            columns=columns, rows=rows, full=True, actor=bench.admin
        ).counts()

    floors, dries, applies = [], [], []
    counts: dict[str, int] = {}
    for _ in range(runs):
        started = time.perf_counter()
        floor()
        floors.append(time.perf_counter() - started)
        started = time.perf_counter()
        counts = dry_run()
        dries.append(time.perf_counter() - started)
        with transaction.atomic():
            started = time.perf_counter()
            columns, rows = organisation.parse_people_csv(data)
            sync, _ = organisation.stage_people_sync(
                actor=bench.admin, columns=columns, rows=rows, full=True
            )
            job = jobs.run_job(jobs.start_people_sync(actor=bench.admin, sync_id=sync.pk).pk)
            applies.append(time.perf_counter() - started)
            result = job.result
            transaction.set_rollback(True)
        changed = counts["updates"] + counts["deactivations"]
        if (result.get("updated", 0) + result.get("deactivated", 0)) != changed:
            raise RuntimeError(f"the sync applied {result}, its dry run said {counts}")
    people = made["rows"]
    note = (
        f"{people:,} rows; {made['moves']:,} moves, {made['titles']:,} new titles, "
        f"{made['leavers']:,} leavers; each run rolled back"
    )
    floor_row = Row.of(f"read a {people:,}-row file and its people (floor)", floors, floor=True)
    dry = Row.of(f"people sync dry run, {people:,} rows, 1 % changed", dries, note=note)
    applied = Row.of(f"people sync applied, {people:,} rows, 1 % changed", applies, note=note)
    for row in (dry, applied):
        if row.median is not None and floor_row.median:
            row.ratio = row.median / floor_row.median
    applied.target = "<=60 s"
    applied.passed = applied.p99 is not None and applied.p99 <= 60
    return [floor_row, dry, applied]
