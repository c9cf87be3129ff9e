"""Reads of reminders: what is due to be sent as of a moment (set-based, one query per
kind and schedule), schedules, templates and the message log."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL

from coursepack.accounts.models import Role
from coursepack.learning.models import Enrollment, Exemption
from coursepack.notifications import texts
from coursepack.notifications.models import (
    Message,
    MessageKind,
    MessageStatus,
    MessageTemplate,
    ReminderSchedule,
)
from coursepack.organisation import selectors as organisation
from coursepack.organisation.models import Placement, UnitManager
from coursepack.packaging.errors import PackageNotFound
from coursepack.packaging.models import Package

__all__ = [
    "DEFAULT_SCHEDULE",
    "Candidates",
    "Plan",
    "Schedule",
    "candidates",
    "digest_anchor",
    "messages",
    "plan",
    "retryable",
    "schedule_of",
    "schedule_of_package",
    "team_overdue",
    "template_of",
]

DAY = timedelta(days=1)
#: Digest periods count from a Monday, so a 7-day digest covers Monday to Sunday.
_EPOCH_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    """When one package's reminders go out."""

    enabled: bool = True
    send_assigned: bool = True
    due_soon_days: tuple[int, ...] = (30, 14, 1)
    overdue_every_days: int = 7
    expiring_days: tuple[int, ...] = (30, 7)
    send_completed: bool = True
    #: Whether an admin set it (False: the defaults).
    customised: bool = False


#: What a package without its own schedule uses.
DEFAULT_SCHEDULE = Schedule()


def schedule_of(package_id: int) -> Schedule:
    """Return the package's schedule (the defaults if an admin has not set one)."""
    row = ReminderSchedule.objects.filter(package_id=package_id).first()
    return _schedule(row) if row is not None else DEFAULT_SCHEDULE


def schedule_of_package(package_id: int) -> Schedule:
    """Return the package's schedule, or raise PackageNotFound."""
    if not Package.objects.filter(pk=package_id).exists():
        raise PackageNotFound(f"There is no package with id {package_id}.")
    return schedule_of(package_id)


def _schedule(row: ReminderSchedule) -> Schedule:
    return Schedule(
        enabled=row.enabled,
        send_assigned=row.send_assigned,
        due_soon_days=tuple(sorted(int(d) for d in row.due_soon_days)),
        overdue_every_days=row.overdue_every_days,
        expiring_days=tuple(sorted(int(d) for d in row.expiring_days)),
        send_completed=row.send_completed,
        customised=True,
    )


def template_of(kind: str) -> tuple[texts.TemplateText, MessageTemplate | None]:
    """Return the text of ``kind`` in use (the admin's, or the built-in) and its row."""
    row = MessageTemplate.objects.filter(kind=kind).first()
    if row is None:
        return texts.DEFAULTS[kind], None
    return texts.TemplateText(row.subject, row.body_text, row.body_html), row


# --- what is due ------------------------------------------------------------------


class WholeDaysDifference(Func):
    """Whole days from the second datetime to the first, rounded down."""

    output_field = IntegerField()
    arity = 2

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST((julianday(%(expressions)s)) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400)::integer",
            arg_joiner=" - ",
            **extra,
        )


def _steps(field: str, now: datetime, days: tuple[int, ...]) -> Case:
    """The schedule step a date ``field`` has reached: the smallest offset d (days
    before it) with field - d days <= now."""
    return Case(
        *[When(**{f"{field}__lte": now + d * DAY}, then=Value(d)) for d in sorted(days)],
        default=Value(0),
        output_field=IntegerField(),
    )


def _whole_exemption() -> Exists:
    return Exists(
        Exemption.objects.filter(
            enrollment_id=OuterRef("pk"),
            course__isnull=True,
            group__isnull=True,
            revocation__isnull=True,
        )
    )


def _not_claimed(kind: str, anchor: str) -> Any:
    return ~Exists(
        Message.objects.filter(
            enrollment_id=OuterRef("pk"),
            kind=kind,
            anchor=OuterRef(anchor),
            offset_days=OuterRef("offset"),
        )
    )


def _reachable() -> QuerySet[Enrollment]:
    """Enrollments (not withdrawn) of active people with an address, in packages that are
    not retired."""
    return Enrollment.objects.filter(
        withdrawn_at__isnull=True, learner__is_active=True, package__status="active"
    ).exclude(learner__email="")


def _overdue(now: datetime) -> QuerySet[Enrollment]:
    """Open periods that are overdue at ``now`` (not complete, not wholly exempt)."""
    return (
        _reachable()
        .filter(superseded_at__isnull=True, overdue_since__lte=now)
        .exclude(status="completed")
        .exclude(_whole_exemption())
    )


@dataclass(frozen=True)
class Candidates:
    """One kind's reminders due for one set of packages: a queryset of enrollments with
    ``anchor`` and ``offset`` annotated, none of them claimed yet."""

    kind: str
    rows: QuerySet[Enrollment]


def _groups() -> list[tuple[Schedule, Q]]:
    """Return each distinct schedule in use with the packages it covers."""
    rows = list(ReminderSchedule.objects.all())
    by_schedule: dict[Schedule, list[int]] = {}
    for row in rows:
        by_schedule.setdefault(_schedule(row), []).append(row.package_id)
    groups = [(s, Q(package_id__in=ids)) for s, ids in by_schedule.items() if s.enabled]
    custom = [row.package_id for row in rows]
    groups.append((DEFAULT_SCHEDULE, ~Q(package_id__in=custom) if custom else Q()))
    return groups


def candidates(now: datetime) -> list[Candidates]:
    """Return the reminders due at ``now`` and not yet claimed, per kind and schedule:
    set-based queries over the status cache (no per-enrollment loop)."""
    lookback = now - int(settings.NOTIFICATIONS_LOOKBACK_DAYS) * DAY
    found: list[Candidates] = []
    for schedule, packages in _groups():
        base = _reachable().filter(packages)
        if schedule.send_assigned:
            rows = base.filter(
                superseded_at__isnull=True, enrolled_at__lte=now, enrolled_at__gt=lookback
            ).annotate(anchor=F("enrolled_at"), offset=Value(0, output_field=IntegerField()))
            found.append(Candidates("assigned", rows.filter(_not_claimed("assigned", "anchor"))))
        if schedule.due_soon_days:
            rows = (
                base.filter(
                    superseded_at__isnull=True,
                    due_in_force__gt=now,
                    due_in_force__lte=now + max(schedule.due_soon_days) * DAY,
                )
                .exclude(status="completed")
                .exclude(_whole_exemption())
                .annotate(
                    anchor=F("due_in_force"),
                    offset=_steps("due_in_force", now, schedule.due_soon_days),
                )
            )
            found.append(Candidates("due_soon", rows.filter(_not_claimed("due_soon", "anchor"))))
        if schedule.overdue_every_days:
            every = schedule.overdue_every_days
            since = WholeDaysDifference(Value(now), F("overdue_since"))
            rows = (
                _overdue(now)
                .filter(packages)
                .annotate(
                    anchor=F("overdue_since"),
                    offset=since / every * every,
                )
            )
            found.append(Candidates("overdue", rows.filter(_not_claimed("overdue", "anchor"))))
        if schedule.expiring_days:
            rows = (
                base.filter(
                    status="completed",
                    expires_at__gt=now,
                    expires_at__lte=now + max(schedule.expiring_days) * DAY,
                )
                # Recertified already: the next period is complete.
                .exclude(next_period__status="completed")
                .annotate(
                    anchor=F("expires_at"),
                    offset=_steps("expires_at", now, schedule.expiring_days),
                )
            )
            found.append(Candidates("expiring", rows.filter(_not_claimed("expiring", "anchor"))))
        if schedule.send_completed:
            rows = base.filter(
                status="completed", completed_at__lte=now, completed_at__gt=lookback
            ).annotate(anchor=F("completed_at"), offset=Value(0, output_field=IntegerField()))
            found.append(Candidates("completed", rows.filter(_not_claimed("completed", "anchor"))))
    return found


def digest_anchor(now: datetime) -> datetime:
    """Return the start of the digest period ``now`` falls in."""
    period = max(int(settings.NOTIFICATIONS_DIGEST_DAYS), 1) * DAY
    return _EPOCH_MONDAY + ((now - _EPOCH_MONDAY) // period) * period


def _unit_digest_managers(
    rows: list[tuple[str, int]], overdue_managers: dict[int, str]
) -> set[int]:
    """Return the unit managers (manager role) with someone other than themselves overdue
    in a unit they manage or below it, given the overdue people per unit (path, count)."""
    # Each unit's overdue count added to every unit on its path: a unit's total is
    # then the overdue people of its whole subtree (one pass, no prefix matching).
    below: dict[str, int] = {}
    for path, n in rows:
        ids = path.strip("/").split("/")
        for depth in range(1, len(ids) + 1):
            key = "/" + "/".join(ids[:depth]) + "/"
            below[key] = below.get(key, 0) + n
    found: set[int] = set()
    for user_id, unit_path in UnitManager.objects.filter(
        user__account__role=Role.MANAGER
    ).values_list("user_id", "unit__path"):
        others = below.get(unit_path, 0)
        own = overdue_managers.get(user_id)
        if own is not None and own.startswith(unit_path):
            others -= 1  # the manager themself is not their own team
        if others > 0:
            found.add(user_id)
    return found


def digest_recipients(now: datetime) -> QuerySet[Any]:
    """Return the managers (active, with an address) who have at least one overdue
    person in their team at ``now`` and no digest claimed for this period.

    The team (``team_people``): the people whose placement names them as line manager,
    and — for people with the manager role, as the organisation's scope rule says
    (ADR 0024) — the people placed in the units they manage and below.

    The overdue people are read once, counted per (unit, line manager); the unit
    managers are then found in Python over at most one row per unit, instead of a
    prefix match of every unit manager's path against every overdue person's unit.
    """
    User = get_user_model()
    overdue_people = _overdue(now).order_by().values("learner_id")
    per_unit: dict[str, int] = {}
    line: set[int] = set()
    for path, manager_id, own, n in (
        Placement.objects.filter(user_id__in=overdue_people)
        .annotate(
            own=Case(When(user_id=F("manager_id"), then=Value(1)), default=Value(0)),
        )
        .order_by()
        .values_list("org_unit__path", "manager_id", "own")
        .annotate(n=Count("pk"))
    ):
        if path is not None:
            per_unit[path] = per_unit.get(path, 0) + n
        if manager_id is not None and not own:
            line.add(manager_id)
    # The unit managers who are overdue themselves, and where they are placed (a few rows).
    overdue_managers = dict(
        Placement.objects.filter(
            user_id__in=_overdue(now)
            .filter(learner__managed_units__isnull=False)
            .order_by()
            .values("learner_id"),
            org_unit__isnull=False,
        ).values_list("user_id", "org_unit__path")
    )
    units = _unit_digest_managers(sorted(per_unit.items()), overdue_managers)
    claimed = Exists(
        Message.objects.filter(
            recipient_id=OuterRef("pk"),
            kind=MessageKind.MANAGER_DIGEST,
            enrollment__isnull=True,
            anchor=digest_anchor(now),
        )
    )
    return (
        User.objects.filter(is_active=True, pk__in=_id_list(sorted(line | units)))
        .exclude(email="")
        .exclude(claimed)
    )


def _id_list(ids: list[int]) -> RawSQL:
    """Return ``ids`` as a subquery bound to one parameter (an array on PostgreSQL, a
    JSON list on SQLite), so a list of any length stays one statement parameter."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [ids])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])


@dataclass(frozen=True)
class OverdueRow:
    person_id: int
    person: str
    package: str
    overdue_since: datetime


def team_people(manager_id: int) -> Q:
    """Return a condition on users: in ``manager_id``'s team — their direct reports, and
    the people in the units they manage and below when they have the manager role
    (``organisation.selectors.units_in_scope``) — the manager themself excluded."""
    team = Q(placement__manager_id=manager_id)
    manager = get_user_model().objects.filter(pk=manager_id).first()
    if organisation.managed_paths(manager):
        team |= Q(placement__org_unit__in=organisation.units_in_scope(manager).values("pk"))
    return team & ~Q(pk=manager_id)


def team_overdue(manager_id: int, now: datetime) -> list[OverdueRow]:
    """Return the overdue open periods of ``manager_id``'s team at ``now``, by person."""
    User = get_user_model()
    team = User.objects.filter(team_people(manager_id)).values("pk")
    rows = (
        _overdue(now)
        .filter(learner_id__in=team)
        .select_related("learner", "package")
        .order_by("learner__last_name", "learner__first_name", "learner__username", "package__name")
    )
    return [
        OverdueRow(
            e.learner_id,
            e.learner.get_full_name() or e.learner.get_username(),
            e.package.name,
            e.overdue_since,  # type: ignore[arg-type]
        )
        for e in rows
    ]


def retryable(now: datetime) -> QuerySet[Message]:
    """Return the messages a run should (re)try: claimed and unsent, failed with attempts
    left, or left "sending" by a worker that stopped longer than an hour ago."""
    return Message.objects.filter(
        Q(status=MessageStatus.PENDING)
        | Q(status=MessageStatus.FAILED, attempts__lt=int(settings.NOTIFICATIONS_MAX_ATTEMPTS))
        | Q(status=MessageStatus.SENDING, last_attempt_at__lt=now - timedelta(hours=1))
    )


@dataclass
class Plan:
    """What a run at ``as_of`` would send: new messages by kind, retries, and how many
    different people they go to."""

    as_of: datetime
    by_kind: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    people: int = 0

    @property
    def messages(self) -> int:
        return sum(self.by_kind.values()) + self.retries

    def summary(self) -> str:
        """Say it as a person would: "1,240 messages to 1,180 people"."""
        return (
            f"{self.messages:,} message{'s' if self.messages != 1 else ''} to "
            f"{self.people:,} {'person' if self.people == 1 else 'people'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "messages": self.messages,
            "people": self.people,
            "by_kind": dict(self.by_kind),
            "retries": self.retries,
            "summary": self.summary(),
        }


def plan(now: datetime) -> Plan:
    """Return what a run at ``now`` would send, without writing anything."""
    result = Plan(as_of=now, by_kind=dict.fromkeys(MessageKind.values, 0))
    found = candidates(now)
    digests = digest_recipients(now)
    retry = retryable(now)
    result.retries = retry.count()
    if connection.vendor == "postgresql":
        return _plan_postgresql(result, found, digests, retry)
    reached = Q(pk__in=[])
    for kind in found:
        result.by_kind[kind.kind] += kind.rows.count()
        reached |= Q(Exists(kind.rows.filter(learner_id=OuterRef("pk"))))
    result.by_kind[MessageKind.MANAGER_DIGEST] = digests.count()
    reached |= Q(pk__in=digests.order_by().values("pk"))
    reached |= Q(Exists(retry.filter(recipient_id=OuterRef("pk"))))
    # SQLite: one pass over the people, each probing their own few enrollments (by the
    # learner index) until one kind matches — half the time of a UNION there.
    result.people = get_user_model().objects.filter(reached).count()
    return result


def _plan_postgresql(
    result: Plan, found: list[Candidates], digests: QuerySet[Any], retry: QuerySet[Message]
) -> Plan:
    """Count every kind and the distinct people in one statement: each kind's
    candidates are read once into a materialised CTE of (kind, learner), then counted
    by kind and, with the digests' and retries' recipients, as distinct people.

    PostgreSQL ran OR-ed correlated EXISTS as a subplan per person (seconds per 20,000
    people), and a UNION of the kinds' querysets next to their counts read every kind
    twice; this reads each once.
    """
    digest_ids = list(digests.order_by("pk").values_list("pk", flat=True))
    result.by_kind[MessageKind.MANAGER_DIGEST] = len(digest_ids)
    parts: list[str] = []
    params: list[Any] = []
    for kind in found:
        sql, kind_params = kind.rows.order_by().values("learner_id").query.sql_with_params()
        parts.append(f"SELECT %s AS kind, k.learner_id FROM ({sql}) k")
        params += [kind.kind, *kind_params]
    retry_sql, retry_params = retry.order_by().values("recipient_id").query.sql_with_params()
    candidates_sql = (
        " UNION ALL ".join(parts)
        if parts
        else ("SELECT NULL::text AS kind, NULL::integer AS learner_id WHERE FALSE")
    )
    statement = (
        f"WITH c AS MATERIALIZED ({candidates_sql}) "
        "SELECT kind, COUNT(*) FROM c GROUP BY kind "
        "UNION ALL SELECT NULL, COUNT(*) FROM ("
        "SELECT learner_id FROM c "
        "UNION SELECT unnest(%s::bigint[]) "
        f"UNION SELECT r.recipient_id FROM ({retry_sql}) r) people"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, digest_ids, *retry_params])
        for kind, count in cursor.fetchall():
            if kind is None:
                result.people = int(count)
            else:
                result.by_kind[kind] += int(count)
    return result


def messages(
    *,
    recipient_id: int | None = None,
    kind: str | None = None,
    status: str | None = None,
    package_id: int | None = None,
    person: str = "",
) -> QuerySet[Message]:
    """Return the message log, newest first, filtered (``person``: part of the
    recipient's user name, name or address)."""
    rows = Message.objects.select_related("recipient", "package")
    if recipient_id is not None:
        rows = rows.filter(recipient_id=recipient_id)
    if person:
        rows = rows.filter(
            Q(recipient__username__icontains=person)
            | Q(recipient__first_name__icontains=person)
            | Q(recipient__last_name__icontains=person)
            | Q(to_address__icontains=person)
        )
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    if package_id is not None:
        rows = rows.filter(package_id=package_id)
    return rows.order_by("-created_at", "-id")


def kinds() -> Iterable[tuple[str, str]]:
    """Return every kind of message, (value, label)."""
    return MessageKind.choices
