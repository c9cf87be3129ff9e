"""The standing filters as query conditions over the open periods' cached fields, and the
periods whose cache counts an exemption that has since ended (read by the engine instead).

Shared by the exact aggregate (``lifecycle_selectors``) and the summary-row counts
(``standing_counts``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connections, router
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from coursepack import rules
from coursepack.learning.models import Enrollment, Exemption
from coursepack.learning.period_standing import package_standing
from coursepack.packaging import selectors as packaging

#: The standing filters of the per-package list, over the open periods' cached fields
#: as of ``now``: each maps to a condition (see ``standing_q``).
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

__all__ = [
    "STANDING_FILTERS",
    "Columns",
    "engine_standings",
    "lapsed_periods",
    "open_periods",
    "recount_lapsed",
    "standing_q",
    "standing_thresholds",
    "validity_rules",
    "whole_exemption",
    "whole_exemption_packages",
    "whole_exemptions",
]


def open_periods(package_id: int) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(
        package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
    )


def whole_exemption(now: datetime) -> Exists:
    """Return whether a period has a whole-enrollment exemption in force as of ``now``
    (revocations are effective from their recording, so none is in the future; an end
    is compared with ``now``: a lapse is derived here, at read time)."""
    return Exists(whole_exemptions(now).filter(enrollment_id=OuterRef("pk")))


class Columns:
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
        return Q(whole_exemption(now)) if self.exemptions else None

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


_EXACT = Columns()


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


def validity_rules(package_id: int) -> dict[int, rules.CertificationRule]:
    """Return the validity of each released version of the package that has one."""
    versions = packaging.versions_of_package(package_id)
    return {v: c for v, (_, c) in packaging.lifecycle_rules(versions).items() if c is not None}


def standing_thresholds(
    now: datetime, within: timedelta, rules_of: dict[int, rules.CertificationRule]
) -> set[datetime]:
    """Return every moment ``standing_q`` compares a period's moments with."""
    days = timedelta(days=1)
    found = {now, now + within}
    for c in rules_of.values():
        found |= {now + c.window_days * days, now - c.grace_days * days}
    return found


def standing_q(
    name: str,
    now: datetime,
    within: timedelta,
    package_id: int,
    rules_of: dict[int, rules.CertificationRule],
    cols: Columns = _EXACT,
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


def whole_exemptions(now: datetime) -> QuerySet[Exemption]:
    """Return the whole-enrollment exemptions in force as of ``now``."""
    return Exemption.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        course__isnull=True,
        group__isnull=True,
        revocation__isnull=True,
    )


# ``whole_exemptions(now)``'s periods and their packages, written once (ADR 0036
# amended: compiling the queryset took ~0.7 ms of a report page): the statement the
# queryset runs, its revocation's absence as NOT EXISTS.
_WHOLE_EXEMPTION_PACKAGES_SQL = (
    "SELECT x.enrollment_id, e.package_id FROM learning_exemption x "
    "INNER JOIN learning_enrollment e ON e.id = x.enrollment_id "
    "WHERE (x.ends_at IS NULL OR x.ends_at > %s) AND x.course_id IS NULL "
    "AND x.group_id IS NULL AND NOT EXISTS(SELECT 1 FROM learning_exemptionrevocation r "
    "WHERE r.exemption_id = x.id)"
)


def whole_exemption_packages(now: datetime) -> list[tuple[int, int]]:
    """Return (period, package) of each whole-enrollment exemption in force as of
    ``now`` (``whole_exemptions``), in no order."""
    db = connections[router.db_for_read(Exemption)]
    with db.cursor() as cursor:
        cursor.execute(_WHOLE_EXEMPTION_PACKAGES_SQL, [db.ops.adapt_datetimefield_value(now)])
        return cursor.fetchall()


def recount_lapsed(
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
    rules_of = validity_rules(package_id)
    aggregates = {
        name: Count("pk", filter=standing_q(name, moment, within, package_id, rules_of))
        for name in STANDING_FILTERS
    }
    stale = open_periods(package_id).filter(pk__in=[e.pk for e in lapsed])
    for name, n in stale.aggregate(**aggregates).items():
        counts[name] -= n
    for e in lapsed:
        for name in engine_standings(e, moment, within):
            counts[name] += 1


# The periods whose exemption lapses by a moment, by the partial index of lapses,
# written once (ADR 0036 amended: compiling the queryset took ~0.6 ms of a report page).
_LAPSES_SQL = (
    "SELECT e.id, e.package_id FROM learning_enrollment e WHERE e.exemption_lapses_at <= %s"
)


def lapsed_periods(package_ids: list[int], now: datetime) -> list[Enrollment]:
    """Return the open periods whose cache counts an exemption that has ended by ``now``
    and that no write or settling has recomputed since (a small indexed query, usually
    empty)."""
    # By the partial index of lapses alone (few rows, every package), then the
    # package: with the package beside it, SQLite would rather scan the package's
    # periods by the package's index.
    db = connections[router.db_for_read(Enrollment)]
    with db.cursor() as cursor:
        cursor.execute(_LAPSES_SQL, [db.ops.adapt_datetimefield_value(now)])
        lapsed = [pk for pk, package_id in cursor.fetchall() if package_id in package_ids]
    if not lapsed:
        return []
    return list(
        Enrollment.objects.filter(
            pk__in=lapsed, withdrawn_at__isnull=True, superseded_at__isnull=True
        )
        .select_related("learner", "version")
        .order_by("pk")
    )


def engine_standings(enrollment: Enrollment, now: datetime, within: timedelta) -> list[str]:
    """Return the standing filters an open period falls under as of ``now``, from the
    engine (``package_standing``): what ``standing_q`` says over a fresh cache."""
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
