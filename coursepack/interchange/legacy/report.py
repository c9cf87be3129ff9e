"""The reconciliation report: rows read and written per table, and every anomaly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# --- the report -------------------------------------------------------------------


@dataclass
class Anomaly:
    """One kind of anomaly in the legacy data, with every row that has it."""

    code: str
    title: str
    # What the migration does with these rows.
    action: str
    # Whether the migration refuses to start on them unless told (``--skip-orphans``).
    blocking: bool
    rows: list[dict[str, Any]] = field(default_factory=list)


#: Every anomaly the reconciliation looks for, in report order.
ANOMALIES: tuple[tuple[str, str, str, bool], ...] = (
    (
        "courses_without_package",
        "Courses with no package",
        "imported into the catalog, in no package",
        False,
    ),
    (
        "courses_missing_package",
        "Courses pointing at a missing package",
        "with --skip-orphans: imported into the catalog, in no package",
        True,
    ),
    (
        "packages_without_courses",
        "Packages with no courses (cannot be published)",
        "with --skip-orphans: not imported; their enrollments are skipped",
        True,
    ),
    (
        "enrollments_unknown_user",
        "Enrollments of unknown users",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "enrollments_unknown_package",
        "Enrollments in unknown packages",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "duplicate_enrollments",
        "Duplicate enrollments (same user and package)",
        "the first (lowest id) is imported, the others skipped",
        False,
    ),
    (
        "duplicate_completions",
        "Duplicate completions (same user, course, result and time)",
        "the first (lowest id) is imported, the others skipped",
        False,
    ),
    (
        "completions_unknown_user",
        "Completions of unknown users",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "completions_unknown_course",
        "Completions of unknown courses",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "unfinished_completions",
        "Completion rows that record no finished attempt",
        "not imported (no completion time, or a status that is not a result); "
        "the report keeps their start time",
        False,
    ),
    (
        "started_after_finished",
        "Completions that started after they finished",
        "imported at their completion time; the start is kept as given, in the event's evidence",
        False,
    ),
    (
        "status_mismatches",
        "Enrollments the legacy system marked completed that Coursepack computes otherwise",
        "imported with the computed status; the engine's reason is given",
        False,
    ),
)

#: Legacy tables read, and Coursepack tables written, in report order.
READ_TABLES = (
    "packages",
    "courses",
    "users",
    "user_package_enrollments",
    "user_course_completions",
)
#: What became of the legacy ``started_at`` of completion rows, in report order.
START_COUNTS = (
    # Imported rows whose start time is kept as the event's evidence.
    "events_with_start",
    # Imported rows with no start time.
    "events_without_start",
    # Rows with a start and no result: not events; kept in this report.
    "unfinished_with_start",
)
START_TITLES = {
    "events_with_start": "imported; start kept in the event's evidence",
    "events_without_start": "imported; no start time in the legacy row",
    "unfinished_with_start": "started, never finished: not an event; listed in this report",
}
WRITE_TABLES = (
    "courses",
    "course_groups",
    "packages",
    "learners",
    "enrollments",
    "completion_events",
)


@dataclass
class Report:
    """The reconciliation report of one migration (dry run or real)."""

    source: str
    dry_run: bool
    read: dict[str, int | None] = field(default_factory=dict)
    would_write: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] | None = None
    anomalies: dict[str, Anomaly] = field(default_factory=dict)
    skip_orphans: bool = False
    # What became of the legacy start times (START_COUNTS).
    starts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.anomalies:
            self.anomalies = {
                code: Anomaly(code, title, action, blocking)
                for code, title, action, blocking in ANOMALIES
            }
        self.would_write = self.would_write or dict.fromkeys(WRITE_TABLES, 0)
        self.starts = self.starts or dict.fromkeys(START_COUNTS, 0)

    def add(self, code: str, **row: Any) -> None:
        """Record one anomalous row."""
        self.anomalies[code].rows.append(row)

    def counts(self) -> dict[str, int]:
        """Return the number of rows of each anomaly."""
        return {code: len(a.rows) for code, a in self.anomalies.items()}

    def unplaced(self) -> list[Anomaly]:
        """Return the anomalies that stop a real run (none when told to skip orphans)."""
        if self.skip_orphans:
            return []
        return [a for a in self.anomalies.values() if a.blocking and a.rows]

    def as_json(self) -> dict[str, Any]:
        """Return the report as plain data, keys in a fixed order."""
        return {
            "source": self.source,
            "mode": "dry-run" if self.dry_run else "run",
            "skip_orphans": self.skip_orphans,
            "read": self.read,
            "would_write": self.would_write,
            "written": self.written,
            "starts": self.starts,
            "anomalies": [
                {
                    "code": a.code,
                    "title": a.title,
                    "action": a.action,
                    "blocking": a.blocking,
                    "count": len(a.rows),
                    "rows": a.rows,
                }
                for a in self.anomalies.values()
            ],
        }

    def to_json(self) -> str:
        """Return the report as JSON text."""
        return json.dumps(self.as_json(), indent=2, default=str) + "\n"

    def to_markdown(self, *, rows_listed: int = 50) -> str:
        """Return the report as Markdown (the JSON report lists every row)."""
        mode = "dry run (nothing written)" if self.dry_run else "migration"
        lines = [f"# Legacy migration report: {mode}", "", f"Source: `{self.source}`", ""]
        lines += ["## Rows read", "", "| legacy table | rows |", "|---|---:|"]
        for table in READ_TABLES:
            value = self.read.get(table)
            lines.append(f"| {table} | {'no table' if value is None else value} |")
        lines += ["", "## Rows written", ""]
        header = "| Coursepack table | would write |"
        rule = "|---|---:|"
        if self.written is not None:
            header += " written |"
            rule += "---:|"
        lines += [header, rule]
        for table in WRITE_TABLES:
            line = f"| {table} | {self.would_write.get(table, 0)} |"
            if self.written is not None:
                line += f" {self.written.get(table, 0)} |"
            lines.append(line)
        lines += ["", "## Start times of completion rows", ""]
        lines += ["| legacy rows | rows |", "|---|---:|"]
        for key in START_COUNTS:
            lines.append(f"| {START_TITLES[key]} | {self.starts.get(key, 0)} |")
        lines += ["", "## Anomalies", "", "| anomaly | rows | what the migration does |"]
        lines.append("|---|---:|---|")
        for a in self.anomalies.values():
            flag = (
                " **(blocks the migration)**"
                if a.blocking and a.rows and not self.skip_orphans
                else ""
            )
            lines.append(f"| {a.title} | {len(a.rows)} | {a.action}{flag} |")
        for a in self.anomalies.values():
            if not a.rows:
                continue
            lines += ["", f"### {a.title} ({len(a.rows)})", ""]
            for row in a.rows[:rows_listed]:
                lines.append("- " + ", ".join(f"{k} {_show(v)}" for k, v in row.items()))
            if len(a.rows) > rows_listed:
                lines.append(f"- … and {len(a.rows) - rows_listed} more (see the JSON report)")
        return "\n".join(lines) + "\n"


def write_report(report: Report, prefix: Path) -> None:
    """Write the report as ``PREFIX.md`` (every row listed) and ``PREFIX.json``."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.md").write_text(report.to_markdown(rows_listed=10**9), encoding="utf-8")
    Path(f"{prefix}.json").write_text(report.to_json(), encoding="utf-8")


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and " " in value:
        return repr(value)
    return str(value)
