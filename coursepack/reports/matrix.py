"""The training matrix: people by packages, each cell the person's standing in the
package now (ADR 0025).

Read from the stored status cache (ADR 0010, 0016) — the open period's status and
dates — one page of people at a time: one query for the people, one for their cells.
A cell's standing is the same verdict as ``rules.standing`` over the cached fields,
computed in Python for the page (``cell_state``) and as SQL for the state filter
(``state_q``); a test holds the two to each other.

Scope: admins and auditors see everyone; a manager sees the people placed in the org
units they manage and below (``organisation.selectors.managed_paths``, matched by
``OrgUnit.path`` prefix); anyone else nobody.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from coursepack.learning.models import Enrollment, Exemption
from coursepack.organisation import selectors as organisation
from coursepack.organisation.models import OrgUnit
from coursepack.packaging.models import Package, PackageStatus, VersionLifecycle

__all__ = [
    "PER_PAGE",
    "STATES",
    "Matrix",
    "MatrixCell",
    "MatrixFilters",
    "MatrixRow",
    "OverdueEntry",
    "Scope",
    "cell_state",
    "export_filename",
    "matrix_page",
    "matrix_xlsx_file",
    "overdue_list",
    "people",
    "scope_for",
    "state_q",
    "unit_options",
    "write_matrix_xlsx",
]

PER_PAGE = 50
#: Package columns shown per page when the viewer names none.
COLUMNS_PER_PAGE = 10
#: The most people one synchronous XLSX export writes (narrow the filters beyond it).
EXPORT_LIMIT = 20_000

#: Each standing a cell can show: (label, fill colour as RRGGBB), in legend order.
STATES: dict[str, tuple[str, str]] = {
    "current": ("Current", "C6EFCE"),
    "complete": ("Complete", "A9D08E"),
    "due_for_recertification": ("Due for recertification", "FFEB9C"),
    "overdue": ("Overdue", "FFC7CE"),
    "expired": ("Expired", "FF7C80"),
    "exempt": ("Exempt", "BDD7EE"),
    "in_progress": ("In progress", "DDEBF7"),
    "not_started": ("Not started", "EDEDED"),
    "not_assigned": ("Not assigned", "FFFFFF"),
}

SORTS = ("name", "-name", "unit", "-unit")


@dataclass(frozen=True)
class Scope:
    """Whose rows a viewer may see: everyone, or the people under some unit paths."""

    everyone: bool = False
    unit_paths: tuple[str, ...] = ()

    def q(self) -> Q:
        """Return the condition over users of being in this scope.

        Through a subquery of the units (a few thousand rows at most), so the people
        are found by the placements' ``org_unit`` index rather than by scanning users.
        """
        if self.everyone:
            return Q()
        return Q(placement__org_unit__in=_units_under(self.unit_paths))


def _units_under(paths: Sequence[str]) -> QuerySet[OrgUnit, Any]:
    within = Q(pk__in=[])
    for path in paths:
        within |= Q(path__startswith=path)
    return OrgUnit.objects.filter(within).values("pk")


def scope_for(viewer: User) -> Scope:
    """Return whose rows ``viewer`` may read: admins and auditors everyone, a manager
    the people in the units they manage and below (the organisation's scope, without
    the manager's own row unless they are placed there), anyone else nobody."""
    if organisation.reads_everyone(viewer):
        return Scope(everyone=True)
    return Scope(unit_paths=tuple(organisation.managed_paths(viewer)))


@dataclass(frozen=True)
class MatrixFilters:
    """What the viewer narrowed the matrix to."""

    org_unit_id: int | None = None  # this unit and below
    manager_id: int | None = None  # people whose line manager this is
    state: str = ""  # people with at least one cell in this standing
    package_ids: tuple[int, ...] = ()  # the columns (and the state filter's packages)
    search: str = ""  # username contains


def unit_options(scope: Scope) -> list[tuple[int, str]]:
    """Return the active org units in ``scope`` as (id, name indented by depth)."""
    rows = OrgUnit.objects.filter(active=True)
    if not scope.everyone:
        within = Q(pk__in=[])
        for path in scope.unit_paths:
            within |= Q(path__startswith=path)
        rows = rows.filter(within)
    found = rows.order_by("path").values_list("pk", "name", "path")[:2000]
    return [(pk, "\u2003" * (path.count("/") - 2) + name) for pk, name, path in found]


# --- standings ---------------------------------------------------------------------------


def _validity() -> dict[tuple[int, int], list[int]]:
    """Return the versions that expire, grouped by (window days, grace days)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for version_id, window, grace in VersionLifecycle.objects.filter(
        valid_days__isnull=False
    ).values_list("version_id", "window_days", "grace_days"):
        groups.setdefault((window, grace), []).append(version_id)
    return groups


def _whole_exemption() -> Exists:
    return Exists(
        Exemption.objects.filter(
            enrollment_id=OuterRef("pk"),
            course__isnull=True,
            group__isnull=True,
            revocation__isnull=True,
        )
    )


def _groups(groups: dict[tuple[int, int], list[int]], field_: str, test: Any) -> Q:
    found = Q(pk__in=[])
    for (window, grace), versions in groups.items():
        found |= Q(**{f"{field_}__in": versions}) & test(
            timedelta(days=window), timedelta(days=grace)
        )
    return found


def state_q(name: str, now: datetime, groups: dict[tuple[int, int], list[int]] | None = None) -> Q:
    """Return the condition, over open enrollments, of being in standing ``name`` now
    (the same verdicts as ``cell_state``)."""
    groups = _validity() if groups is None else groups
    exempt = Q(_whole_exemption())
    done = Q(status="completed")
    later = Q(period_number__gt=1)
    if name == "exempt":
        return exempt
    if name == "complete":
        return done & ~exempt & Q(expires_at__isnull=True)
    if name == "current":
        return (
            done & ~exempt & _groups(groups, "version_id", lambda w, g: Q(expires_at__gt=now + w))
        )
    if name == "due_for_recertification":
        own = _groups(
            groups, "version_id", lambda w, g: Q(expires_at__gt=now, expires_at__lte=now + w)
        )
        return ~exempt & ((done & own) | (~done & later & Q(previous_period__expires_at__gt=now)))
    if name == "overdue":
        own = _groups(
            groups, "version_id", lambda w, g: Q(expires_at__lte=now, expires_at__gt=now - g)
        )
        previous = _groups(
            groups,
            "previous_period__version_id",
            lambda w, g: Q(
                previous_period__expires_at__lte=now, previous_period__expires_at__gt=now - g
            ),
        )
        first = ~later & Q(overdue_since__lt=now)
        return ~exempt & ((done & own) | (~done & (previous | first)))
    if name == "expired":
        own = _groups(groups, "version_id", lambda w, g: Q(expires_at__lte=now - g))
        previous = _groups(
            groups,
            "previous_period__version_id",
            lambda w, g: Q(previous_period__expires_at__lte=now - g),
        )
        return ~exempt & ((done & own) | (~done & later & previous))
    if name in ("in_progress", "not_started"):
        not_overdue = Q(overdue_since__isnull=True) | Q(overdue_since__gte=now)
        return Q(status=name) & ~exempt & ~later & not_overdue
    raise ValueError(f"unknown standing {name!r}")


def _rules_by_version(groups: dict[tuple[int, int], list[int]]) -> dict[int, tuple[int, int]]:
    return {v: key for key, versions in groups.items() for v in versions}


def cell_state(
    row: dict[str, Any], now: datetime, rules_by_version: dict[int, tuple[int, int]]
) -> str:
    """Return the standing of one open enrollment (a row of its cached fields) now."""
    if row["exempt"]:
        return "exempt"
    days = timedelta(days=1)
    if row["status"] == "completed":
        expires = row["expires_at"]
        if expires is None:
            return "complete"
        window, grace = rules_by_version.get(row["version_id"], (0, 0))
        if expires > now + window * days:
            return "current"
        if expires > now:
            return "due_for_recertification"
        return "overdue" if expires > now - grace * days else "expired"
    if row["period_number"] > 1:
        previous = row["previous_period__expires_at"]
        if previous is not None and previous > now:
            return "due_for_recertification"
        _, grace = rules_by_version.get(row["previous_period__version_id"], (0, 0))
        if previous is not None and previous > now - grace * days:
            return "overdue"
        return "expired"
    if row["overdue_since"] is not None and row["overdue_since"] < now:
        return "overdue"
    return str(row["status"])


# --- the page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixCell:
    state: str
    enrollment_id: int | None = None
    due: datetime | None = None
    expires: datetime | None = None

    @property
    def label(self) -> str:
        return STATES[self.state][0]


@dataclass(frozen=True)
class MatrixRow:
    person_id: int
    username: str
    full_name: str
    unit: str
    cells: tuple[MatrixCell, ...]


@dataclass(frozen=True)
class Matrix:
    """One page of the matrix."""

    columns: tuple[tuple[int, str], ...]
    rows: tuple[MatrixRow, ...]
    total: int
    page: int
    pages: int
    sort: str
    column_page: int = 1
    column_pages: int = 1
    as_of: datetime = field(default_factory=timezone.now)


def _open_enrollments() -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(withdrawn_at__isnull=True, superseded_at__isnull=True)


def people(scope: Scope, filters: MatrixFilters, *, now: datetime | None = None) -> QuerySet[User]:
    """Return the active people of the scope that the filters keep (unordered)."""
    rows = get_user_model().objects.filter(scope.q(), is_active=True)
    if filters.org_unit_id is not None:
        unit = OrgUnit.objects.filter(pk=filters.org_unit_id).values_list("path", flat=True)
        path = unit.first()
        if path is None:
            return rows.none()
        rows = rows.filter(placement__org_unit__in=_units_under([path]))
    if filters.manager_id is not None:
        rows = rows.filter(placement__manager_id=filters.manager_id)
    if filters.search:
        rows = rows.filter(username__icontains=filters.search)
    if filters.state:
        enrollments = _open_enrollments().filter(learner_id=OuterRef("pk"))
        if filters.package_ids:
            enrollments = enrollments.filter(package_id__in=filters.package_ids)
        if filters.state == "not_assigned":
            if not filters.package_ids:
                return rows.none()
            # Not assigned to at least one of the chosen packages.
            found = Q(pk__in=[])
            for package_id in filters.package_ids:
                found |= Q(~Exists(enrollments.filter(package_id=package_id)))
            rows = rows.filter(found)
        else:
            rows = rows.filter(
                Exists(enrollments.filter(state_q(filters.state, now or timezone.now())))
            )
    return rows


def _ordered(rows: QuerySet[User], sort: str) -> QuerySet[User]:
    if sort == "-name":
        return rows.order_by("-username")
    if sort == "unit":
        return rows.order_by("placement__org_unit__name", "username")
    if sort == "-unit":
        return rows.order_by("-placement__org_unit__name", "username")
    return rows.order_by("username")


def _columns(filters: MatrixFilters, column_page: int) -> tuple[list[tuple[int, str]], int, int]:
    packages = Package.objects.filter(status=PackageStatus.ACTIVE)
    if filters.package_ids:
        chosen = list(
            packages.filter(pk__in=filters.package_ids)
            .order_by("name", "pk")
            .values_list("pk", "name")
        )
        return chosen, 1, 1
    count = packages.count()
    pages = max(1, -(-count // COLUMNS_PER_PAGE))
    column_page = min(max(1, column_page), pages)
    start = (column_page - 1) * COLUMNS_PER_PAGE
    shown = list(
        packages.order_by("name", "pk").values_list("pk", "name")[start : start + COLUMNS_PER_PAGE]
    )
    return shown, column_page, pages


def _cells(
    person_ids: Sequence[int], package_ids: Sequence[int], now: datetime
) -> dict[tuple[int, int], MatrixCell]:
    """Return the cells of these people in these packages (one query)."""
    if not person_ids or not package_ids:
        return {}
    rules_by_version = _rules_by_version(_validity())
    rows = (
        _open_enrollments()
        # By the learner index: "package_id + 0" keeps SQLite (which has no statistics
        # here) from choosing the package index, which reads every enrollment of the
        # page's packages instead of the page's people's few.
        .alias(package_plus=F("package_id") + 0)
        .filter(learner_id__in=list(person_ids), package_plus__in=list(package_ids))
        .order_by()
        .annotate(exempt=_whole_exemption())
        .values(
            "pk",
            "learner_id",
            "package_id",
            "version_id",
            "status",
            "period_number",
            "overdue_since",
            "expires_at",
            "due_in_force",
            "exempt",
            "previous_period__expires_at",
            "previous_period__version_id",
        )
    )
    return {
        (row["learner_id"], row["package_id"]): MatrixCell(
            cell_state(row, now, rules_by_version),
            row["pk"],
            row["due_in_force"],
            row["expires_at"],
        )
        for row in rows
    }


_EMPTY = MatrixCell("not_assigned")


def _rows(
    users: Sequence[Any], columns: Sequence[tuple[int, str]], now: datetime
) -> list[MatrixRow]:
    cells = _cells([u["pk"] for u in users], [c for c, _ in columns], now)
    return [
        MatrixRow(
            person_id=u["pk"],
            username=u["username"],
            full_name=f"{u['first_name']} {u['last_name']}".strip(),
            unit=u["placement__org_unit__name"] or "",
            cells=tuple(cells.get((u["pk"], c), _EMPTY) for c, _ in columns),
        )
        for u in users
    ]


_PERSON_FIELDS = ("pk", "username", "first_name", "last_name", "placement__org_unit__name")


def matrix_page(
    scope: Scope,
    filters: MatrixFilters = MatrixFilters(),
    *,
    sort: str = "name",
    page: int = 1,
    per_page: int = PER_PAGE,
    column_page: int = 1,
    now: datetime | None = None,
) -> Matrix:
    """Return one page of the matrix for ``scope``: ``per_page`` people (sorted by
    ``sort``: name, -name, unit, -unit) by the chosen packages (or a page of the
    active ones)."""
    now = now or timezone.now()
    sort = sort if sort in SORTS else "name"
    columns, column_page, column_pages = _columns(filters, column_page)
    rows = people(scope, filters, now=now)
    total = rows.count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    users = list(_ordered(rows, sort).values(*_PERSON_FIELDS)[start : start + per_page])
    return Matrix(
        columns=tuple(columns),
        rows=tuple(_rows(users, columns, now)),
        total=total,
        page=page,
        pages=pages,
        sort=sort,
        column_page=column_page,
        column_pages=column_pages,
        as_of=now,
    )


@dataclass(frozen=True)
class OverdueEntry:
    person_id: int
    username: str
    package_id: int
    package: str
    enrollment_id: int
    due: datetime | None


def overdue_list(
    scope: Scope, *, limit: int = 100, now: datetime | None = None
) -> list[OverdueEntry]:
    """Return the scope's overdue enrollments now, longest overdue first."""
    now = now or timezone.now()
    rows = (
        _open_enrollments()
        .filter(state_q("overdue", now))
        .filter(learner__in=get_user_model().objects.filter(scope.q(), is_active=True))
        .order_by("due_in_force", "learner__username", "pk")
        .values(
            "pk", "learner_id", "learner__username", "package_id", "package__name", "due_in_force"
        )[:limit]
    )
    return [
        OverdueEntry(
            r["learner_id"],
            r["learner__username"],
            r["package_id"],
            r["package__name"],
            r["pk"],
            r["due_in_force"],
        )
        for r in rows
    ]


# --- XLSX ---------------------------------------------------------------------------------


def _iter_rows(
    scope: Scope,
    filters: MatrixFilters,
    sort: str,
    columns: Sequence[tuple[int, str]],
    now: datetime,
    limit: int | None,
) -> Iterator[MatrixRow]:
    ordered = _ordered(people(scope, filters, now=now), sort).values(*_PERSON_FIELDS)
    start = 0
    while limit is None or start < limit:
        end = start + 500 if limit is None else min(start + 500, limit)
        users = list(ordered[start:end])
        if not users:
            return
        yield from _rows(users, columns, now)
        start = end


def write_matrix_xlsx(
    scope: Scope,
    filters: MatrixFilters,
    out: IO[bytes],
    *,
    sort: str = "name",
    now: datetime | None = None,
    limit: int | None = EXPORT_LIMIT,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the whole filtered matrix (every chosen package, or every active one; at
    most ``limit`` people, None: everyone — an export job) as XLSX, each cell filled
    with its standing's colour, and a Legend sheet; return how many people were
    written. ``progress(n)`` hears of every ``n`` people written."""
    now = now or timezone.now()
    sort = sort if sort in SORTS else "name"
    packages = Package.objects.filter(status=PackageStatus.ACTIVE)
    if filters.package_ids:
        packages = packages.filter(pk__in=filters.package_ids)
    columns = list(packages.order_by("name", "pk").values_list("pk", "name"))
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Training matrix")
    bold = Font(bold=True)
    fills = {k: PatternFill("solid", start_color=c, end_color=c) for k, (_, c) in STATES.items()}

    def cell(value: Any, *, fill: PatternFill | None = None, font: Font | None = None) -> Any:
        c = WriteOnlyCell(sheet, value=value)
        if fill is not None:
            c.fill = fill
        if font is not None:
            c.font = font
        return c

    sheet.append(
        [cell(h, font=bold) for h in ("Username", "Name", "Org unit", *(n for _, n in columns))]
    )
    written = 0
    for row in _iter_rows(scope, filters, sort, columns, now, limit):
        sheet.append(
            [
                _safe(row.username),
                _safe(row.full_name),
                _safe(row.unit),
                *(cell(c.label, fill=fills[c.state]) for c in row.cells),
            ]
        )
        written += 1
        if progress is not None and written % 500 == 0:
            progress(500)
    if progress is not None and written % 500:
        progress(written % 500)
    legend = book.create_sheet("Legend")
    legend.append([WriteOnlyCell(legend, value="Standing"), WriteOnlyCell(legend, value="Meaning")])
    for key, (label, _) in STATES.items():
        swatch = WriteOnlyCell(legend, value=label)
        swatch.fill = fills[key]
        legend.append([swatch, _MEANINGS[key]])
    legend.append([f"As of {now.isoformat()}", f"{written} people"])
    book.save(out)
    return written


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(text: str) -> str:
    """Return text that a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


_MEANINGS = {
    "current": "Completed; valid, recertification window not yet open",
    "complete": "Completed; the package does not expire",
    "due_for_recertification": "The recertification window is open; not yet recertified",
    "overdue": "Past the due date (or expiry, within the grace period) and not complete",
    "expired": "The certification expired and the grace period is over",
    "exempt": "Exempted from the whole package",
    "in_progress": "Started, not complete, not yet due",
    "not_started": "Nothing done yet, not yet due",
    "not_assigned": "No open enrollment in this package",
}


def matrix_xlsx_file(scope: Scope, filters: MatrixFilters, *, sort: str = "name") -> IO[bytes]:
    """Return a temporary file holding the matrix as XLSX, at its start (the caller's
    response closes it)."""
    spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    try:
        write_matrix_xlsx(scope, filters, spool, sort=sort)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def export_filename(today: date) -> str:
    """Return e.g. ``coursepack-training-matrix-2026-12-02.xlsx``."""
    return f"coursepack-training-matrix-{today.isoformat()}.xlsx"
