"""The audit log in words: targets and ids named (people, courses, packages,
versions), and each change as a readable "field: before → after".

The log stores ids and labels as they were written; this reads the names of the
page's 50 rows in a handful of queries and says them as a person would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from coursepack.audit import selectors as audit
from coursepack.audit.models import AuditEvent
from coursepack.reports.audit_names import audit_targets
from coursepack.web.templatetags.records import kind_label, policy_label, source_label, status_label

__all__ = ["ReadableRow", "readable_rows"]

_USER_KEYS = {"learner", "owner", "actor"}
_USER_LIST_KEYS = {"learners", "already_enrolled", "unknown_learners"}
_VERSION_KEYS = {"version", "from_version", "to_version"}
_LABELS = {
    "occurred_at": "occurred",
    "completed_at": "completed",
    "effective_from": "takes effect",
    "archived_at": "archived",
    "withdrawn_at": "withdrawn",
    "inflight_policy": "enrolled learners",
    "external_id": "reference",
    "void_event": "void event",
    "already_enrolled": "already enrolled",
    "unknown_learners": "unknown",
    "min_count": "complete at least",
    "duration_minutes": "minutes",
    "change_notes": "change notes",
}
_MAX_NAMES = 3


@dataclass(frozen=True)
class ReadableRow:
    """One audit event as the log page shows it."""

    event: AuditEvent
    actor: str
    target: str
    target_kind: str
    changes: list[str]


@dataclass
class _Names:
    users: dict[int, str]
    courses: dict[int, str]
    versions: dict[int, str]
    enrollments: dict[int, str]
    events: dict[int, str]


def _ints(values: Iterable[Any]) -> set[int]:
    found = set()
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, str) and value.isdigit():
            found.add(int(value))
    return found


def _person(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def _load(events: Sequence[AuditEvent]) -> _Names:
    user_ids: set[int] = set()
    course_ids: set[int] = set()
    version_ids: set[int] = set()
    enrollment_ids: set[int] = set()
    event_ids: set[int] = set()
    for e in events:
        kinds = {
            "auth.user": user_ids,
            "catalog.course": course_ids,
            "packaging.packageversion": version_ids,
            "learning.enrollment": enrollment_ids,
            "learning.completionevent": event_ids,
        }
        if e.target_type in kinds:
            kinds[e.target_type].update(_ints([e.target_id]))
        for data in (e.before or {}, e.after or {}):
            for key, value in data.items():
                if key in _USER_KEYS:
                    user_ids.update(_ints([value]))
                elif key in _USER_LIST_KEYS and isinstance(value, list):
                    user_ids.update(_ints(value[:_MAX_NAMES]))
                elif key == "course":
                    course_ids.update(_ints([value]))
                elif key in _VERSION_KEYS:
                    version_ids.update(_ints([value]))
    found = audit_targets(
        enrollment_ids=enrollment_ids,
        event_ids=event_ids,
        course_ids=course_ids,
        version_ids=version_ids,
    )
    enrollments, completions = found.enrollments, found.completions
    user_ids |= {e.learner_id for e in enrollments.values()}
    User = get_user_model()
    users = {u.pk: _person(u) for u in User.objects.filter(pk__in=user_ids)}
    courses = {pk: f"{c.code} {c.name}" for pk, c in found.courses.items()}
    versions = {pk: f"{v.package.name} v{v.version_number}" for pk, v in found.versions.items()}
    return _Names(
        users=users,
        courses=courses,
        versions=versions,
        enrollments={
            pk: f"{users.get(e.learner_id, e.learner.username)} in {e.package.name}"
            for pk, e in enrollments.items()
        },
        events={
            pk: f"{_person(c.learner)}: {c.course.code} {c.course.name}, "
            f"{kind_label(c.kind).lower()} {c.occurred_at:%Y-%m-%d}"
            for pk, c in completions.items()
        },
    )


def _target(e: AuditEvent, names: _Names) -> str:
    found = _ints([e.target_id])
    pk = next(iter(found)) if found else None
    table = {
        "auth.user": names.users,
        "catalog.course": names.courses,
        "packaging.packageversion": names.versions,
        "learning.enrollment": names.enrollments,
        "learning.completionevent": names.events,
    }.get(e.target_type)
    if table is not None and pk is not None and pk in table:
        return table[pk]
    return e.target_label or "—"


def _value(key: str, value: Any, names: _Names) -> str:
    if value is None:
        return "—"
    if key in _USER_KEYS and isinstance(value, int):
        return names.users.get(value, f"user {value}")
    if key in _USER_LIST_KEYS and isinstance(value, list):
        if not value:
            return "none"
        if len(value) > _MAX_NAMES:
            return f"{len(value)} people"
        return ", ".join(names.users.get(v, f"user {v}") for v in value)
    if key == "course" and isinstance(value, int):
        return names.courses.get(value, f"course {value}")
    if key in _VERSION_KEYS and isinstance(value, int):
        return names.versions.get(value, f"version {value}")
    if key == "status" and isinstance(value, str):
        return status_label(value).lower()
    if key == "kind":
        return kind_label(value).lower()
    if key == "source":
        return source_label(value)
    if key == "inflight_policy":
        return policy_label(value).lower()
    if key == "role":
        return str(value)
    return audit.change_summary(None, {"v": value})[0].removeprefix("v: ")


def _changes(e: AuditEvent, names: _Names, limit: int = 6) -> list[str]:
    before, after = e.before or {}, e.after or {}
    lines = []
    for key in [*before, *(k for k in after if k not in before)]:
        label = _LABELS.get(key, key.replace("_", " "))
        if key in before and key in after:
            if before[key] == after[key]:
                continue
            lines.append(
                f"{label}: {_value(key, before[key], names)} → {_value(key, after[key], names)}"
            )
        elif key in after:
            if after[key] is None:
                continue  # a field that was not given says nothing
            lines.append(f"{label}: {_value(key, after[key], names)}")
        else:
            lines.append(f"{label}: {_value(key, before[key], names)} → —")
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"… and {len(lines) - limit + 1} more"]
    return lines


def readable_rows(events: Sequence[AuditEvent]) -> list[ReadableRow]:
    """Return the events with their actor, target and changes said in words."""
    names = _load(events)
    actor_ids = _ints(e.actor_id for e in events if e.actor_id is not None)
    missing = actor_ids - names.users.keys()
    if missing:
        names.users.update(
            {u.pk: _person(u) for u in get_user_model().objects.filter(pk__in=missing)}
        )
    return [
        ReadableRow(
            event=e,
            actor=names.users.get(e.actor_id, e.actor_label) if e.actor_id else e.actor_label,
            target=_target(e, names),
            target_kind=audit.target_kind(e.target_type),
            changes=_changes(e, names),
        )
        for e in events
    ]
