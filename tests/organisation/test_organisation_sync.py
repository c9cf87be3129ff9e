"""The people sync: upsert by external id, dry run first, leavers deactivated, never deleted;
the real run does what the dry run said; a second run changes nothing."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from coursepack import table_statistics
from coursepack.accounts import api as accounts
from coursepack.accounts.models import Account
from coursepack.audit import api as audit
from coursepack.audit.models import AuditEvent
from coursepack.jobs import api as jobs
from coursepack.jobs.models import JobKind
from coursepack.organisation import api as organisation
from coursepack.organisation.errors import InvalidPeopleFile, PeopleSyncNotStaged
from coursepack.organisation.models import OrgUnit, Placement
from coursepack.organisation.sync import COLUMNS
from coursepack.organisation.sync.apply import PEOPLE_TABLES
from tests.factories import make_admin, make_learner

pytestmark = pytest.mark.django_db

HEADER = list(COLUMNS)


def _csv(people: list[dict[str, Any]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(people)
    return out.getvalue().encode()


def _person(n: int, team: str, manager: str = "") -> dict[str, Any]:
    return {
        "external_id": f"E{n:06d}",
        "username": f"person{n}",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "email": f"person{n}@example.com",
        "job_title": "Engineer" if n % 3 else "Analyst",
        "hire_date": f"20{10 + n % 15}-0{1 + n % 9}-1{n % 9}",
        "org_unit": team,
        "manager_external_id": manager,
        "active": "true",
    }


def _teams(admin: Any, count: int) -> list[str]:
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    codes = []
    for i in range(count):
        organisation.create_unit(
            actor=admin, code=f"T{i:03d}", name=f"Team {i}", parent_id=company.pk
        )
        codes.append(f"T{i:03d}")
    return codes


def _sync(admin: Any, data: bytes, *, full: bool) -> tuple[dict[str, int], dict[str, Any]]:
    """Stage (dry run) then apply with the job; return the preview's counts and the job result."""
    columns, rows = organisation.parse_people_csv(data)
    sync, plan = organisation.stage_people_sync(actor=admin, columns=columns, rows=rows, full=full)
    job = jobs.start_people_sync(actor=admin, sync_id=sync.pk)
    assert job.kind == JobKind.PEOPLE_SYNC
    job = jobs.run_job(job.pk)
    assert job.status == "succeeded", job.error
    return plan.counts(), {**job.result, "done": job.done, "total": job.total}


def _few_people_sampled(admin: Any) -> None:
    """Leave the planner statistics of a few people without external ids in tables of
    many pages, as autovacuum leaves tables of rolled-back or deleted rows: the planner
    then takes every table of people for empty (PostgreSQL; this test's transaction
    rolls the statistics back, not the page counts, which the next ``ANALYZE`` sets)."""
    for n in range(3):
        accounts.create_user(actor=admin, username=f"sampled{n}")
    table_statistics.refresh_statistics(PEOPLE_TABLES)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE pg_class SET relpages = 1000, reltuples = 0 WHERE relname = ANY(%s)",
                [list(PEOPLE_TABLES)],
            )


def _external_ids_sampled_as_null() -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT null_frac FROM pg_stats WHERE tablename = 'accounts_account'"
            " AND attname = 'external_id'"
        )
        return float(cursor.fetchone()[0])


def test_a_sync_of_ten_thousand_people_does_what_its_dry_run_said(settings: Any) -> None:
    settings.JOB_CHUNK_PEOPLE = 2500
    admin = make_admin()
    # From statistics of a few people: each read of the sync is planned from what it
    # wrote (planned from these, each read of everyone took ~20 s on PostgreSQL).
    _few_people_sampled(admin)
    teams = _teams(admin, 40)
    rng = random.Random(14)
    # Managers first (E000000..E000039 lead a team each), then everyone else.
    people = [_person(n, teams[n], "") for n in range(40)]
    people += [_person(n, teams[n % 40], f"E{n % 40:06d}") for n in range(40, 10_000)]
    preview, result = _sync(admin, _csv(people), full=True)
    assert preview == {
        "rows": 10_000,
        "creates": 10_000,
        "updates": 0,
        "deactivations": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert (result["created"], result["updated"], result["deactivated"]) == (10_000, 0, 0)
    assert Placement.objects.filter(manager__isnull=False).count() == 9_960

    # The next HR file: 300 move team, 200 leave (150 absent, 50 active=false),
    # 250 new hires (some managed by another new hire), 3 rows with errors.
    by_id = {p["external_id"]: dict(p) for p in people}
    ids = sorted(by_id)[40:]
    rng.shuffle(ids)
    movers, absent, flagged = ids[:300], ids[300:450], ids[450:500]
    for ext in movers:
        current = by_id[ext]["org_unit"]
        by_id[ext]["org_unit"] = teams[(teams.index(current) + 1 + rng.randrange(39)) % 40]
    for ext in absent:
        del by_id[ext]
    for ext in flagged:
        by_id[ext]["active"] = "false"
    hires = [
        _person(n, teams[n % 40], "E010000" if n > 10_000 else "E000001")
        for n in range(10_000, 10_250)
    ]
    bad = [
        {**_person(20_001, "NOPE"), "external_id": "X1"},  # unknown unit
        {**_person(20_002, teams[0], "NOBODY"), "external_id": "X2"},  # unknown manager
        {**_person(20_003, teams[0]), "external_id": "X3", "hire_date": "31/12/2020"},
    ]
    second = [*by_id.values(), *hires, *bad]
    rng.shuffle(second)
    before_users = User.objects.count()
    data = _csv(second)

    columns, rows = organisation.parse_people_csv(data)
    dry = organisation.plan_people_sync(columns=columns, rows=rows, full=True, actor=admin)
    assert User.objects.count() == before_users, "the dry run wrote nothing"
    assert dry.counts() == {
        "rows": len(second),
        "creates": 250,
        "updates": 300,
        "deactivations": 200,
        "unchanged": len(second) - 250 - 300 - 50 - 3,
        "errors": 3,
    }
    assert {u["after"].keys() == {"org_unit"} for u in dry.updates} == {True}
    assert sorted(e["external_id"] for e in dry.errors) == ["X1", "X2", "X3"]
    problems = {e["external_id"]: " ".join(e["problems"]) for e in dry.errors}
    assert "org_unit" in problems["X1"] and "manager_external_id" in problems["X2"]
    assert "hire_date" in problems["X3"]

    preview, result = _sync(admin, data, full=True)
    assert preview == dry.counts()
    assert (result["created"], result["updated"], result["deactivated"]) == (250, 300, 200)
    # Nobody is deleted: leavers are deactivated, and every mover sits in their new team.
    assert User.objects.count() == before_users + 250
    assert (
        User.objects.filter(account__external_id__in=absent + flagged, is_active=True).count() == 0
    )
    placed = dict(
        Placement.objects.filter(user__account__external_id__in=movers).values_list(
            "user__account__external_id", "org_unit__code"
        )
    )
    assert placed == {ext: by_id[ext]["org_unit"] for ext in movers}
    # A hire managed by another hire got their manager (created in the same sync).
    late = Placement.objects.get(user__account__external_id="E010249")
    assert late.manager is not None and late.manager.account.external_id == "E010000"

    # The same file again: nothing to do.
    again, result = _sync(admin, data, full=True)
    assert (again["creates"], again["updates"], again["deactivations"]) == (0, 0, 0)
    assert (result["created"], result["updated"], result["deactivated"]) == (0, 0, 0)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL plans by statistics; SQLite does not"
)
def test_a_chunk_that_doubles_the_people_samples_them_for_the_planner(settings: Any) -> None:
    settings.JOB_CHUNK_PEOPLE = 1000
    admin = make_admin()
    teams = _teams(admin, 2)
    _few_people_sampled(admin)
    assert _external_ids_sampled_as_null() == 1.0
    _sync(admin, _csv([_person(n, teams[n % 2]) for n in range(900)]), full=False)
    assert _external_ids_sampled_as_null() == 1.0, "900 people: fewer than it samples from"
    _sync(admin, _csv([_person(n, teams[n % 2]) for n in range(900, 2100)]), full=False)
    assert _external_ids_sampled_as_null() < 0.01


def test_a_sync_is_audited_row_by_row_and_chunk_by_chunk(settings: Any) -> None:
    settings.JOB_CHUNK_PEOPLE = 2
    admin = make_admin()
    teams = _teams(admin, 2)
    people = [_person(n, teams[n % 2]) for n in range(5)]
    _, result = _sync(admin, _csv(people), full=False)
    sync_id = result["sync_id"]
    assert AuditEvent.objects.filter(action="person.created_by_sync").count() == 5
    chunks = AuditEvent.objects.filter(action="people_sync.chunk_applied", target_id=str(sync_id))
    assert chunks.count() == 3  # 2 + 2 + 1
    assert AuditEvent.objects.filter(action="people_sync.applied").count() == 1
    # Deactivate one, rename another: the records carry before and after.
    people[0]["active"] = "false"
    people[1]["last_name"] = "Renamed"
    _, result = _sync(admin, _csv(people), full=False)
    changed = organisation.sync_changes(result["sync_id"])
    first, second = (User.objects.get(username=f"person{n}").pk for n in (0, 1))
    assert (changed.deactivated, changed.updated, changed.created) == ([first], [second], [])
    record = AuditEvent.objects.get(action="person.updated_by_sync", target_id=str(second))
    assert (record.before, record.after) == ({"last_name": "Last1"}, {"last_name": "Renamed"})
    assert audit.verify_chain().intact


def test_a_partial_file_leaves_absent_people_and_missing_columns_alone() -> None:
    admin = make_admin()
    teams = _teams(admin, 2)
    people = [_person(n, teams[0]) for n in range(3)]
    _sync(admin, _csv(people), full=True)
    # Only external_id and job_title: the rest of each person stays as it is.
    changed = [{"external_id": "E000000", "job_title": "Director"}]
    preview, _ = _sync(admin, _csv(changed, ["external_id", "job_title"]), full=False)
    assert (preview["updates"], preview["deactivations"], preview["unchanged"]) == (1, 0, 0)
    account = Account.objects.get(external_id="E000000")
    assert account.job_title == "Director"
    assert account.user.email == "person0@example.com"
    assert User.objects.filter(is_active=True, account__external_id__isnull=False).count() == 3


def test_a_person_made_by_hand_is_adopted_by_username() -> None:
    admin = make_admin()
    teams = _teams(admin, 1)
    existing = make_learner(username="person7")
    preview, _ = _sync(admin, _csv([_person(7, teams[0])]), full=False)
    assert (preview["creates"], preview["updates"]) == (0, 1)
    assert Account.objects.get(user=existing).external_id == "E000007"


def test_rows_with_problems_are_reported_each_and_skipped() -> None:
    admin = make_admin()
    teams = _teams(admin, 1)
    make_learner(username="taken")
    rows = [
        _person(1, teams[0]),
        {**_person(2, teams[0]), "external_id": "E000001"},  # the same external id again
        {**_person(3, teams[0]), "username": "TAKEN"},  # reads like another's
        {**_person(4, teams[0]), "email": "not-an-email"},
        {**_person(5, teams[0]), "active": "maybe"},
        {**_person(6, teams[0]), "username": ""},
        {**_person(8, teams[0], "E000008")},  # their own manager
    ]
    columns, parsed = organisation.parse_people_csv(_csv(rows))
    plan = organisation.plan_people_sync(columns=columns, rows=parsed, full=False, actor=admin)
    assert plan.counts()["creates"] == 1
    lines = {e["line"]: e["problems"] for e in plan.errors}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8]
    assert "also on line 2" in lines[3][0]
    assert "username" in lines[4][0] and "email" in lines[5][0] and "active" in lines[6][0]
    assert "required" in lines[7][0] and "own line manager" in lines[8][0]


def test_a_file_that_cannot_be_read_is_refused_whole() -> None:
    for data in (b"", b"\xff\xfe\x00", b"username,shoe_size\nx,9\n", b"username\nx\n"):
        with pytest.raises(InvalidPeopleFile):
            organisation.parse_people_csv(data)


def test_a_staged_sync_is_applied_once() -> None:
    admin = make_admin()
    teams = _teams(admin, 1)
    columns, rows = organisation.parse_people_csv(_csv([_person(1, teams[0])]))
    sync, _ = organisation.stage_people_sync(actor=admin, columns=columns, rows=rows)
    jobs.start_people_sync(actor=admin, sync_id=sync.pk)
    with pytest.raises(PeopleSyncNotStaged):
        jobs.start_people_sync(actor=admin, sync_id=sync.pk)
    assert OrgUnit.objects.count() == 2


def test_a_sync_applied_after_people_changed_is_planned_again() -> None:
    """Staged, then someone's unit changes by hand: the job's plan is made again, so
    it applies what the file says against the people as they are when it starts."""
    admin = make_admin()
    teams = _teams(admin, 2)
    _sync(admin, _csv([_person(1, teams[0]), _person(2, teams[0])]), full=False)
    moved = [_person(1, teams[1]), _person(2, teams[0])]
    columns, rows = organisation.parse_people_csv(_csv(moved))
    sync, plan = organisation.stage_people_sync(actor=admin, columns=columns, rows=rows)
    assert plan.counts()["updates"] == 1
    # Meanwhile an admin moves person 1 to where the file says: nothing is left to do.
    person = Account.objects.get(external_id="E000001").user_id
    team = OrgUnit.objects.get(code=teams[1])
    organisation.place_person(actor=admin, user_id=person, org_unit_id=team.pk)
    job = jobs.run_job(jobs.start_people_sync(actor=admin, sync_id=sync.pk).pk)
    assert (job.result["updated"], job.result["created"]) == (0, 0)
    assert organisation.get_people_sync(sync.pk).changes["replanned"] is True
