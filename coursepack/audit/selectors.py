"""Reads of the audit log: filtered listings and short descriptions of each change."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput

__all__ = [
    "AuditFilters",
    "FilterChoices",
    "LastChange",
    "audit_events",
    "change_summary",
    "filter_choices",
    "last_changes",
    "target_kind",
]


@dataclass(frozen=True)
class AuditFilters:
    """What to show of the log; every field narrows it, empty ones do not.

    ``since`` and ``until`` are days in the current time zone, both included.
    """

    actor: str = ""
    action: str = ""
    package_id: int | None = None
    since: date | None = None
    until: date | None = None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Return the audit events that match ``filters``, newest first."""
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidInput(
            "The date range is empty.",
            problems=["until: must be on or after the 'from' day"],
        )
    events = AuditEvent.objects.order_by("-occurred_at", "-id")
    if filters.actor:
        events = events.filter(actor_label__iexact=filters.actor.strip())
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.package_id is not None:
        events = events.filter(package_id=filters.package_id)
    if filters.since:
        events = events.filter(occurred_at__gte=_start_of(filters.since))
    if filters.until:
        events = events.filter(occurred_at__lt=_start_of(filters.until + timedelta(days=1)))
    return events


@dataclass(frozen=True)
class FilterChoices:
    """The values the log's filters can take: those that occur in it."""

    actors: list[str]
    actions: list[str]
    # (package id, name); a deleted package keeps its id, named as such.
    packages: list[tuple[int, str]]


def filter_choices(
    *, package_names: Callable[[Collection[int]], Mapping[int, str]]
) -> FilterChoices:
    """Return the actors, actions and packages that occur in the log.

    The log stores package ids as plain values; ``package_names`` (the caller's
    lookup, e.g. ``packaging.selectors.package_names``) names them, so the audit
    app depends on no domain app.
    """
    actors = list(
        AuditEvent.objects.order_by("actor_label").values_list("actor_label", flat=True).distinct()
    )
    actions = list(
        AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
    )
    package_ids = {
        pk
        for pk in AuditEvent.objects.filter(package_id__isnull=False)
        .order_by()
        .values_list("package_id", flat=True)
        .distinct()
        if pk is not None
    }
    names = package_names(package_ids)
    packages = sorted(
        ((pk, names.get(pk, f"Package {pk} (deleted)")) for pk in package_ids),
        key=lambda p: (p[1].lower(), p[0]),
    )
    return FilterChoices(actors=actors, actions=actions, packages=packages)


def target_kind(target_type: str) -> str:
    """Return what a target type is called in words, e.g. "package version"."""
    try:
        return str(apps.get_model(target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return target_type


_MAX_ITEMS = 3
_MAX_TEXT = 60


def _moment(text: str) -> str | None:
    """Return an ISO date-time as "2024-03-05 14:30" in the current time zone, else None."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:
        return None
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None or timezone.is_naive(moment):
        return None
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _short(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if len(value) > _MAX_ITEMS:
            return f"{len(value)} items"
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, str) and (moment := _moment(value)) is not None:
        return moment
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if text == "":
        return '""'
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def change_summary(
    before: dict[str, Any] | None, after: dict[str, Any] | None, *, limit: int = 6
) -> list[str]:
    """Return one short line per field that changed: ``status: draft → published``.

    A field only in ``after`` reads ``field: value``; one only in ``before`` reads
    ``field: value → —``. Unchanged fields are left out; past ``limit`` lines, the
    last says how many more fields changed.
    """
    before, after = before or {}, after or {}
    lines = []
    for key in [*before, *(k for k in after if k not in before)]:
        if key in before and key in after:
            if before[key] == after[key]:
                continue
            lines.append(f"{key}: {_short(before[key])} → {_short(after[key])}")
        elif key in after:
            lines.append(f"{key}: {_short(after[key])}")
        else:
            lines.append(f"{key}: {_short(before[key])} → —")
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"… and {len(lines) - limit + 1} more"]
    return lines


@dataclass(frozen=True)
class LastChange:
    """When a record was last changed, and by whom."""

    occurred_at: datetime
    actor_label: str


def last_changes(target_type: str, target_ids: list[int]) -> dict[int, LastChange]:
    """Return the newest audit event of each target (``target_type`` as the log names it)."""
    found: dict[int, LastChange] = {}
    if not target_ids:
        return found
    from django.db.models import Max

    newest = (
        AuditEvent.objects.filter(
            target_type=target_type, target_id__in=[str(i) for i in target_ids]
        )
        .values("target_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    for target_id, occurred_at, actor_label in AuditEvent.objects.filter(
        pk__in=list(newest)
    ).values_list("target_id", "occurred_at", "actor_label"):
        found[int(target_id)] = LastChange(occurred_at, actor_label)
    return found
