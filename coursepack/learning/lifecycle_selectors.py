"""Reads of the compliance lifecycle: dates and standing as of t, as known at r, and the
per-package standing counts and lists (PRODUCT.md, "Compliance lifecycle")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from coursepack import rules
from coursepack.learning import lifecycle_facts, summaries
from coursepack.learning.models import Enrollment, Equivalence, Exemption
from coursepack.learning.selectors import evaluate_enrollment, events_by_learner, on_version_since
from coursepack.learning.summary_models import NO_DAY
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import PackageVersion, VersionStatus

__all__ = [
    "STANDING_FILTERS",
    "EnrollmentLifecycle",
    "Exceptions",
    "enrollment_exemptions",
    "enrollment_lifecycle",
    "equivalences",
    "exact_standing_counts",
    "package_exceptions",
    "package_standing",
    "standing_counts",
    "standing_counts_by_package",
    "standing_enrollments",
    "standing_thresholds",
]


@dataclass(frozen=True)
class EnrollmentLifecycle:
    """One enrollment (a period) as of t, as known at r: its evaluation and dates."""

    enrollment: Enrollment
    evaluation: rules.Evaluation
    state: rules.PeriodState
    extensions: tuple[rules.Extension, ...]

    @property
    def view(self) -> rules.PeriodView:
        """Return the period as the standing function sees it."""
        return rules.PeriodView(
            self.enrollment.pk, self.enrollment.enrolled_at, self.evaluation, self.state
        )


def enrollment_lifecycle(
    enrollment: Enrollment,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    equivalences: lifecycle_facts.EquivalenceFacts | None = None,
) -> EnrollmentLifecycle:
    """Return one enrollment's evaluation and dates as of ``as_of`` (default now), as
    known at ``known_at`` (default now)."""
    moment = as_of or timezone.now()
    tree = packaging.requirement_tree(enrollment.version_id)
    if equivalences is None:
        equivalences = lifecycle_facts.equivalence_facts(labels=True)
    courses = set(rules.course_ids(tree)) | equivalences.sources_for(rules.course_ids(tree))
    events = events_by_learner([enrollment.learner_id], courses).get(enrollment.learner_id, [])
    facts = lifecycle_facts.facts_of(
        lifecycle_facts.enrollment_facts([enrollment.pk], names=True), enrollment.pk
    )
    evaluation = evaluate_enrollment(
        enrollment,
        events,
        as_of=moment,
        known_at=known_at,
        tree=tree,
        since=on_version_since(enrollment),
        facts=facts,
        equivalences=equivalences,
    )
    _, certification = packaging.lifecycle_rules([enrollment.version_id])[enrollment.version_id]
    state = rules.period_state(
        evaluation,
        initial_due=enrollment.due_at,
        extensions=facts.extensions,
        certification=certification,
        as_of=moment,
        known_at=known_at,
    )
    closed = enrollment.withdrawn_at or enrollment.superseded_at
    if closed is not None and closed <= moment and state.overdue_since is not None:
        # A closed period is no longer required: it is not overdue after it closed.
        state = rules.PeriodState(
            state.due_at,
            state.extension,
            None,
            state.completed_late,
            state.expires_at,
            state.window_opens_at,
            state.grace_ends_at,
        )
    return EnrollmentLifecycle(enrollment, evaluation, state, tuple(facts.extensions))


def package_standing(
    learner_id: int,
    package_id: int,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> tuple[rules.StandingResult | None, list[EnrollmentLifecycle]]:
    """Return a learner's standing in a package as of ``as_of`` (default now), as known at
    ``known_at``, over every certification period, and the periods themselves (oldest
    first). Withdrawn enrollments do not count once withdrawn."""
    moment = as_of or timezone.now()
    cutoff = moment if known_at is None else min(moment, known_at)
    enrollments = list(
        Enrollment.objects.filter(
            learner_id=learner_id, package_id=package_id, enrolled_at__lte=cutoff
        )
        .filter(Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=moment))
        .select_related("version", "package")
        .order_by("enrolled_at", "pk")
    )
    equivalences = lifecycle_facts.equivalence_facts(labels=True)
    periods = [
        enrollment_lifecycle(e, as_of=moment, known_at=known_at, equivalences=equivalences)
        for e in enrollments
    ]
    return rules.standing([p.view for p in periods], moment), periods


#: The standing filters of the per-package list, over the open periods' cached fields
#: as of ``now``: each maps to a condition (see ``_standing_q``).
STANDING_FILTERS = (
    "current",
    "due_for_recertification",
    "expiring",
    "overdue",
    "expired",
    "exempt",
    "in_progress",
    "not_started",
)


def _open_periods(package_id: int) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(
        package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
    )


def _whole_exemption(now: datetime) -> Exists:
    """Return whether a period has a whole-enrollment exemption in force as of ``now``
    (revocations are effective from their recording, so none is in the future; an end
    is compared with ``now``: a lapse is derived here, at read time)."""
    return Exists(_whole_exemptions(now).filter(enrollment_id=OuterRef("pk")))


class _Columns:
    """How a standing condition reads its columns: here the enrollments' cached
    fields, exactly; ``summaries_read.DayColumns`` reads the standing summary rows."""

    version = "version_id"
    previous_version = "previous_period__version_id"
    _fields = {
        "overdue": "overdue_since",
        "expires": "expires_at",
        "previous_expires": "previous_period__expires_at",
    }

    def __init__(self, *, exemptions: bool = True) -> None:
        self.exemptions = exemptions

    def exempt(self, now: datetime) -> Q | None:
        """Return the condition of a whole-enrollment exemption in force as of ``now``
        (None: never)."""
        return Q(_whole_exemption(now)) if self.exemptions else None

    def done(self) -> Q:
        return Q(status="completed")

    def later(self) -> Q:
        return Q(period_number__gt=1)

    def status(self, status: str) -> Q:
        return Q(status=status)

    def isnull(self, name: str) -> Q:
        return Q(**{f"{self._fields[name]}__isnull": True})

    def cmp(self, name: str, op: str, moment: datetime) -> Q:
        """Return ``<moment column> <op> moment`` (op: lt, lte, gt, gte)."""
        return Q(**{f"{self._fields[name]}__{op}": moment})


_EXACT = _Columns()


def _per_version(
    field: str,
    rules_of: dict[int, rules.CertificationRule],
    test: Callable[[rules.CertificationRule], Q],
) -> Q:
    """Return OR over the versions with a validity of (``field`` = version & test(rule))."""
    found = Q(pk__in=[])
    for version_id, certification in rules_of.items():
        found |= Q(**{field: version_id}) & test(certification)
    return found


def _validity_rules(package_id: int) -> dict[int, rules.CertificationRule]:
    """Return the validity of each released version of the package that has one."""
    versions = packaging.versions_of_package(package_id)
    return {v: c for v, (_, c) in packaging.lifecycle_rules(versions).items() if c is not None}


def standing_thresholds(
    now: datetime, within: timedelta, rules_of: dict[int, rules.CertificationRule]
) -> set[datetime]:
    """Return every moment ``_standing_q`` compares a period's moments with."""
    days = timedelta(days=1)
    found = {now, now + within}
    for c in rules_of.values():
        found |= {now + c.window_days * days, now - c.grace_days * days}
    return found


def _standing_q(
    name: str,
    now: datetime,
    within: timedelta,
    package_id: int,
    rules_of: dict[int, rules.CertificationRule],
    cols: _Columns = _EXACT,
) -> Q:
    """Return the condition of one standing over an open period's cached fields as of
    ``now``: the same verdicts as ``rules.standing`` (a complete period by its own
    expiry, the version's window and grace; a later period not complete yet by its
    previous period's; a first period by its due date in force)."""
    days = timedelta(days=1)
    exempt = cols.exempt(now)
    if name == "exempt":
        return Q(pk__in=[]) if exempt is None else exempt

    def not_exempt(q: Q) -> Q:
        return q if exempt is None else q & ~exempt

    done = cols.done()
    later = cols.later()
    if not rules_of:
        # No version of the package expires: only the first-period standings occur
        # (the same verdicts, with the never-true validity branches left out).
        if name == "current":
            return not_exempt(done)
        if name == "overdue":
            return not_exempt(~done & ~later & cols.cmp("overdue", "lt", now))
        if name in ("due_for_recertification", "expired", "expiring"):
            return Q(pk__in=[])
    if name == "expiring":
        return not_exempt(
            done & cols.cmp("expires", "gt", now) & cols.cmp("expires", "lte", now + within)
        )
    if name == "current":
        valid = _per_version(
            cols.version, rules_of, lambda c: cols.cmp("expires", "gt", now + c.window_days * days)
        )
        return not_exempt(done & (cols.isnull("expires") | valid))
    if name == "due_for_recertification":
        own = _per_version(
            cols.version,
            rules_of,
            lambda c: (
                cols.cmp("expires", "gt", now)
                & cols.cmp("expires", "lte", now + c.window_days * days)
            ),
        )
        return not_exempt((done & own) | (~done & later & cols.cmp("previous_expires", "gt", now)))
    if name == "overdue":
        own = _per_version(
            cols.version,
            rules_of,
            lambda c: (
                cols.cmp("expires", "lte", now)
                & cols.cmp("expires", "gt", now - c.grace_days * days)
            ),
        )
        previous = _per_version(
            cols.previous_version,
            rules_of,
            lambda c: (
                cols.cmp("previous_expires", "lte", now)
                & cols.cmp("previous_expires", "gt", now - c.grace_days * days)
            ),
        )
        first = ~later & cols.cmp("overdue", "lt", now)
        return not_exempt((done & own) | (~done & (previous | first)))
    if name == "expired":
        own = _per_version(
            cols.version,
            rules_of,
            lambda c: cols.cmp("expires", "lte", now - c.grace_days * days),
        )
        previous = _per_version(
            cols.previous_version,
            rules_of,
            lambda c: cols.cmp("previous_expires", "lte", now - c.grace_days * days),
        )
        return not_exempt((done & own) | (~done & later & previous))
    status = "in_progress" if name == "in_progress" else "not_started"
    not_overdue = cols.isnull("overdue") | cols.cmp("overdue", "gte", now)
    return not_exempt(cols.status(status) & ~later & not_overdue)


class _DayColumns(_Columns):
    """The standing summary rows' columns: moments as UTC days (``NO_DAY`` for none).

    A comparison of a day with a moment's day decides the comparison of the moments
    only when the two days differ; ``standing_counts`` leaves the rows on a compared
    moment's day out and reads those periods exactly.
    """

    version = "version_id"
    previous_version = "previous_version_id"
    _fields = {
        "overdue": "overdue_day",
        "expires": "expires_day",
        "previous_expires": "previous_expires_day",
    }

    def __init__(self) -> None:
        super().__init__(exemptions=False)

    def later(self) -> Q:
        return Q(later=True)

    def isnull(self, name: str) -> Q:
        return Q(**{self._fields[name]: NO_DAY})

    def cmp(self, name: str, op: str, moment: datetime) -> Q:
        column, day = self._fields[name], _utc_day(moment)
        if op in ("lt", "lte"):
            return Q(**{f"{column}__lt": day}) & ~Q(**{column: NO_DAY})
        return Q(**{f"{column}__gt": day})


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _on_days(package_ids: list[int], column: str, days: list[date]) -> Q:
    """Return whether a period of these packages has the moment in ``column`` on one
    of the UTC ``days``.

    The packages are named in every day's term, not once beside them all: each term
    is then a range of the ``(package, column)`` index, which SQLite reads term by
    term ("multi-index OR"); with the package beside an ``OR`` of ranges it would
    rather walk every period of the package by another index on the package.
    """
    found = Q(pk__in=[])
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        found |= Q(
            **{
                "package_id__in": package_ids,
                f"{column}__gte": start,
                f"{column}__lt": start + timedelta(days=1),
            }
        )
    return found


def standing_counts(
    package_id: int, *, now: datetime | None = None, expiring_within_days: int = 30
) -> dict[str, int]:
    """Return, for one package, how many open periods are in each standing as of now.

    See :func:`standing_counts_by_package`. ``expiring`` counts the current ones
    expiring within N days.
    """
    found = standing_counts_by_package(
        [package_id], now=now, expiring_within_days=expiring_within_days
    )
    return found[package_id]


def _standings(
    status: str,
    later: bool,
    overdue: Any,
    expires: Any,
    version_id: int,
    previous_version_id: int | None,
    previous_expires: Any,
    *,
    lt: Callable[[Any, datetime], bool],
    gt: Callable[[Any, datetime], bool],
    now: datetime,
    within: timedelta,
    rules_of: dict[int, rules.CertificationRule],
) -> list[str]:
    """Return the standings of one open period that is not exempt: ``_standing_q`` in
    Python, over exact moments or (``lt``/``gt`` on days) a summary row's days."""
    days = timedelta(days=1)
    done = status == "completed"
    if not rules_of:
        # No version of the package expires (as ``_standing_q``'s first branch).
        if done:
            return ["current"]
        if later:
            return []
        return ["overdue"] if lt(overdue, now) else [status]
    own = rules_of.get(version_id)
    before = rules_of.get(previous_version_id) if previous_version_id else None
    found = []
    if done:
        if expires is None or expires == NO_DAY:
            return ["current"]
        if own is not None:
            if gt(expires, now + own.window_days * days):
                found.append("current")
            elif gt(expires, now):
                found.append("due_for_recertification")
            elif gt(expires, now - own.grace_days * days):
                found.append("overdue")
            else:
                found.append("expired")
        if gt(expires, now) and not gt(expires, now + within):
            found.append("expiring")
        return found
    if later:
        if gt(previous_expires, now):
            found.append("due_for_recertification")
        elif before is not None and previous_expires not in (None, NO_DAY):
            if gt(previous_expires, now - before.grace_days * days):
                found.append("overdue")
            else:
                found.append("expired")
        return found
    return ["overdue"] if lt(overdue, now) else [status]


class _Undecided:
    """Which summary rows (and periods) their days cannot decide as of ``now``.

    ``_standings`` compares one moment of a period, by the kind of period, with a few
    moments: a first period not complete its due-from moment with now; a complete
    period its expiry with now, now + N days and its version's window and grace; a
    later period not complete yet its previous period's expiry with now and that
    version's grace. A day decides such a comparison unless it is the day of the
    moment compared with; only then is the period read with its exact moments.
    """

    def __init__(
        self, now: datetime, within: timedelta, rules_of: dict[int, rules.CertificationRule]
    ) -> None:
        self._days: dict[datetime, date] = {}
        self._rules = rules_of
        days = timedelta(days=1)
        self.overdue_days = {self.day(now)}
        common = {self.day(now), self.day(now + within)}
        self._expires = {
            v: common | {self.day(now + c.window_days * days), self.day(now - c.grace_days * days)}
            for v, c in rules_of.items()
        }
        self._common = common
        self._previous = {
            v: {self.day(now), self.day(now - c.grace_days * days)} for v, c in rules_of.items()
        }
        self._now = {self.day(now)}

    def day(self, moment: datetime) -> date:
        """Return the UTC day of ``moment`` (remembered: the same few are asked often)."""
        found = self._days.get(moment)
        if found is None:
            found = self._days[moment] = _utc_day(moment)
        return found

    @staticmethod
    def kind(status: str, later: bool) -> str:
        """Return which moment decides a period: its expiry, its previous period's, or
        its due-from moment."""
        if status == "completed":
            return "expires"
        return "previous" if later else "overdue"

    def expires_days(self, version_id: int) -> set[date]:
        return self._expires.get(version_id, self._common)

    def previous_days(self, version_id: int | None) -> set[date]:
        return self._previous.get(version_id or 0, self._now)

    def period(self, row: tuple[Any, ...]) -> bool:
        """Return whether the period (``_standings``' arguments, exact moments) is on a
        day its summary row cannot decide."""
        status, later, due_from, expiry, version_id, prev_v, prev_expiry = row
        kind = self.kind(status, later)
        if kind == "expires":
            return expiry is not None and self.day(expiry) in self.expires_days(version_id)
        if kind == "previous":
            return prev_expiry is not None and self.day(prev_expiry) in self.previous_days(prev_v)
        return due_from is not None and self.day(due_from) in self.overdue_days


def standing_counts_by_package(
    package_ids: list[int], *, now: datetime | None = None, expiring_within_days: int = 30
) -> dict[int, dict[str, int]]:
    """Return, for each package, how many open periods are in each standing as of now.

    Answered from the standing summary rows (ADR 0027) in a handful of small queries
    whatever the number of periods or packages: a row is decided by its key alone
    unless the one moment its standing depends on falls on the day of a moment it is
    compared with (``_Undecided``); the periods of those rows (the rows say which
    days), and those with a whole-enrollment exemption in force (which the rows do not
    know of), are read one by one with their cached fields, each set through its own
    index. The cached fields are exact as of now for every state that depends only on
    dates. The verdicts are ``_standing_q``'s, held equal to it by the property tests.
    """
    if not package_ids:
        return {}
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    versions = PackageVersion.objects.filter(package_id__in=package_ids).exclude(
        status=VersionStatus.DRAFT
    )
    package_of = dict(versions.values_list("pk", "package_id"))
    rules_of = {
        v: c for v, (_, c) in packaging.lifecycle_rules(list(package_of)).items() if c is not None
    }
    # Each package's verdicts use its own versions' rules, as ``_standing_q`` does.
    package_rules: dict[int, dict[int, rules.CertificationRule]] = {p: {} for p in package_ids}
    for version_id, rule in rules_of.items():
        package_rules[package_of[version_id]][version_id] = rule
    counts = {p: dict.fromkeys(STANDING_FILTERS, 0) for p in package_ids}
    undecided = _Undecided(moment, within, rules_of)

    def day_lt(day: date, t: datetime) -> bool:
        return day != NO_DAY and day < undecided.day(t)

    def day_gt(day: date, t: datetime) -> bool:
        return day > undecided.day(t)

    def exact_lt(value: datetime | None, t: datetime) -> bool:
        return value is not None and value < t

    def exact_gt(value: datetime | None, t: datetime) -> bool:
        return value is not None and value > t

    # Where a day falls among the compared days (``_Placement``) is all a decided
    # row's standings depend on: the database groups the rows by it, so a year of due
    # dates (~1,000 rows) comes back as a few dozen.
    placement = _Placement(
        sorted({undecided.day(t) for t in standing_thresholds(moment, within, rules_of)})
    )
    overdue_on: set[date] = set()
    expires_on: set[date] = set()
    previous_on: set[date] = set()

    def counted(row: tuple[Any, ...]) -> list[str] | None:
        """Return the standings of a grouped row, or None if its days cannot decide it
        (then note which periods step 2 reads: those with that moment on that day)."""
        package_id, status, later, version_id, prev_v, *places = row
        overdue, expires, prev_exp = (placement.day(p) for p in places)
        kind = undecided.kind(status, later)
        if kind == "overdue" and overdue in undecided.overdue_days:
            overdue_on.add(overdue)
            return None
        if kind == "expires" and expires in undecided.expires_days(version_id):
            expires_on.add(expires)
            return None
        if kind == "previous" and prev_exp in undecided.previous_days(prev_v):
            previous_on.add(prev_exp)
            return None
        return _standings(
            status, later, overdue, expires, version_id, prev_v, prev_exp,
            lt=day_lt, gt=day_gt, now=moment, within=within,
            rules_of=package_rules[package_id],
        )  # fmt: skip

    # 1. The summary rows, grouped by placement.
    for *row, n in placement.summary_rows(package_ids):
        for name in counted(tuple(row)) or ():
            counts[row[0]][name] += n
    # 2. The periods with a whole-enrollment exemption in force, grouped the same way:
    # counted exempt, and no longer under what their summary row said (if it decided).
    for *row, n in placement.exempt_rows(package_ids, moment):
        counts[row[0]]["exempt"] += n
        for name in counted(tuple(row)) or ():
            counts[row[0]][name] -= n
    # 3. The periods on the undecided days, one by one (exempt ones counted above).
    for package_id, ex, period in _on_day_periods(
        package_ids, moment, overdue_on, expires_on, previous_on
    ).values():
        # A period found by its day whose other moments decide it was counted by its row.
        if not ex and undecided.period(period):
            for name in _standings(
                *period, lt=exact_lt, gt=exact_gt, now=moment, within=within,
                rules_of=package_rules[package_id],
            ):  # fmt: skip
                counts[package_id][name] += 1
    # 4. The periods whose cache counts an exemption that has ended (usually none).
    lapsed: dict[int, list[Enrollment]] = {}
    for e in _lapsed_periods(package_ids, moment):
        lapsed.setdefault(e.package_id, []).append(e)
    for package_id, periods in lapsed.items():
        _recount_lapsed(package_id, periods, counts[package_id], moment, within)
    return counts


def _whole_exemptions(now: datetime) -> QuerySet[Exemption]:
    """Return the whole-enrollment exemptions in force as of ``now``."""
    return Exemption.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        course__isnull=True,
        group__isnull=True,
        revocation__isnull=True,
    )


def _special_periods(which: Q, now: datetime) -> dict[int, tuple[int, bool, tuple[Any, ...]]]:
    """Return the open periods matching ``which``: pk -> (package, whether a whole
    exemption is in force as of ``now``, the arguments of ``_standings`` before its
    keywords, with exact moments).

    ``which`` selects by a small indexed set and is scoped to the packages already:
    with a condition on the package beside it, SQLite would rather scan the package's
    periods by the package's index.
    """
    rows = _raw(
        Enrollment.objects.filter(which, withdrawn_at__isnull=True, superseded_at__isnull=True)
        .annotate(ex=_whole_exemption(now))
        .values_list(
            "pk",
            "package_id",
            "ex",
            "status",
            "period_number",
            "overdue_since",
            "expires_at",
            "version_id",
            "previous_period__version_id",
            "previous_period__expires_at",
        )
        .order_by()
    )
    return {
        pk: (
            package_id,
            bool(ex),
            (
                status,
                number > 1,
                _as_moment(due_from),
                _as_moment(expiry),
                version_id,
                prev_v,
                _as_moment(prev_expiry),
            ),
        )
        for pk, package_id, ex, status, number, due_from, expiry, version_id, prev_v, prev_expiry in rows
    }


def _raw(rows: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """Return a ``values_list`` query's rows as the database driver gives them: without
    Django's converters, which cost more than the query over a thousand rows (SQLite
    gives days and moments as ISO text; see ``_as_date`` and ``_as_moment``)."""
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_moment(value: datetime | str | None) -> datetime | None:
    # SQLite: naive UTC (text, or parsed by the driver), as Django stores it with USE_TZ.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _on_day_periods(
    package_ids: list[int],
    now: datetime,
    overdue: set[date],
    expires: set[date],
    previous: set[date],
) -> dict[int, tuple[int, bool, tuple[Any, ...]]]:
    """Return the open periods due from, or expiring on, one of the given UTC days, and
    the later periods not complete yet whose previous period expires on one of
    ``previous``: one indexed range query per kind of moment that has a day (the
    summary rows say which), never a scan of the package."""
    found: dict[int, tuple[int, bool, tuple[Any, ...]]] = {}
    if overdue:
        found |= _special_periods(_on_days(package_ids, "overdue_since", sorted(overdue)), now)
    if expires:
        found |= _special_periods(_on_days(package_ids, "expires_at", sorted(expires)), now)
    if previous:
        # A later period is in its previous period's package.
        expiring = Enrollment.objects.filter(
            _on_days(package_ids, "expires_at", sorted(previous))
        ).values("pk")
        found |= _special_periods(
            Q(period_number__gt=1, previous_period_id__in=expiring) & ~Q(status="completed"), now
        )
    return found


class _Placement:
    """Where a day falls among the sorted compared days ``marks``: -1 for no day, 2i
    before ``marks[i]`` (after the one before), 2i + 1 on it, 2 len(marks) after all.

    The database groups rows by the placements of their days (one ``CASE`` each), and
    ``day`` gives back a day of each placement: the day itself on a mark, else one
    strictly between the same marks (a placement that has a row has such a day).
    """

    def __init__(self, marks: list[date]) -> None:
        self.marks = marks

    def day(self, place: int) -> date:
        if place < 0:
            return NO_DAY
        at, on = divmod(place, 2)
        if on:
            return self.marks[at]
        if at < len(self.marks):
            return self.marks[at] - timedelta(days=1)
        return self.marks[-1] + timedelta(days=1) if self.marks else date(2000, 1, 1)

    def _case(self, column: str, params: list[Any]) -> str:
        adapt = connection.ops.adapt_datefield_value
        parts = [f"WHEN {column} = %s THEN -1"]
        params.append(adapt(NO_DAY))
        for at, mark in enumerate(self.marks):
            parts.append(f"WHEN {column} < %s THEN {2 * at}")
            parts.append(f"WHEN {column} = %s THEN {2 * at + 1}")
            params += [adapt(mark), adapt(mark)]
        return f"CASE {' '.join(parts)} ELSE {2 * len(self.marks)} END"

    def _grouped(
        self, select: str, days: tuple[str, str, str], rest: str, params: list[Any]
    ) -> list[tuple[Any, ...]]:
        cases: list[Any] = []
        columns = ", ".join(self._case(d, cases) for d in days)
        sql = f"SELECT {select}, {columns}, {rest.format(group=', '.join(str(i) for i in range(1, 9)))}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*cases, *params])
            return [
                (p, s, bool(later), v, pv, *rest_)
                for p, s, later, v, pv, *rest_ in cursor.fetchall()
            ]

    def summary_rows(self, package_ids: list[int]) -> list[tuple[Any, ...]]:
        """Return the standing summary rows of the packages grouped by placement:
        (package, status, later, version, previous version, placements of the
        due-from, expiry and previous expiry days, n)."""
        marks = ", ".join(["%s"] * len(package_ids))
        return self._grouped(
            "package_id, status, later, version_id, previous_version_id",
            ("overdue_day", "expires_day", "previous_expires_day"),
            f"SUM(n) FROM learning_standingcount WHERE package_id IN ({marks}) AND n <> 0 "
            "GROUP BY {group}",
            list(package_ids),
        )

    def exempt_rows(self, package_ids: list[int], now: datetime) -> list[tuple[Any, ...]]:
        """Return the open periods of the packages with a whole-enrollment exemption in
        force as of ``now``, grouped as ``summary_rows`` (the same key expressions as
        the summary triggers).

        The periods are found from the exemptions first (their package checked in
        Python), then grouped by their ids. With the package in the SQL, PostgreSQL
        without statistics of the package's periods (a package just filled, before
        autovacuum analyses it) read the package's periods through its index once per
        exemption: 50 exemptions x 5,000 periods, 65-82 ms (docs/benchmarks.md).
        """
        wanted = set(package_ids)
        ids = sorted(
            {
                pk
                for pk, package_id in _whole_exemptions(now)
                .values_list("enrollment_id", "enrollment__package_id")
                .order_by()
                if package_id in wanted
            }
        )
        if not ids:
            return []
        vendor = connection.vendor
        waiting = "e.period_number > 1 AND e.status <> 'completed'"
        return self._grouped(
            f"e.package_id, e.status, e.period_number > 1, e.version_id, "
            f"CASE WHEN {waiting} THEN COALESCE(p.version_id, 0) ELSE 0 END",
            (
                summaries.day_sql(vendor, "e.overdue_since"),
                summaries.day_sql(vendor, "e.expires_at"),
                f"CASE WHEN {waiting} THEN {summaries.day_sql(vendor, 'p.expires_at')} "
                f"ELSE {summaries.no_day_sql(vendor)} END",
            ),
            "COUNT(*) FROM learning_enrollment e "
            "LEFT JOIN learning_enrollment p ON p.id = e.previous_period_id "
            "WHERE e.withdrawn_at IS NULL AND e.superseded_at IS NULL "
            f"AND e.id IN ({', '.join(['%s'] * len(ids))}) GROUP BY {{group}}",
            ids,
        )


def _recount_lapsed(
    package_id: int,
    lapsed: list[Enrollment],
    counts: dict[str, int],
    moment: datetime,
    within: timedelta,
) -> None:
    """Take away what the cache says of ``lapsed`` periods (right until an exemption they
    count ended) and count what the engine says as of ``moment`` instead (ADR 0022).

    The summary rows and the exact aggregate agree period by period (ADR 0027's
    property tests), so the exact aggregate over these periods is what was counted.
    """
    rules_of = _validity_rules(package_id)
    aggregates = {
        name: Count("pk", filter=_standing_q(name, moment, within, package_id, rules_of))
        for name in STANDING_FILTERS
    }
    stale = _open_periods(package_id).filter(pk__in=[e.pk for e in lapsed])
    for name, n in stale.aggregate(**aggregates).items():
        counts[name] -= n
    for e in lapsed:
        for name in _engine_standings(e, moment, within):
            counts[name] += 1


def exact_standing_counts(
    package_id: int, *, now: datetime | None = None, expiring_within_days: int = 30
) -> dict[str, int]:
    """Return what :func:`standing_counts` returns, by one aggregate over every open period
    (the from-scratch answer the summaries are held to)."""
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    rules_of = _validity_rules(package_id)
    aggregates = {
        name: Count("pk", filter=_standing_q(name, moment, within, package_id, rules_of))
        for name in STANDING_FILTERS
    }
    counts = dict(_open_periods(package_id).aggregate(**aggregates))
    lapsed = _lapsed_periods([package_id], moment)
    if lapsed:
        _recount_lapsed(package_id, lapsed, counts, moment, within)
    return counts


def _lapsed_periods(package_ids: list[int], now: datetime) -> list[Enrollment]:
    """Return the open periods whose cache counts an exemption that has ended by ``now``
    and that no write or settling has recomputed since (a small indexed query, usually
    empty)."""
    # By the partial index of lapses alone (few rows, every package), then the
    # package: with the package beside it, SQLite would rather scan the package's
    # periods by the package's index.
    lapsed = [
        pk
        for pk, package_id in Enrollment.objects.filter(exemption_lapses_at__lte=now)
        .values_list("pk", "package_id")
        .order_by()
        if package_id in package_ids
    ]
    if not lapsed:
        return []
    return list(
        Enrollment.objects.filter(
            pk__in=lapsed, withdrawn_at__isnull=True, superseded_at__isnull=True
        )
        .select_related("learner", "version")
        .order_by("pk")
    )


def _engine_standings(enrollment: Enrollment, now: datetime, within: timedelta) -> list[str]:
    """Return the standing filters an open period falls under as of ``now``, from the
    engine (``package_standing``): what ``_standing_q`` says over a fresh cache."""
    result, periods = package_standing(enrollment.learner_id, enrollment.package_id, as_of=now)
    if result is None:
        return []
    names = [str(result.standing)]
    last = periods[-1] if periods else None
    if (
        result.standing in (rules.Standing.CURRENT, rules.Standing.DUE_FOR_RECERTIFICATION)
        and last is not None
        and last.enrollment.pk == enrollment.pk
        and last.evaluation.status == rules.EnrollmentStatus.COMPLETED
        and last.state.expires_at is not None
        and now < last.state.expires_at <= now + within
    ):
        names.append("expiring")
    return names


def standing_enrollments(
    package_id: int,
    standing: str,
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    search: str = "",
) -> QuerySet[Enrollment]:
    """Return the open periods of a package in one standing as of now, learners first by
    name; ``search`` filters by user name."""
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    rows = _open_periods(package_id).filter(
        _standing_q(standing, moment, within, package_id, _validity_rules(package_id))
    )
    lapsed = _lapsed_periods([package_id], moment)
    if lapsed:
        # As in standing_counts: the engine, not the stale cache, places these.
        rows = rows.exclude(pk__in=[e.pk for e in lapsed]) | _open_periods(package_id).filter(
            pk__in=[e.pk for e in lapsed if standing in _engine_standings(e, moment, within)]
        )
    if search:
        rows = rows.filter(learner__username__icontains=search)
    return rows.select_related("learner", "version").order_by("learner__username", "pk")


@dataclass(frozen=True)
class Exceptions:
    """The exceptions of one package's open periods: what an auditor asks about first."""

    # Enrolled with a due date already passed (e.g. a fixed date before the enrolment).
    due_before_enrolment: QuerySet[Enrollment]
    # Completed after the due date then in force.
    completed_late: QuerySet[Enrollment]
    # Exemptions in force, newest first.
    exemptions: QuerySet[Exemption]
    # Exemptions in force that end within the window asked for, soonest end first.
    lapsing: QuerySet[Exemption]


def package_exceptions(
    package_id: int, *, now: datetime | None = None, lapsing_within_days: int = 30
) -> Exceptions:
    """Return the exceptions of one package's open periods (lazy querysets) as of ``now``
    (default now); an exemption whose end has passed is no longer in force."""
    moment = now or timezone.now()
    periods = _open_periods(package_id).select_related("learner", "version")
    in_force = Exemption.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=moment),
        enrollment__package_id=package_id,
        enrollment__withdrawn_at__isnull=True,
        enrollment__superseded_at__isnull=True,
        revocation__isnull=True,
    ).select_related("enrollment__learner", "recorded_by", "course", "group")
    return Exceptions(
        due_before_enrolment=periods.filter(due_at__lt=F("enrolled_at")).order_by("pk"),
        completed_late=periods.filter(completed_late=True).order_by("pk"),
        exemptions=in_force.order_by("-effective_at", "-pk"),
        lapsing=in_force.filter(ends_at__lte=moment + timedelta(days=lapsing_within_days)).order_by(
            "ends_at", "pk"
        ),
    )


def enrollment_exemptions(enrollment_id: int) -> QuerySet[Exemption]:
    """Return an enrollment's exemptions, revoked ones too, oldest first."""
    return (
        Exemption.objects.filter(enrollment_id=enrollment_id)
        .select_related("course", "group", "recorded_by", "revocation")
        .order_by("effective_at", "pk")
    )


def equivalences() -> QuerySet[Equivalence]:
    """Return every equivalence with its courses and its changes (end, retroactive)."""
    return (
        Equivalence.objects.select_related("source", "target", "recorded_by")
        .prefetch_related("changes")
        .order_by("-pk")
    )
