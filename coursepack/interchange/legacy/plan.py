"""The first pass: classify every legacy row, plan each package's v1, build the report."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby, islice
from typing import Any

from coursepack import rules
from coursepack.catalog.models import Course
from coursepack.interchange.errors import MappingInvalid
from coursepack.interchange.legacy.mapping import MappedGroup, Mapping
from coursepack.interchange.legacy.report import READ_TABLES, Report
from coursepack.interchange.legacy.source import (
    CompletionRow,
    EnrollmentRow,
    LegacyCourse,
    LegacyPackage,
    LegacySource,
    LegacyUser,
    ProgressFn,
    course_code,
    event_key,
    redacted,
    username,
)
from coursepack.interchange.models import LegacyKey
from coursepack.learning import selectors as learning_selectors

# --- the plan ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedItem:
    """An item of a migrated package's version 1: a legacy course or a mapped group."""

    course: int | None
    group: MappedGroup | None
    required: bool


@dataclass
class PlannedPackage:
    legacy: LegacyPackage
    items: list[PlannedItem]
    exists: bool = False


@dataclass
class Plan:
    """What the migration creates, and the reconciliation report."""

    report: Report
    courses: list[LegacyCourse]
    packages: dict[int, PlannedPackage]
    mapping: Mapping
    users: dict[int, LegacyUser] | None
    # Every legacy package id, placed or not.
    all_packages: set[int] = field(default_factory=set)
    # Legacy user ids that get a learner account (those with a row to import).
    learners: set[int] = field(default_factory=set)

    def describe(self) -> str:
        """Return the plan as text: each package's version 1 as it will be published."""
        names = {c.id: c.name for c in self.courses}
        lines = ["Plan:"]
        for planned in self.packages.values():
            p = planned.legacy
            state = " (already migrated)" if planned.exists else ""
            when = p.created_at.isoformat() if p.created_at else "now"
            lines.append(f"  package {p.id} {p.name!r}: v1 published {when}{state}")
            for n, item in enumerate(planned.items, 1):
                flag = "required" if item.required else "optional"
                if item.group is not None:
                    g = item.group
                    rule = {
                        "family": "complete 1 of",
                        "series": "complete all, in order, of",
                        "choice": f"complete {g.min_count or len(g.courses)} of",
                    }[g.kind]
                    lines.append(
                        f"    {n}. group {g.name!r} ({g.kind}, {rule} {len(g.courses)}) {flag}"
                    )
                    for course in g.courses:
                        star = " (required)" if course in g.required_courses else ""
                        lines.append(f"       - {course_code(course)} {names[course]}{star}")
                else:
                    assert item.course is not None
                    lines.append(f"    {n}. {course_code(item.course)} {names[item.course]} {flag}")
        return "\n".join(lines) + "\n"


def _plan_packages(
    source_packages: list[LegacyPackage],
    courses: list[LegacyCourse],
    mapping: Mapping,
    report: Report,
) -> dict[int, PlannedPackage]:
    package_ids = {p.id for p in source_packages}
    by_package: dict[int, list[LegacyCourse]] = defaultdict(list)
    for course in courses:
        if course.package_id is None:
            report.add("courses_without_package", course_id=course.id, name=course.name)
        elif course.package_id not in package_ids:
            report.add(
                "courses_missing_package",
                course_id=course.id,
                name=course.name,
                package_id=course.package_id,
            )
        else:
            by_package[course.package_id].append(course)
    course_package = {c.id: c.package_id for c in courses}
    problems = []
    group_of: dict[int, MappedGroup] = {}
    for mapped in mapping.groups:
        homes = set()
        for member in mapped.courses:
            if member not in course_package:
                problems.append(f"group {mapped.name!r}: there is no legacy course {member}")
            else:
                homes.add(course_package[member])
            group_of[member] = mapped
        if len(homes) > 1:
            problems.append(
                f"group {mapped.name!r}: its courses are in different legacy packages "
                f"({', '.join(str(h) for h in sorted(homes, key=str))}); a group replaces "
                "courses of one package"
            )
    for missing in sorted(mapping.optional_courses - set(course_package)):
        problems.append(f"optional_courses: there is no legacy course {missing}")
    if problems:
        raise MappingInvalid("The mapping does not fit the legacy data:", problems=problems)
    planned: dict[int, PlannedPackage] = {}
    for package in source_packages:
        members = by_package.get(package.id, [])
        if not members:
            report.add("packages_without_courses", package_id=package.id, name=package.name)
            continue
        items: list[PlannedItem] = []
        placed: set[str] = set()
        for course in members:
            group = group_of.get(course.id)
            if group is None:
                items.append(
                    PlannedItem(course.id, None, course.id not in mapping.optional_courses)
                )
            elif group.name not in placed:
                placed.add(group.name)
                items.append(PlannedItem(None, group, group.required))
        planned[package.id] = PlannedPackage(package, items)
    return planned


def _tree(planned: PlannedPackage, names: dict[int, str]) -> rules.RequirementTree:
    """Return the version-1 tree of a planned package, with legacy ids as course ids."""

    def ref(course: int) -> rules.CourseRef:
        return rules.CourseRef(course, course_code(course), names[course])

    items = []
    for n, item in enumerate(planned.items):
        if item.group is None:
            assert item.course is not None
            node: rules.CourseRef | rules.Group = ref(item.course)
        else:
            g = item.group
            node = rules.Group(
                group_id=n,
                version_id=n,
                version_number=1,
                name=g.name,
                kind=g.kind,
                min_count=g.min_count,
                items=tuple(rules.Item(ref(c), c in g.required_courses) for c in g.courses),
            )
        items.append(rules.Item(node, item.required))
    p = planned.legacy
    return rules.RequirementTree(p.id, 0, 1, p.name, tuple(items))


_RESULTS = {
    "completed": "completed",
    "complete": "completed",
    "passed": "passed",
    "pass": "passed",
    "failed": "failed",
    "fail": "failed",
}


def _result(status: str | None, completed_at: datetime | None) -> str | None:
    """Return the event kind a legacy completion row records, or None for no result."""
    if completed_at is None:
        return None
    if status is None or not status.strip():
        return "completed"
    return _RESULTS.get(status.strip().lower())


# (legacy completion id, course id, kind, completed at, started at) of a row kept for import
KeptCompletion = tuple[int, int, str, datetime, datetime | None]


@dataclass
class _UserRows:
    """One legacy user's rows, as the walk classified them."""

    user_id: int | None
    # (legacy enrollment row) kept for import
    enrollments: list[EnrollmentRow]
    # (legacy completion id, course id, kind, completed at) kept for import
    completions: list[KeptCompletion]


def _by_user(
    enrollments: Iterator[EnrollmentRow], completions: Iterator[CompletionRow]
) -> Iterator[tuple[int | None, list[EnrollmentRow], list[CompletionRow]]]:
    """Merge the two streams (both sorted by user, NULL last) into one group per user."""

    def key(user_id: int | None) -> tuple[bool, int]:
        return (user_id is None, user_id or 0)

    tagged = heapq.merge(
        ((key(r[1]), 0, r) for r in enrollments),
        ((key(r[1]), 1, r) for r in completions),
        key=lambda t: t[0],
    )
    for _, group in groupby(tagged, key=lambda t: t[0]):
        ens: list[EnrollmentRow] = []
        comps: list[CompletionRow] = []
        for _, which, row in group:
            if which == 0:
                ens.append(row)  # type: ignore[arg-type]
            else:
                comps.append(row)  # type: ignore[arg-type]
        user_id = (ens[0] if ens else comps[0])[1]
        yield user_id, ens, comps


def walk(
    source: LegacySource,
    plan: Plan,
    report: Report | None,
    progress: ProgressFn | None,
) -> Iterator[_UserRows]:
    """Classify every enrollment and completion, user by user.

    Records anomalies in ``report`` (when given); yields the rows to import. The
    first pass and the writing pass walk alike, so they keep the same rows.
    """
    known_courses = {c.id for c in plan.courses}
    known_packages = plan.all_packages
    legacy_packages = set(plan.packages)

    def note(code: str, **row: Any) -> None:
        if report is not None:
            report.add(code, **row)

    for user_id, ens, comps in _by_user(source.enrollments(), source.completions()):
        known_user = user_id is not None and (plan.users is None or user_id in plan.users)
        kept_enrollments: list[EnrollmentRow] = []
        seen_packages: dict[int, int] = {}
        for row in ens:
            eid, _, package_id, _, _, _ = row
            if not known_user:
                note(
                    "enrollments_unknown_user",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                )
            elif package_id is None or package_id not in known_packages:
                note(
                    "enrollments_unknown_package",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                )
            elif package_id not in legacy_packages:
                # The package exists but was not placed (it has no courses): that
                # anomaly is reported on the package; its enrollments go with it.
                note(
                    "enrollments_unknown_package",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                )
            elif package_id in seen_packages:
                note(
                    "duplicate_enrollments",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                    kept_enrollment_id=seen_packages[package_id],
                )
            else:
                seen_packages[package_id] = eid
                kept_enrollments.append(row)
        kept_completions: list[KeptCompletion] = []
        seen: dict[tuple[int, str, datetime], int] = {}
        for cid, _, course_id, _, started_at, completed_at, status in comps:
            kind = _result(status, completed_at)
            if not known_user:
                note(
                    "completions_unknown_user",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                )
            elif course_id is None or course_id not in known_courses:
                note(
                    "completions_unknown_course",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                )
            elif kind is None or completed_at is None:
                note(
                    "unfinished_completions",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                    status=status,
                    started_at=started_at,
                    completed_at=completed_at,
                )
                if report is not None and started_at is not None:
                    report.starts["unfinished_with_start"] += 1
            elif (course_id, kind, completed_at) in seen:
                note(
                    "duplicate_completions",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                    kept_completion_id=seen[(course_id, kind, completed_at)],
                )
            else:
                seen[(course_id, kind, completed_at)] = cid
                kept_completions.append((cid, course_id, kind, completed_at, started_at))
                if report is not None:
                    report.starts[
                        "events_with_start" if started_at is not None else "events_without_start"
                    ] += 1
                if started_at is not None and started_at > completed_at:
                    note(
                        "started_after_finished",
                        completion_id=cid,
                        user_id=user_id,
                        course_id=course_id,
                        started_at=started_at,
                        completed_at=completed_at,
                    )
        if progress is not None:
            progress("rows", len(ens) + len(comps))
        yield _UserRows(user_id, kept_enrollments, kept_completions)


def analyse(
    source: LegacySource,
    *,
    mapping: Mapping | None = None,
    dry_run: bool = True,
    skip_orphans: bool = False,
    progress: ProgressFn | None = None,
) -> Plan:
    """Read the legacy database once and return the plan and its reconciliation report.

    Writes nothing. ``would_write`` counts what is not in Coursepack yet, so after a
    complete migration it is all zeros.
    """
    mapping = mapping or Mapping()
    report = Report(source=redacted(source.url), dry_run=dry_run, skip_orphans=skip_orphans)
    for table in READ_TABLES:
        report.read[table] = None if table == "users" and not source.has_users else 0
    packages = source.packages()
    courses = source.courses()
    users = source.users()
    report.read["packages"] = len(packages)
    report.read["courses"] = len(courses)
    if users is not None:
        report.read["users"] = len(users)
    planned = _plan_packages(packages, courses, mapping, report)
    plan = Plan(report, courses, planned, mapping, users, {p.id for p in packages})
    names = {c.id: c.name for c in courses}
    status_rules = {pid: rules.StatusRule(_tree(p, names)) for pid, p in planned.items()}
    trees: dict[int, rules.RequirementTree] = {}

    # What exists already (a repeated run).
    existing_codes = set(
        Course.objects.filter(code__in=[course_code(c.id) for c in courses]).values_list(
            "code", flat=True
        )
    )
    report.would_write["courses"] = sum(course_code(c.id) not in existing_codes for c in courses)
    migrated_packages = migrated_keys("package")
    migrated_groups = migrated_keys("group")
    for pid, p in planned.items():
        p.exists = str(pid) in migrated_packages
    report.would_write["packages"] = sum(not p.exists for p in planned.values())
    report.would_write["course_groups"] = sum(
        g.name not in migrated_groups
        for g in mapping.groups
        if any(i.group is g for p in planned.values() for i in p.items)
    )
    enrolled = {
        pid: _enrolled_legacy_users(migrated_packages.get(str(pid)))
        for pid, p in planned.items()
        if p.exists
    }
    n_enrollments = n_completions = 0
    pending_keys: list[str] = []
    new_events = 0

    def flush() -> int:
        if not pending_keys:
            return 0
        found = learning_selectors.recorded_external_ids(pending_keys)
        n = len(pending_keys) - len(found)
        pending_keys.clear()
        return n

    for rows in walk(source, plan, report, progress):
        n_enrollments += len(rows.enrollments)
        n_completions += len(rows.completions)
        if rows.enrollments or rows.completions:
            assert rows.user_id is not None
            plan.learners.add(rows.user_id)
        for row in rows.enrollments:
            package_id = row[2]
            assert package_id is not None and rows.user_id is not None
            if rows.user_id not in enrolled.get(package_id, ()):
                report.would_write["enrollments"] += 1
        pending_keys.extend(event_key(c[0]) for c in rows.completions)
        if len(pending_keys) >= 2000:
            new_events += flush()
        # Legacy statuses against the engine.
        marked = [r for r in rows.enrollments if (r[5] or "").strip().lower() == "completed"]
        if marked:
            # Recorded when it occurred: the legacy system has no other record time.
            event_rows: list[rules.EventRow] = [
                (c[0], c[1], c[2], c[3], None, c[3]) for c in rows.completions
            ]
            facts = rules.course_facts_from_rows(event_rows)
            for row in marked:
                assert row[2] is not None
                since = row[3] or planned[row[2]].legacy.created_at
                summary = status_rules[row[2]].summarize(facts, since)
                if summary.status != rules.EnrollmentStatus.COMPLETED:
                    tree = trees.get(row[2]) or trees.setdefault(
                        row[2], _tree(planned[row[2]], names)
                    )
                    evaluation = rules.evaluate(
                        tree,
                        [
                            rules.LearnerEvent(c[0], c[1], rules.EventKind(c[2]), c[3])
                            for c in rows.completions
                        ],
                        on_version_since=since,
                    )
                    report.add(
                        "status_mismatches",
                        enrollment_id=row[0],
                        user_id=rows.user_id,
                        package_id=row[2],
                        legacy_status=row[5],
                        legacy_completed_at=row[4],
                        computed_status=str(summary.status),
                        reason="; ".join(evaluation.why_not_complete()),
                    )
    new_events += flush()
    report.read["user_package_enrollments"] = source.count("user_package_enrollments")
    report.read["user_course_completions"] = source.count("user_course_completions")
    report.would_write["completion_events"] = new_events
    existing_users = existing_usernames([username(u) for u in plan.learners])
    report.would_write["learners"] = len(plan.learners) - existing_users
    return plan


def migrated_keys(table: str) -> dict[str, int]:
    return dict(LegacyKey.objects.filter(table=table).values_list("legacy_key", "object_id"))


def _enrolled_legacy_users(package_id: int | None) -> set[int]:
    if package_id is None:
        return set()
    from django.contrib.auth import get_user_model

    learner_ids = learning_selectors.open_enrollment_learner_ids(package_id)
    names = get_user_model().objects.filter(pk__in=learner_ids).values_list("username", flat=True)
    return {
        int(n.removeprefix("legacy-")) for n in names if n.startswith("legacy-") and n[7:].isdigit()
    }


def existing_usernames(names: list[str]) -> int:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    found = 0
    iterator = iter(names)
    while chunk := list(islice(iterator, 2000)):
        found += User.objects.filter(username__in=chunk).count()
    return found
