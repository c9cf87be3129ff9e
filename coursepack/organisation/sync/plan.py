"""The people sync, reading and planning: parse an HR file (or an API batch) into rows,
and say what applying them would do, writing nothing (the dry run; ADR 0024)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from coursepack.accounts import usernames
from coursepack.accounts.models import Account
from coursepack.audit.api import Actor
from coursepack.organisation.errors import InvalidPeopleFile
from coursepack.organisation.models import OrgUnit

__all__ = [
    "COLUMNS",
    "FIELDS",
    "MAX_ROWS",
    "PeopleSyncPlan",
    "SyncRow",
    "parse_people_csv",
    "plan_people_sync",
    "rows_from_dicts",
]

#: The columns a people file may have; ``external_id`` is required.
COLUMNS = (
    "external_id",
    "username",
    "first_name",
    "last_name",
    "email",
    "job_title",
    "hire_date",
    "org_unit",
    "manager_external_id",
    "active",
)
#: The fields a row sets, in the order changes are listed.
FIELDS = COLUMNS[1:]
MAX_ROWS = 250_000
_TRUE = {"", "1", "true", "yes", "y", "active"}
_FALSE = {"0", "false", "no", "n", "inactive"}


@dataclass(frozen=True)
class SyncRow:
    """One person as a file states them (raw text cells); ``line`` is its place in the file."""

    line: int
    cells: dict[str, str]


@dataclass
class PeopleSyncPlan:
    """What a sync would do: nothing is written to make one."""

    rows: int = 0
    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deactivations: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return how many rows of each kind the plan has."""
        return {
            "rows": self.rows,
            "creates": len(self.creates),
            "updates": len(self.updates),
            "deactivations": len(self.deactivations),
            "unchanged": self.unchanged,
            "errors": len(self.errors),
        }

    def actions(self) -> list[dict[str, Any]]:
        """Return the plan as the ordered actions a job applies.

        Creates first, so that updates may name a new hire as manager; new hires
        whose manager is another new hire get their manager in a last "link" step.
        """
        new = {c["external_id"] for c in self.creates}
        links = [
            {"kind": "link", "external_id": c["external_id"], "manager": c["manager"]}
            for c in self.creates
            if c.get("manager") in new
        ]
        return [
            *({"kind": "create", **c} for c in self.creates),
            *({"kind": "update", **u} for u in self.updates),
            *({"kind": "deactivate", **d} for d in self.deactivations),
            *links,
        ]


# --- reading a file ---------------------------------------------------------------------


def parse_people_csv(data: bytes | str) -> tuple[list[str], list[SyncRow]]:
    """Read a people CSV (UTF-8, a header row naming its columns); return columns and rows.

    Raises InvalidPeopleFile when the file as a whole is unusable; problems of
    single rows are left to the plan, which reports them per row.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidPeopleFile(
                "The people file is not UTF-8 text; save it as CSV (UTF-8) and upload it again."
            ) from exc
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise InvalidPeopleFile("The people file contains NUL characters; it is not a CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidPeopleFile("The people file is empty; it needs a header row and people.")
    columns = [c.strip().lower() for c in header]
    _check_columns(columns)
    rows: list[SyncRow] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise InvalidPeopleFile(f"The people file has more than {MAX_ROWS:,} people.")
        cells = {c: (values[i] if i < len(values) else "") for i, c in enumerate(columns)}
        if len(values) > len(columns):
            cells["__extra__"] = "x"
        rows.append(SyncRow(line=reader.line_num, cells=cells))
    return columns, rows


def _check_columns(columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise InvalidPeopleFile(
            f"The people file has columns Coursepack does not know: {', '.join(unknown)}. "
            f"Columns: {', '.join(COLUMNS)}."
        )
    if len(set(columns)) != len(columns):
        raise InvalidPeopleFile("The people file names a column twice.")
    if "external_id" not in columns:
        raise InvalidPeopleFile("The people file needs an external_id column.")


def rows_from_dicts(people: Iterable[dict[str, Any]]) -> tuple[list[str], list[SyncRow]]:
    """Turn an API batch (a list of objects) into columns and rows, as a file would give.

    The columns are those any object sets; a key an object leaves out is kept as
    it is for that person (an empty value clears it).
    """
    rows = []
    columns: list[str] = []
    for number, person in enumerate(people, start=1):
        cells: dict[str, str] = {}
        for key, value in person.items():
            if value is None:
                value = ""
            elif isinstance(value, bool):
                value = "true" if value else "false"
            cells[key] = str(value)
            if key not in columns:
                columns.append(key)
        rows.append(SyncRow(line=number, cells=cells))
    _check_columns(columns)
    return columns, rows


# --- the plan (the dry run) -------------------------------------------------------------


@dataclass
class _Person:
    """A person as stored, in the file's terms."""

    user_id: int
    external_id: str | None
    username: str
    first_name: str
    last_name: str
    email: str
    job_title: str
    hire_date: str
    org_unit: str
    manager_external_id: str
    active: bool
    role: str

    def value(self, name: str) -> Any:
        return getattr(self, name)


def _people() -> tuple[dict[str, _Person], dict[str, int], dict[str, int]]:
    """Return everyone with an external id, every username's key holder, and usernames."""
    units = dict(OrgUnit.objects.values_list("pk", "code"))
    externals: dict[int, str] = {
        user_id: ext
        for user_id, ext in Account.objects.filter(external_id__isnull=False).values_list(
            "user_id", "external_id"
        )
        if ext
    }
    by_external: dict[str, _Person] = {}
    rows = User.objects.filter(account__external_id__isnull=False).values_list(
        "pk",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "account__external_id",
        "account__job_title",
        "account__hire_date",
        "account__role",
        "placement__org_unit_id",
        "placement__manager_id",
    )
    for pk, name, first, last, email, active, ext, title, hired, role, unit, manager in rows:
        if not ext:
            continue
        by_external[ext] = _Person(
            user_id=pk,
            external_id=ext,
            username=name,
            first_name=first,
            last_name=last,
            email=email,
            job_title=title,
            hire_date=hired.isoformat() if hired else "",
            org_unit=units.get(unit, "") if unit else "",
            manager_external_id=externals.get(manager, "") if manager else "",
            active=active,
            role=role,
        )
    keys: dict[str, int] = {
        key: user_id
        for key, user_id in Account.objects.filter(username_key__isnull=False).values_list(
            "username_key", "user_id"
        )
        if key
    }
    names = dict(User.objects.values_list("username", "pk"))
    # People made outside the services (no account, or no key yet) are compared by key too.
    unkeyed = User.objects.filter(Q(account__isnull=True) | Q(account__username_key__isnull=True))
    for name, pk in unkeyed.values_list("username", "pk"):
        keys.setdefault(usernames.username_key(name), pk)
    return by_external, keys, names


def _clean(row: SyncRow, problems: list[str], people: dict[str, _Person]) -> dict[str, Any]:
    """Return the row's values, checked and normalised; add what is wrong to ``problems``.

    A username or email the person already has is not checked again (most rows of
    a full file change nothing, and these checks are the costly ones).
    """
    cells = row.cells
    if "__extra__" in cells:
        problems.append("the row has more cells than the header has columns")
    value: dict[str, Any] = {}

    def text(name: str, limit: int) -> None:
        if name not in cells:
            return
        raw = cells[name].strip()
        if len(raw) > limit:
            problems.append(f"{name}: must be at most {limit} characters (got {len(raw)})")
        value[name] = raw

    ext = cells.get("external_id", "").strip()
    if not ext:
        problems.append("external_id: is required")
    elif len(ext) > 64:
        problems.append(f"external_id: must be at most 64 characters (got {len(ext)})")
    value["external_id"] = ext
    person = people.get(ext)
    text("username", 150)
    name = value.get("username")
    if (
        name
        and (person is None or name != person.username)
        and any(c.isspace() or not c.isprintable() for c in name)
    ):
        problems.append("username: must not contain spaces or invisible characters")
    text("first_name", 150)
    text("last_name", 150)
    text("email", 254)
    if value.get("email") and (person is None or value["email"] != person.email):
        try:
            validate_email(value["email"])
        except ValidationError:
            problems.append(f"email: {value['email']!r} is not an email address")
    text("job_title", 200)
    if "hire_date" in cells:
        raw = cells["hire_date"].strip()
        if raw:
            try:
                raw = date.fromisoformat(raw).isoformat()
            except ValueError:
                problems.append(f"hire_date: {raw!r} is not a date (YYYY-MM-DD)")
        value["hire_date"] = raw
    text("org_unit", 64)
    text("manager_external_id", 64)
    if value.get("manager_external_id") and value["manager_external_id"] == ext:
        problems.append("manager_external_id: a person cannot be their own line manager")
    if "active" in cells:
        raw = cells["active"].strip().lower()
        if raw in _TRUE:
            value["active"] = True
        elif raw in _FALSE:
            value["active"] = False
        else:
            problems.append(f"active: {cells['active']!r} is not true or false")
    return value


def plan_people_sync(
    *, columns: Sequence[str], rows: Sequence[SyncRow], full: bool = False, actor: Actor = None
) -> PeopleSyncPlan:
    """Say what applying ``rows`` would do, writing nothing (the dry run).

    ``full``: the file lists everyone HR knows, so active people with an external
    id who are not in it are deactivated (leavers).
    """
    _check_columns(columns)
    plan = PeopleSyncPlan(rows=len(rows))
    people, keys, names = _people()
    units = dict(OrgUnit.objects.values_list("code", "active"))
    actor_id = getattr(actor, "pk", None)
    with_external = {p.user_id for p in people.values()}
    reserved = {usernames.username_key(n) for n in usernames.RESERVED_USERNAMES}
    # Pass 1: each row on its own.
    values: dict[int, dict[str, Any]] = {}
    problems: dict[int, list[str]] = {}
    seen: dict[str, int] = {}
    key_in_file: dict[str, str] = {}
    for row in rows:
        found: list[str] = []
        value = _clean(row, found, people)
        ext = value["external_id"]
        if ext and ext in seen:
            found.append(f"external_id: {ext!r} is also on line {seen[ext]}")
        elif ext:
            seen[ext] = row.line
        person = people.get(ext)
        name = value.get("username", "")
        if person is None and not name:
            found.append("username: is required for a new person")
        if name and (person is None or name != person.username):
            # Only new or changed names are checked: the rest were checked when given.
            if usernames.username_key(name) in reserved:
                found.append(f"username: {name!r} is reserved for the system")
            key = usernames.username_key(name)
            holder = keys.get(key)
            if holder is None:
                holder = names.get(name)
            # Adopt only the exact name: a look-alike is someone else.
            adopting = (
                holder is not None
                and person is None
                and holder not in with_external
                and names.get(name) == holder
            )
            if holder is not None and (person is None or holder != person.user_id) and not adopting:
                found.append(f"username: {name!r} is another person's (or reads like it)")
            elif key in key_in_file and key_in_file[key] != ext:
                found.append(f"username: {name!r} reads like another row's ({key_in_file[key]})")
            if adopting:
                value["__adopt__"] = holder
            key_in_file[key] = ext
        unit = value.get("org_unit")
        if unit:
            if unit not in units:
                found.append(f"org_unit: there is no org unit with the code {unit!r}")
            elif not units[unit]:
                found.append(f"org_unit: {unit!r} is inactive")
        if person is not None and actor_id == person.user_id and value.get("active") is False:
            found.append("active: you cannot deactivate yourself; ask another admin")
        values[row.line] = value
        problems[row.line] = found
    # Pass 2: managers must exist, or be created by a row without problems (to a fixpoint).
    changed = True
    while changed:
        changed = False
        creatable = {
            v["external_id"]
            for line, v in values.items()
            if not problems[line] and v["external_id"]
        }
        for row in rows:
            line = row.line
            manager = values[line].get("manager_external_id")
            if problems[line] or not manager:
                continue
            if manager not in people and manager not in creatable:
                problems[line].append(
                    f"manager_external_id: there is no person with the external id {manager!r}"
                )
                changed = True
    # Pass 3: what each good row changes.
    for row in rows:
        line = row.line
        value = values[line]
        if problems[line]:
            plan.errors.append(
                {"line": line, "external_id": value["external_id"], "problems": problems[line]}
            )
            continue
        person = people.get(value["external_id"])
        if person is None and "__adopt__" in value:
            plan.updates.append(_adoption(value, columns))
            continue
        if person is None:
            plan.creates.append(_creation(value))
            continue
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name in FIELDS:
            if name in value and value[name] != person.value(name):
                before[name], after[name] = person.value(name), value[name]
        if not after:
            plan.unchanged += 1
            continue
        entry = {
            "external_id": person.external_id,
            "user_id": person.user_id,
            "username": person.username,
            "before": before,
            "after": after,
        }
        if after.get("active") is False:
            entry["reason"] = "active=false in the file"
            plan.deactivations.append(entry)
        else:
            plan.updates.append(entry)
    if full:
        in_file = set(seen)
        for ext, person in sorted(people.items()):
            if person.active and ext not in in_file:
                if person.user_id == actor_id:
                    continue
                plan.deactivations.append(
                    {
                        "external_id": ext,
                        "user_id": person.user_id,
                        "username": person.username,
                        "before": {"active": True},
                        "after": {"active": False},
                        "reason": "absent from the full file",
                    }
                )
    return plan


def _creation(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_id": value["external_id"],
        "username": value["username"],
        "first_name": value.get("first_name", ""),
        "last_name": value.get("last_name", ""),
        "email": value.get("email", ""),
        "job_title": value.get("job_title", ""),
        "hire_date": value.get("hire_date", ""),
        "org_unit": value.get("org_unit", ""),
        "manager": value.get("manager_external_id", ""),
        "active": value.get("active", True),
    }


def _adoption(value: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """An update that gives a person made by hand their external id (and the file's fields)."""
    user_id = value["__adopt__"]
    user = User.objects.select_related("account", "placement").get(pk=user_id)
    account = getattr(user, "account", None)
    after = {k: v for k, v in value.items() if k in FIELDS}
    after["external_id"] = value["external_id"]
    return {
        "external_id": value["external_id"],
        "user_id": user_id,
        "username": user.username,
        "before": {"external_id": account.external_id if account else None},
        "after": after,
    }
