"""The people sync, staging and applying: store a file with its dry run, then the
people-sync job's steps — fix the plan, apply it chunk by chunk (one transaction and
its audit records each), finish (ADR 0024)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from coursepack.accounts import api as accounts_api
from coursepack.accounts import usernames
from coursepack.accounts.models import Account, Role
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.audit.models import AuditEvent
from coursepack.organisation.models import OrgUnit, PeopleSync, PeopleSyncStatus, Placement
from coursepack.organisation.sync.plan import PeopleSyncPlan, SyncRow, plan_people_sync
from coursepack.table_statistics import Resampler

#: The tables a people sync fills, sampled for the planner as a chunk doubles them.
PEOPLE_TABLES = ("auth_user", "accounts_account", "organisation_placement")
#: From how many people a sync's chunk samples them (a sample of three small tables
#: costs milliseconds; a chunk of people, seconds).
PEOPLE_SAMPLED_FROM = 1000

__all__ = [
    "SyncChanges",
    "apply_people_sync_chunk",
    "finish_people_sync",
    "get_people_sync",
    "mark_people_sync_applying",
    "prepare_people_sync",
    "stage_people_sync",
    "stored_rows",
    "sync_changes",
]

# Audit targets whose change since a sync was staged makes its plan stale.
_PEOPLE_TARGETS = ("auth.user", "accounts.account", "organisation.orgunit")


@dataclass(frozen=True)
class SyncChanges:
    """The people a sync changed, by kind (what must follow a sync reads these)."""

    created: list[int]
    updated: list[int]
    deactivated: list[int]

    @property
    def all(self) -> list[int]:
        """Every person the sync changed, sorted."""
        return sorted({*self.created, *self.updated, *self.deactivated})


def stage_people_sync(
    *, actor: Actor, columns: Sequence[str], rows: Sequence[SyncRow], full: bool = False
) -> tuple[PeopleSync, PeopleSyncPlan]:
    """Store a people file with its dry run (the preview); nothing about people is written.

    The plan is kept with it. Applying it (a job) uses that plan if nobody was
    changed since (no person, account or org unit on the audit log after the
    staging record), else computes it again: either way its counts are what a dry
    run would say at the moment the job starts.
    """
    plan = plan_people_sync(columns=columns, rows=rows, full=full, actor=actor)
    with transaction.atomic():
        now = timezone.now()
        sync = PeopleSync.objects.create(
            created_at=now,
            created_by=actor if isinstance(actor, User) else None,
            actor_label=audit.actor_label(actor),
            full=full,
            columns=list(columns),
            rows=[{"line": r.line, **r.cells} for r in rows],
            preview=plan.counts(),
            actions=plan.actions(),
        )
        staged = audit.record(
            actor=actor,
            action="people_sync.staged",
            target=sync,
            at=now,
            after={"full": full, **plan.counts()},
        )
        sync.changes = {"staged_event": staged.pk, "errors": plan.errors[:1000]}
        sync.save(update_fields=["changes"])
    return sync, plan


def get_people_sync(sync_id: int) -> PeopleSync:
    """Return a staged or applied people sync, or raise PeopleSyncNotFound."""
    from coursepack.organisation.errors import PeopleSyncNotFound

    sync = PeopleSync.objects.filter(pk=sync_id).first()
    if sync is None:
        raise PeopleSyncNotFound(f"There is no people sync with id {sync_id}.")
    return sync


def stored_rows(sync: PeopleSync) -> list[SyncRow]:
    """Return a staged sync's rows as the plan reads them."""
    return [
        SyncRow(line=r["line"], cells={k: v for k, v in r.items() if k != "line"})
        for r in sync.rows
    ]


def mark_people_sync_applying(*, sync_id: int, job_id: int) -> PeopleSync:
    """Hand a staged sync to its job (inside the job's creating transaction)."""
    from coursepack.organisation.errors import PeopleSyncNotStaged

    sync = PeopleSync.objects.select_for_update().filter(pk=sync_id).first()
    if sync is None:
        from coursepack.organisation.errors import PeopleSyncNotFound

        raise PeopleSyncNotFound(f"There is no people sync with id {sync_id}.")
    if sync.status != PeopleSyncStatus.STAGED:
        raise PeopleSyncNotStaged(
            f"People sync {sync_id} is {sync.get_status_display().lower()} already "
            f"(job {sync.job_id}); upload the file again to sync again."
        )
    sync.status = PeopleSyncStatus.APPLYING
    sync.job_id = job_id
    sync.save(update_fields=["status", "job_id"])
    return sync


def prepare_people_sync(*, sync_id: int, actor: Actor) -> int:
    """Fix the plan the job applies (once; a resumed job keeps it); return its action count.

    The staged plan stands if nobody was changed since it was made; otherwise it
    is computed again now.
    """
    with transaction.atomic():
        sync = PeopleSync.objects.select_for_update().get(pk=sync_id)
        if "created" in sync.changes:
            return len(sync.actions)
        counts = dict(sync.preview)
        errors = sync.changes.get("errors", [])
        since = sync.changes.get("staged_event")
        changed_since = since is None or (
            AuditEvent.objects.filter(pk__gt=since, target_type__in=_PEOPLE_TARGETS).exists()
        )
        if changed_since:
            plan = plan_people_sync(
                columns=sync.columns, rows=stored_rows(sync), full=sync.full, actor=actor
            )
            sync.actions = plan.actions()
            counts, errors = plan.counts(), plan.errors[:1000]
        sync.changes = {
            "counts": counts,
            "replanned": changed_since,
            "created": [],
            "updated": [],
            "deactivated": [],
            "errors": errors,
        }
        sync.save(update_fields=["actions", "changes"])
        return len(sync.actions)


def apply_people_sync_chunk(
    *, actor: Actor, sync_id: int, start: int, size: int
) -> tuple[int, dict[str, int]]:
    """Apply actions ``start`` to ``start + size`` of a sync's plan, in one transaction.

    Each person changed gets an audit record (before / after); the chunk gets one
    more on the sync. Return (actions applied, counts by kind). Run it inside the
    job's transaction so the job's cursor moves with it.
    """
    with transaction.atomic():
        now = timezone.now()
        chain = audit.lock_chain()
        sync = PeopleSync.objects.select_for_update().get(pk=sync_id)
        actions = sync.actions[start : start + size]
        if not actions:
            return 0, {}
        unit_ids = dict(OrgUnit.objects.values_list("code", "pk"))
        entries: list[audit.Entry] = []
        counts = {"created": 0, "updated": 0, "deactivated": 0, "linked": 0}
        resampler = Resampler(PEOPLE_TABLES, at_least=PEOPLE_SAMPLED_FROM)
        created, updated, deactivated = _apply(actions, unit_ids, now, actor, entries, counts, sync)
        # A chunk that doubled the people: the reads after it in this transaction (and
        # the next chunk's, and the next plan's) are planned from its rows, not from
        # statistics of a table of a few people (PostgreSQL; a read of everyone's
        # placements by external id took 20 s planned as nested scans).
        resampler.wrote(len(created))
        entries.append(
            audit.Entry(
                actor,
                "people_sync.chunk_applied",
                sync,
                now,
                after={"from": start, "to": start + len(actions), **counts},
                notes=f"job {sync.job_id}" if sync.job_id else "",
            )
        )
        audit.record_all(entries, head=chain)
        changes = dict(sync.changes)
        changes["created"] = [*changes.get("created", []), *created]
        changes["updated"] = [*changes.get("updated", []), *updated]
        changes["deactivated"] = [*changes.get("deactivated", []), *deactivated]
        sync.changes = changes
        sync.save(update_fields=["changes"])
    return len(actions), counts


def _apply(
    actions: list[dict[str, Any]],
    unit_ids: dict[str, int],
    now: Any,
    actor: Actor,
    entries: list[audit.Entry],
    counts: dict[str, int],
    sync: PeopleSync,
) -> tuple[list[int], list[int], list[int]]:
    externals = [a["external_id"] for a in actions]
    managers = {a.get("manager") for a in actions if a.get("manager")}
    managers |= {
        a["after"]["manager_external_id"]
        for a in actions
        if a.get("after", {}).get("manager_external_id")
    }
    ids_by_external = dict(
        Account.objects.filter(external_id__in=[*externals, *managers]).values_list(
            "external_id", "user_id"
        )
    )
    created: list[int] = []
    updated: list[int] = []
    deactivated: list[int] = []
    creates = [
        a for a in actions if a["kind"] == "create" and a["external_id"] not in ids_by_external
    ]
    if creates:
        new_users = [
            User(
                username=a["username"],
                first_name=a["first_name"],
                last_name=a["last_name"],
                email=a["email"],
                is_active=a["active"],
                password=make_password(None),
                date_joined=now,
            )
            for a in creates
        ]
        User.objects.bulk_create(new_users, batch_size=1000)
        Account.objects.bulk_create(
            [
                Account(
                    user_id=user.pk,
                    role=Role.LEARNER,
                    username_key=usernames.username_key(user.username),
                    external_id=a["external_id"],
                    job_title=a["job_title"],
                    hire_date=date.fromisoformat(a["hire_date"]) if a["hire_date"] else None,
                )
                for user, a in zip(new_users, creates, strict=True)
            ],
            batch_size=1000,
        )
        for user, a in zip(new_users, creates, strict=True):
            ids_by_external[a["external_id"]] = user.pk
        Placement.objects.bulk_create(
            [
                Placement(
                    user_id=user.pk,
                    org_unit_id=unit_ids.get(a["org_unit"]) if a["org_unit"] else None,
                    manager_id=ids_by_external.get(a["manager"]) if a["manager"] else None,
                )
                for user, a in zip(new_users, creates, strict=True)
            ],
            batch_size=1000,
        )
        for user, a in zip(new_users, creates, strict=True):
            created.append(user.pk)
            user._audit_role = Role.LEARNER.value  # type: ignore[attr-defined]
            after = {k: v for k, v in a.items() if k != "kind"}
            entries.append(
                audit.Entry(
                    actor,
                    "person.created_by_sync",
                    user,
                    now,
                    after=after,
                    notes=f"people sync {sync.pk}",
                )
            )
        counts["created"] += len(creates)
    changing = [a for a in actions if a["kind"] in ("update", "deactivate", "link")]
    if not changing:
        return created, updated, deactivated
    wanted = [a.get("user_id") or ids_by_external.get(a["external_id"]) for a in changing]
    users = User.objects.select_for_update().in_bulk([i for i in wanted if i is not None])
    accounts_by_user = Account.objects.in_bulk(list(users), field_name="user_id") if users else {}
    placements = Placement.objects.in_bulk(list(users)) if users else {}
    for action in changing:
        user_id = action.get("user_id") or ids_by_external.get(action["external_id"])
        found = users.get(user_id) if user_id else None
        if found is None:
            continue  # gone since the plan (deleted by hand): nothing to change
        user = found
        stored = accounts_by_user.get(user.pk)
        # Someone made without an account (a superuser is an admin) keeps their role.
        account = stored or Account(
            user_id=user.pk, role=accounts_api.role_of(user) or Role.LEARNER, username_key=None
        )
        user._audit_role = stored.role if stored else None  # type: ignore[attr-defined]
        placement = placements.get(user.pk) or Placement(user_id=user.pk)
        if action["kind"] == "link":
            manager_id = ids_by_external.get(action["manager"])
            if placement.manager_id == manager_id:
                continue
            before = {"manager_id": placement.manager_id}
            placement.manager_id = manager_id
            placement.save()
            entries.append(
                audit.Entry(
                    actor,
                    "person.placed",
                    user,
                    now,
                    before,
                    {"manager_id": manager_id},
                    notes=f"people sync {sync.pk}",
                )
            )
            counts["linked"] += 1
            continue
        after = action["after"]
        user_fields = []
        for name in ("username", "first_name", "last_name", "email"):
            if name in after:
                setattr(user, name, after[name])
                user_fields.append(name)
        if "username" in after:
            account.username_key = usernames.username_key(after["username"])
        if "active" in after:
            user.is_active = after["active"]
            user_fields.append("is_active")
        if "external_id" in after:
            account.external_id = after["external_id"]
        if "job_title" in after:
            account.job_title = after["job_title"]
        if "hire_date" in after:
            account.hire_date = (
                date.fromisoformat(after["hire_date"]) if after["hire_date"] else None
            )
        if user_fields:
            user.save(update_fields=user_fields)
        account.save()
        user._audit_role = account.role  # type: ignore[attr-defined]
        if "org_unit" in after or "manager_external_id" in after:
            if "org_unit" in after:
                placement.org_unit_id = (
                    unit_ids.get(after["org_unit"]) if after["org_unit"] else None
                )
            if "manager_external_id" in after:
                ext = after["manager_external_id"]
                placement.manager_id = ids_by_external.get(ext) if ext else None
            placement.save()
        if action["kind"] == "deactivate":
            deactivated.append(user.pk)
            counts["deactivated"] += 1
            verb = "person.deactivated_by_sync"
        else:
            updated.append(user.pk)
            counts["updated"] += 1
            verb = "person.updated_by_sync"
        entries.append(
            audit.Entry(
                actor,
                verb,
                user,
                now,
                action["before"],
                after,
                notes=action.get("reason", f"people sync {sync.pk}"),
            )
        )
    return created, updated, deactivated


def finish_people_sync(*, sync_id: int, actor: Actor) -> dict[str, Any]:
    """Mark a sync applied (audited); return its counts and the people it changed."""
    with transaction.atomic():
        sync = PeopleSync.objects.select_for_update().get(pk=sync_id)
        changes = sync.changes
        summary = {
            "sync_id": sync.pk,
            "created": len(changes.get("created", [])),
            "updated": len(changes.get("updated", [])),
            "deactivated": len(changes.get("deactivated", [])),
            "errors": changes.get("counts", {}).get("errors", 0),
            "unchanged": changes.get("counts", {}).get("unchanged", 0),
        }
        if sync.status != PeopleSyncStatus.APPLIED:
            sync.status = PeopleSyncStatus.APPLIED
            sync.save(update_fields=["status"])
            audit.record(
                actor=actor,
                action="people_sync.applied",
                target=sync,
                at=timezone.now(),
                after=summary,
                notes=f"job {sync.job_id}" if sync.job_id else "",
            )
    return summary


def sync_changes(sync_id: int) -> SyncChanges:
    """Return the people an applied (or applying) sync created, updated and deactivated.

    The hook for what must follow a sync: e.g. audiences re-evaluate exactly these people.
    """
    changes = get_people_sync(sync_id).changes or {}
    return SyncChanges(
        created=list(changes.get("created", [])),
        updated=list(changes.get("updated", [])),
        deactivated=list(changes.get("deactivated", [])),
    )
