"""Write and read the audit log. Writes happen inside the caller's transaction."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Model, Q

from coursepack import statements
from coursepack.audit.models import AuditChainHead, AuditEvent

__all__ = [
    "LOADED_WITHOUT_RECORDS",
    "SYSTEM_ACTOR_LABEL",
    "ChainReport",
    "Entry",
    "Named",
    "Operator",
    "actor_label",
    "checkpoint_is_authentic",
    "declare_loaded_without_records",
    "id_ranges",
    "lock_chain",
    "operator",
    "record",
    "record_all",
    "row_hash",
    "signed_checkpoint",
    "verify_chain",
]

#: The hash the first record of the chain points back to.
GENESIS_HASH = "0" * 64

#: How the log names actions Coursepack takes by itself.
SYSTEM_ACTOR_LABEL = "system"
#: How the log names someone who is not signed in (a failed sign-in).
ANONYMOUS_ACTOR_LABEL = "anonymous"


@dataclass(frozen=True)
class Operator:
    """Someone running a management command who is not (or not named as) a Coursepack user:
    the OS account, so the record never silently says "system"."""

    name: str
    #: Not a signed-in user: no user row is stored, only the label.
    is_authenticated = False

    def get_username(self) -> str:
        return self.name


#: Who acts: a signed-in user, an operator at the command line, an anonymous
#: visitor (a failed sign-in), or None for the system itself.
Actor = User | AnonymousUser | Operator | None


def operator(username: str | None) -> Actor:
    """Return who runs a management command: the active user ``username`` (``--actor``),
    or without it the OS user, as ``os:NAME``.

    Raises LookupError if ``username`` names no active user.
    """
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise LookupError(f"There is no active user {username!r} to act as (--actor).")
        return user
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid-{os.getuid()}"
    return Operator(f"os:{name}")


def actor_label(actor: Actor) -> str:
    """Return the name the audit log shows for ``actor``."""
    if actor is None:
        return SYSTEM_ACTOR_LABEL
    if isinstance(actor, Operator):
        return actor.name[:150]
    if not actor.is_authenticated:
        return ANONYMOUS_ACTOR_LABEL
    return str(actor.get_username())


def lock_chain() -> AuditChainHead:
    """Take the audit chain's lock now, before any learner or enrollment lock.

    Every audited write holds this lock from its first audit record until it
    commits (see ADR 0009). A service that locks learners or enrollments and
    then writes an audit record must take this lock *first*, or it deadlocks with
    a publish that holds it while moving learners. Lock order: package, audit
    chain, learners, enrollments.

    Returns the locked head; a service that appends its records at the end with
    ``record_all(..., head=...)`` saves reading it again.
    """
    return _locked_head()


_HEAD_SQL: dict[str, str] = {}


def _locked_head() -> AuditChainHead:
    """Read and lock the chain's head: one statement written once (every audited write
    runs it; ADR 0035), or created on the chain's first record."""
    cols = statements.columns(
        AuditChainHead, [f.attname for f in AuditChainHead._meta.concrete_fields]
    )
    sql = _HEAD_SQL.get(connection.vendor)
    if sql is None:
        q = connection.ops.quote_name
        sql = f"SELECT {cols.sql} FROM {q(AuditChainHead._meta.db_table)} WHERE {q('id')} = 1"
        if connection.features.has_select_for_update:
            sql += " " + connection.ops.for_update_sql()
        _HEAD_SQL[connection.vendor] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    if row is not None:
        head: AuditChainHead = statements.instance(cols, row)
        return head
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    return head


@dataclass(frozen=True)
class Named:
    """A target that is no row (yet): e.g. the username a failed sign-in tried."""

    type: str
    id: str
    label: str

    def __str__(self) -> str:
        return self.label


Target = Model | Named


def _target_fields(target: Target) -> tuple[str, str]:
    if isinstance(target, Named):
        return target.type, target.id
    return target._meta.label_lower, str(target.pk)


@dataclass(frozen=True)
class Entry:
    """One record to append to the audit log (see ``record`` for the fields)."""

    actor: Actor
    action: str
    target: Target
    at: datetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    notes: str = ""
    package_id: int | None = None
    #: Other rows written with this change that the record vouches for (e.g. the
    #: publish-log entry of a publish), besides those bound to the target itself.
    binds: tuple[Model, ...] = ()


def record(
    *,
    actor: Actor,
    action: str,
    target: Target,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    notes: str = "",
    package_id: int | None = None,
    binds: Sequence[Model] = (),
) -> AuditEvent:
    """Append one event to the audit log.

    Call it inside the service's transaction with the transaction's timestamp, so
    the event commits or rolls back with the change it describes. ``binds`` names
    other rows written with the change that the record vouches for (their hashes
    are stored with it and re-checked by ``verify_chain``).
    """
    entry = Entry(actor, action, target, at, before, after, notes, package_id, tuple(binds))
    return record_all([entry])[0]


def record_all(entries: Sequence[Entry], *, head: AuditChainHead | None = None) -> list[AuditEvent]:
    """Append several events to the audit log, in order, with one insert.

    The chain head is read and written once for all of them: a write that changes
    many things (a completion and the statuses it changes) costs one round of the
    chain, not one per record. ``head`` is the head ``lock_chain`` returned in this
    transaction, when nothing else has been audited since; without it the head is
    read (and locked) here.
    """
    if not entries:
        return []
    if head is None:
        head = _locked_head()
    previous = head.last_hash or GENESIS_HASH
    events = []
    for entry in entries:
        actor = entry.actor
        target_type, target_id = _target_fields(entry.target)
        event = AuditEvent(
            occurred_at=entry.at,
            actor=actor if isinstance(actor, User) else None,
            actor_label=actor_label(actor),
            action=entry.action,
            target_type=target_type,
            target_id=target_id,
            target_label=str(entry.target)[:255],
            package_id=entry.package_id,
            before=entry.before,
            after=entry.after,
            notes=entry.notes,
            prev_hash=previous,
            hash_scheme=KEYED_SCHEME,
            row_hash=_row_hash_of(entry.target),
            bound_rows=_bound_rows_of(entry.target, entry.binds),
        )
        event.hash = previous = _hash(event)
        events.append(event)
    if len(events) == 1:
        # One statement written once (the usual single record of a completion).
        statements.insert(events[0])
    else:
        # Both engines return the new ids from a bulk insert (SQLite >= 3.35).
        AuditEvent.objects.bulk_create(events)
    head.last_event_id = events[-1].pk
    head.last_hash = previous
    head.mac = head_mac(head.last_event_id, head.last_hash)
    statements.update(
        AuditChainHead,
        head.pk,
        {"last_event_id": head.last_event_id, "last_hash": head.last_hash, "mac": head.mac},
    )
    return events


def head_mac(last_event_id: int, last_hash: str) -> str:
    """Return the HMAC that vouches for the chain's head."""
    message = f"coursepack-head|{last_event_id}|{last_hash}"
    return hmac.new(audit_key(), message.encode(), hashlib.sha256).hexdigest()


#: The scheme of new records: HMAC-SHA256 under the audit key (ADR "keyed chain").
KEYED_SCHEME = "hmac-sha256"
#: Records written before the chain was keyed.
UNKEYED_SCHEME = "sha256"

#: The rows the log vouches for, and the fields of each that a record binds: a
#: record about such a row carries the hash of these fields as the record saw
#: them, and verify_chain recomputes it from the row as it is now. Append-only
#: rows must never differ from their record; for accounts it is the newest
#: record that must match (every account change is audited).
BOUND_FIELDS: dict[str, tuple[str, ...]] = {
    "learning.completionevent": (
        "learner_id",
        "course_id",
        "kind",
        "occurred_at",
        "recorded_at",
        "recorded_by_id",
        "source",
        "external_id",
        "evidence_note",
        "late_reason",
        "voids_id",
    ),
    "learning.enrollmentmove": (
        "enrollment_id",
        "from_version_id",
        "to_version_id",
        "moved_at",
        "actor_id",
        "policy",
    ),
    "packaging.publishrecord": (
        "package_id",
        "version_id",
        "action",
        "previous_version_id",
        "occurred_at",
        "actor_id",
        "effective_from",
        "change_notes",
        "inflight_policy",
        "moved_enrollments",
    ),
    "auth.user": ("username", "is_active", "is_staff", "is_superuser"),
    "accounts.account": ("user_id", "role"),
    # Released versions: content is frozen at publish, only the workflow stamps move
    # (published -> archived), each move audited. Drafts are not bound (they change).
    "packaging.packageversion": (
        "package_id",
        "version_number",
        "name",
        "description",
        "status",
        "published_at",
        "published_by_id",
        "effective_from",
        "change_notes",
        "archived_at",
        "archived_by_id",
    ),
    "packaging.packageversionitem": (
        "version_id",
        "position",
        "course_id",
        "group_id",
        "group_version_id",
        "required",
    ),
    "packaging.versionlifecycle": (
        "version_id",
        "due_kind",
        "due_days",
        "due_fixed_at",
        "valid_days",
        "window_days",
        "grace_days",
    ),
    "packaging.coursegroupversion": (
        "group_id",
        "version_number",
        "name",
        "description",
        "kind",
        "min_count",
        "status",
        "published_at",
        "published_by_id",
        "change_notes",
    ),
    "packaging.coursegroupitem": (
        "group_version_id",
        "position",
        "course_id",
        "child_group_id",
        "child_version_id",
        "required",
    ),
}
#: Bound rows that never change after their record: each one's *every* record must
#: match, and (for those that are targets) one with no record at all is named.
APPEND_ONLY = (
    "learning.completionevent",
    "learning.enrollmentmove",
    "packaging.publishrecord",
    "packaging.packageversionitem",
    "packaging.versionlifecycle",
    "packaging.coursegroupitem",
)
#: Append-only rows that are never written without a record vouching for them (as
#: target or bound row): one newer than the first vouched-for row and on no record
#: was inserted behind the log's back. (Items are written unbound while a draft.)
NEVER_UNRECORDED = (
    "learning.completionevent",
    "learning.enrollmentmove",
    "packaging.publishrecord",
)
#: A released version vouches for its content rows: {version label: [(row label, fk)]}.
_CONTENT_ROWS: dict[str, tuple[tuple[str, str], ...]] = {
    "packaging.packageversion": (
        ("packaging.packageversionitem", "version_id"),
        ("packaging.versionlifecycle", "version_id"),
    ),
    "packaging.coursegroupversion": (("packaging.coursegroupitem", "group_version_id"),),
}


#: The action of a record declaring rows written without records of their own (the
#: benchmark data generator's bulk loads, a benchmark's bare inserts). Its ``after``
#: is {"rows": {label: {"ranges": [[first id, last id], ...], "count": n}}}.
LOADED_WITHOUT_RECORDS = "rows.loaded_without_records"


def id_ranges(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Return ``ids`` as the fewest (first, last) runs of consecutive ids."""
    ranges: list[list[int]] = []
    for pk in sorted(set(ids)):
        if ranges and pk == ranges[-1][1] + 1:
            ranges[-1][1] = pk
        else:
            ranges.append([pk, pk])
    return [(first, last) for first, last in ranges]


def declare_loaded_without_records(
    *, actor: Actor, ranges: Mapping[str, Sequence[tuple[int, int]]], notes: str, at: datetime
) -> AuditEvent:
    """Append a record declaring the rows now in ``ranges`` ({label: [(first id, last
    id)]}) written without records of their own, so that ``verify_chain`` names them
    instead of finding them on no record.

    Only for rows that bypass the services on purpose (generated benchmark data, a
    benchmark's bare inserts); the record is on the chain like any other, with who
    wrote it and why, and the number of rows it covers (checked again on every run).
    """
    declared = {}
    for label, spans in sorted(ranges.items()):
        spans = [(int(first), int(last)) for first, last in spans]
        count = apps.get_model(label)._default_manager.filter(_declared_q(spans)).count()
        declared[label] = {"ranges": [list(span) for span in spans], "count": count}
    return record(
        actor=actor,
        action=LOADED_WITHOUT_RECORDS,
        target=Named("audit.declaration", "", "rows loaded without records"),
        at=at,
        after={"rows": declared},
        notes=notes,
    )


def audit_key() -> bytes:
    """Return the key of the chain's HMAC (``settings.AUDIT_KEY``), kept outside the database."""
    key: str = settings.AUDIT_KEY
    return key.encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def row_snapshot(label: str, row: Any) -> dict[str, Any]:
    """Return the bound fields of ``row`` (a model instance of ``label``) as plain values."""
    snapshot = {name: _plain(getattr(row, name)) for name in BOUND_FIELDS[label]}
    if label == "auth.user":
        # The role lives in accounts.Account; a role change is an account change.
        # A bulk write that has just stored the account says its role on the row
        # (``_audit_role``, read once), saving a query per record.
        known = row.__dict__.pop("_audit_role", _UNKNOWN)
        if known is not _UNKNOWN:
            snapshot["role"] = known
        else:
            Account = apps.get_model("accounts", "Account")
            snapshot["role"] = (
                Account.objects.filter(user_id=row.pk).values_list("role", flat=True).first()
            )
    return snapshot


_UNKNOWN = object()


def row_hash(label: str, row: Any) -> str:
    """Return the SHA-256 of a bound row's snapshot."""
    canonical = json.dumps(row_snapshot(label, row), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _is_draft(label: str, row: Any) -> bool:
    return label in _CONTENT_ROWS and getattr(row, "status", "") == "draft"


def _row_hash_of(target: Target) -> str:
    if isinstance(target, Named):
        return ""
    label = target._meta.label_lower
    if label not in BOUND_FIELDS or _is_draft(label, target):
        return ""
    return row_hash(label, target)


def _bound_rows_of(target: Target, binds: Sequence[Model]) -> dict[str, str] | None:
    """Return {"label id": row hash} for the rows a record vouches for besides its
    target: a released version's content rows, and ``binds``; None when there are none."""
    rows: list[Model] = list(binds)
    if not isinstance(target, Named):
        label = target._meta.label_lower
        if label in _CONTENT_ROWS and not _is_draft(label, target):
            for row_label, fk in _CONTENT_ROWS[label]:
                model = apps.get_model(row_label)
                rows.extend(model._default_manager.filter(**{fk: target.pk}).order_by("pk"))
    bound = {}
    for row in rows:
        row_label = row._meta.label_lower
        bound[f"{row_label} {row.pk}"] = row_hash(row_label, row)
    return bound or None


def _hash(event: AuditEvent) -> str:
    """Return the hash of a record's content chained to the previous record's hash:
    an HMAC under the audit key for keyed records, a bare SHA-256 for old ones."""
    content: dict[str, Any] = {
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "package_id": event.package_id,
        "before": event.before,
        "after": event.after,
        "notes": event.notes,
        "prev_hash": event.prev_hash,
    }
    if event.hash_scheme == UNKEYED_SCHEME:
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
    content["row_hash"] = event.row_hash
    content["hash_scheme"] = event.hash_scheme
    if event.bound_rows is not None:
        content["bound_rows"] = event.bound_rows
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(audit_key(), canonical.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What verifying the audit chain found."""

    checked: int
    # The id of the first record that does not fit the chain, or None if it is intact.
    first_bad_id: int | None = None
    reason: str = ""
    # Records hashed before the chain was keyed (weaker: anyone could recompute them).
    unkeyed: int = 0
    # Rows the log vouches for that were checked against their records.
    rows_checked: int = 0
    # The newest record verified and its hash: where an incremental check resumes.
    last_id: int = 0
    last_hash: str = ""
    # Rows written without records of their own that the log declares (benchmark data),
    # by label, and the records that declare them.
    loaded_without_records: tuple[tuple[str, int], ...] = ()
    declared_by: tuple[int, ...] = ()

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None and not self.reason


def _records(after_id: int = 0) -> Iterator[AuditEvent]:
    """Yield every record after ``after_id`` in chain order, a page of ids at a time
    (plain queries: no server-side cursor is left open when verification stops early)."""
    last = after_id
    while page := list(AuditEvent.objects.filter(pk__gt=last).order_by("id")[:2000]):
        yield from page
        last = page[-1].pk


#: {label: [(declaring record, [(first id, last id)], rows declared)]}
_Declared = dict[str, list[tuple[int, list[tuple[int, int]], int]]]


def _declared_q(ranges: Sequence[tuple[int, int]]) -> Q:
    """Return the rows in ``ranges`` as a filter (single ids as one IN list)."""
    q = Q(pk__in=[first for first, last in ranges if first == last])
    for first, last in ranges:
        if first != last:
            # gte/lte, not range: a primary key that is a one-to-one field has no range.
            q |= Q(pk__gte=first, pk__lte=last)
    return q


def _check_declared(declared: _Declared) -> tuple[int | None, str]:
    """Check that each declaration of append-only rows loaded without records still
    covers exactly as many rows as it counted; return (bad record, reason)."""
    for label, declarations in sorted(declared.items()):
        if label not in APPEND_ONLY:
            continue
        manager = apps.get_model(label)._default_manager
        for event_id, ranges, count in declarations:
            found = manager.filter(_declared_q(ranges)).count() if ranges else 0
            if found != count:
                return event_id, (
                    f"it declares {count} {label} rows loaded without records, "
                    f"but its id ranges hold {found}"
                )
    return None, ""


def _check_rows(
    latest: dict[tuple[str, str], tuple[int, str]],
    every: list[tuple[int, str, str, str]],
    *,
    strays: bool = True,
    declared: _Declared | None = None,
) -> tuple[int, int | None, str]:
    """Compare bound rows with their records; return (rows checked, bad record, reason).

    ``declared`` ({label: [(record, [first, last], count)]}): rows a record declares
    written without records of their own, which are then no strays.
    """
    checked = 0
    by_label: dict[str, dict[str, list[tuple[int, str]]]] = {}
    # The row the chain vouched for first, per label (``every`` is in chain order).
    first_vouched: dict[str, int] = {}
    for event_id, label, target_id, expected in every:
        by_label.setdefault(label, {}).setdefault(target_id, []).append((event_id, expected))
        if target_id.isdigit():
            first_vouched.setdefault(label, int(target_id))
    for (label, target_id), (event_id, expected) in latest.items():
        if label not in APPEND_ONLY:
            by_label.setdefault(label, {}).setdefault(target_id, []).append((event_id, expected))
    for label, targets in sorted(by_label.items()):
        model = apps.get_model(label)
        ids = [int(t) for t in targets if t.isdigit()]
        rows = {}
        for start in range(0, len(ids), 2000):
            for row in model._default_manager.filter(pk__in=ids[start : start + 2000]):
                rows[str(row.pk)] = row
        for target_id, expectations in sorted(targets.items()):
            row = rows.get(target_id)
            for event_id, expected in expectations:
                checked += 1
                if row is None:
                    return checked, event_id, f"it vouches for {label} {target_id}, which is gone"
                if row_hash(label, row) != expected:
                    return (
                        checked,
                        event_id,
                        f"it vouches for {label} {target_id}, whose row was changed since "
                        f"(now: {json.dumps(row_snapshot(label, row), sort_keys=True)})",
                    )
        if strays and label in NEVER_UNRECORDED and ids:
            # Every such row must be on the record: one inserted behind the log's back
            # (newer than the first row the keyed log vouched for) has no record.
            candidates = model._default_manager.filter(pk__gt=first_vouched[label]).exclude(
                pk__in=ids
            )
            for _, ranges, _ in (declared or {}).get(label, ()):
                if ranges:
                    candidates = candidates.exclude(_declared_q(ranges))
            stray = candidates.order_by("pk").values_list("pk", flat=True).first()
            if stray is not None:
                return checked, None, f"{label} {stray} is on no audit record"
    return checked, None, ""


def verify_chain(
    *,
    checkpoint: dict[str, Any] | None = None,
    since: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Recompute the audit chain and name the first record that was changed, deleted,
    inserted or reordered, or whose row (a completion event, a released version's
    item, an account…) was changed behind the log's back; with a ``checkpoint``
    (``signed_checkpoint``), also check that the chain still passes through it.

    ``since`` = (id, hash) of the newest record a previous full run verified: only
    the records after it are read, starting from that hash, and only the rows
    *they* vouch for are checked (no search for rows on no record). Cheap on every
    page visit; what it does not cover waits for the next full run.
    ``progress`` is called with the number of records read, a page at a time.
    """
    previous_hash, last_id = (since[1], since[0]) if since else (GENESIS_HASH, 0)
    checked = unkeyed = 0
    latest: dict[tuple[str, str], tuple[int, str]] = {}
    every: list[tuple[int, str, str, str]] = []
    seen_checkpoint = checkpoint is None
    seen_keyed = bool(
        since and AuditEvent.objects.filter(pk__lte=since[0], hash_scheme=KEYED_SCHEME).exists()
    )

    declared: _Declared = {}
    declared_by: list[int] = []
    loaded: dict[str, int] = {}

    def report(bad_id: int | None, reason: str, rows: int = 0) -> ChainReport:
        return ChainReport(
            checked,
            bad_id,
            reason,
            unkeyed,
            rows,
            last_id,
            previous_hash,
            tuple(sorted(loaded.items())),
            tuple(declared_by),
        )

    for event in _records(last_id):
        if event.prev_hash != previous_hash:
            return report(
                event.pk,
                "it does not follow the record before it: a record before it was deleted, "
                "inserted or reordered",
            )
        if event.hash_scheme == KEYED_SCHEME:
            seen_keyed = True
            if not hmac.compare_digest(_hash(event), event.hash):
                return report(
                    event.pk,
                    "its content does not match its keyed hash: it was changed (or the "
                    "audit key is not the one it was written with)",
                )
        elif event.hash_scheme == UNKEYED_SCHEME and not seen_keyed:
            unkeyed += 1
            if _hash(event) != event.hash:
                return report(event.pk, "its content does not match its hash: it was changed")
        else:
            # An unkeyed record after keyed ones: someone wrote it without the key.
            return report(
                event.pk,
                "it is not keyed although records before it are: it was written without the "
                "audit key",
            )
        if event.row_hash:
            key = (event.target_type, event.target_id)
            if event.target_type in APPEND_ONLY:
                every.append((event.pk, event.target_type, event.target_id, event.row_hash))
            else:
                latest[key] = (event.pk, event.row_hash)
        if event.action == LOADED_WITHOUT_RECORDS and event.hash_scheme == KEYED_SCHEME:
            declared_by.append(event.pk)
            for label, what in ((event.after or {}).get("rows") or {}).items():
                ranges = [(int(first), int(last)) for first, last in what.get("ranges", ())]
                count = int(what.get("count", 0))
                declared.setdefault(label, []).append((event.pk, ranges, count))
                loaded[label] = loaded.get(label, 0) + count
        for name, expected in (event.bound_rows or {}).items():
            label, _, row_id = str(name).partition(" ")
            every.append((event.pk, label, row_id, str(expected)))
        if checkpoint is not None and event.pk == checkpoint.get("last_event_id"):
            seen_checkpoint = True
            if event.hash != checkpoint.get("last_hash"):
                return report(
                    event.pk,
                    "it is not the record the checkpoint signed: the chain was rewritten",
                )
        previous_hash = event.hash
        last_id = event.pk
        checked += 1
        if progress is not None and checked % 2000 == 0:
            progress(2000)
    if progress is not None and checked % 2000:
        progress(checked % 2000)
    if not seen_checkpoint:
        return report(
            None,
            f"the checkpoint's record {checkpoint and checkpoint.get('last_event_id')} is "
            "missing: the chain was cut back or rewritten",
        )
    head = AuditChainHead.objects.filter(pk=1).first()
    head_id, head_hash = (head.last_event_id, head.last_hash) if head else (0, "")
    if (head_id, head_hash or GENESIS_HASH) != (last_id, previous_hash):
        return report(
            head_id or None,
            f"the chain ends at record {last_id}, but its head says {head_id}: "
            "the newest records were deleted or the head was changed",
        )
    if head is not None and not hmac.compare_digest(
        head.mac, head_mac(head.last_event_id, head.last_hash)
    ):
        return report(
            head_id or None,
            "the chain's head is not signed with the audit key: the chain was rewritten or "
            "cut back without the key (or the key is not the one it was written with)",
        )
    rows_checked, bad_id, reason = _check_rows(
        latest, every, strays=since is None, declared=declared
    )
    if not reason and since is None:
        bad_id, reason = _check_declared(declared)
    return report(bad_id, reason, rows_checked)


def signed_checkpoint() -> dict[str, Any]:
    """Return the chain's head, signed with the audit key, to store outside the database.

    ``verify_chain(checkpoint=...)`` later proves the chain still passes through
    this record with this hash: rewriting the chain before it (even with the key)
    changes the hash there.
    """
    head = AuditChainHead.objects.filter(pk=1).first()
    body = {
        "last_event_id": head.last_event_id if head else 0,
        "last_hash": head.last_hash if head else "",
        "taken_at": datetime.now(UTC).isoformat(),
    }
    body["signature"] = _sign(body)
    return body


def _sign(body: dict[str, Any]) -> str:
    message = (
        f"coursepack-checkpoint|{body['last_event_id']}|{body['last_hash']}|{body['taken_at']}"
    )
    return hmac.new(audit_key(), message.encode(), hashlib.sha256).hexdigest()


def checkpoint_is_authentic(body: dict[str, Any]) -> bool:
    """Whether a checkpoint was signed with this audit key and not altered."""
    try:
        return hmac.compare_digest(_sign(body), str(body.get("signature", "")))
    except KeyError:
        return False
