"""A deterministic, seeded generator of benchmark data at any scale.

The same seed and scale give the same rows with the same ids on an empty
database (and on one with the same rows already in it: ids start after the
largest id there). History is generated as it would have happened: the
catalog, then groups and packages version after version: each version is
created as a draft by the services, its items are written straight into the
draft (a draft may change; this skips an audit record per item), and the
services publish it, under a simulated clock so that publish dates lie in the
past. The database triggers stay on throughout. Then learners, their
enrollments and their completion events are bulk-inserted (COPY on PostgreSQL).

The stored statuses of the enrollments are computed as they are inserted, by
the requirement engine over the learner's events, exactly as
``learning.api.rebuild_statuses`` would compute them; ``rebuild_statuses(fix=False)``
finds no drift afterwards (tests/bench checks it).

Event and enrollment ids follow time within blocks of learners, so the tables
interleave learners the way a live system's do, instead of storing each
learner's rows next to each other (which would flatter every read).
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import F, Max, Min, Model
from tqdm import tqdm

from coursepack import rules
from coursepack.accounts.models import Account
from coursepack.audit import api as audit
from coursepack.bench import organisation as bench_organisation
from coursepack.bench.scales import EMPTY_PACKAGE, HISTORY_PACKAGE, LOADED_PACKAGE, Scale
from coursepack.catalog.models import Course
from coursepack.learning import summaries
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import CourseGroupItem, GroupKind, Package, PackageVersionItem

__all__ = ["DEFAULT_END", "GenerationReport", "generate"]

#: The generated history ends here (a fixed moment, so the data does not depend on the clock).
DEFAULT_END = datetime(2025, 1, 1, tzinfo=UTC)
_HISTORY = timedelta(days=730)
#: Learners handled per transaction; their events and enrollments are sorted by time.
_BLOCK = 5000
_BATCH = 5000
_VOID_RATE = 0.005
_WITHDRAW_RATE = 0.02
_KINDS = ("completed",) * 13 + ("passed",) * 4 + ("failed",) * 3
# A learner's first attempt at a course they mean to finish fails less often.
_FIRST_KINDS = ("completed",) * 14 + ("passed",) * 5 + ("failed",)
_RULE_KINDS = {kind: rules.EventKind(kind) for kind in ("completed", "passed", "failed", "void")}


@dataclass
class GenerationReport:
    """What was generated, and how long each phase took (seconds)."""

    scale: Scale
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Version:
    pk: int
    effective: int  # seconds since the start of the history
    until: int  # when the next version replaced it (the end, for the active one)
    courses: tuple[int, ...]
    tree: rules.RequirementTree


@dataclass
class _Package:
    pk: int
    name: str
    versions: list[_Version] = field(default_factory=list)


class _Clock:
    """The simulated clock the services read while history is generated."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at


@contextmanager
def _simulated_clock(start: datetime) -> Iterator[_Clock]:
    clock = _Clock(start)
    with mock.patch("django.utils.timezone.now", clock.now):
        yield clock


def _bar(show: bool, total: int, desc: str, unit: str) -> tqdm[Any]:
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, unit_scale=True, leave=True)


def _next_id(model: type[Model]) -> int:
    return int(model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1


def _insert_rows(table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert raw rows: COPY on PostgreSQL, a prepared multi-row insert on SQLite."""
    if not rows:
        return
    quote = connection.ops.quote_name
    cols = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw: Any = cursor.cursor
            with raw.copy(f"COPY {quote(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            for start in range(0, len(rows), _BATCH * 10):
                cursor.executemany(
                    f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks})",
                    rows[start : start + _BATCH * 10],
                )


def _split_total(rng: random.Random, total: int, parts: int, cap: int) -> list[int]:
    """Return ``parts`` counts between 0 and ``cap`` that add up to ``total``, varied."""
    base, extra = divmod(total, parts)
    counts = [base + (1 if i < extra else 0) for i in range(parts)]
    for i in range(parts // 2):
        j = parts - 1 - i
        low = max(-counts[i], counts[j] - cap, -(counts[i] * 3) // 4)
        high = min(counts[j], cap - counts[i], (counts[j] * 3) // 4)
        if low < high:
            delta = rng.randint(low, high)
            counts[i] += delta
            counts[j] -= delta
    return counts


class _Generator:
    def __init__(self, scale: Scale, seed: int, end: datetime, show_progress: bool) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.end = end
        self.start = end - _HISTORY
        self.span = int(_HISTORY.total_seconds())
        self.show = show_progress
        self.sqlite = connection.vendor == "sqlite"
        self.admin: Any = None
        self.course_ids: list[int] = []
        self.group_ids: list[int] = []
        # group id -> its newest published version
        self.group_versions: dict[int, int] = {}
        self.packages: list[_Package] = []
        self.made: dict[str, int] = {}
        first_day = self.start.astimezone(UTC)
        self.start_of_day = first_day.hour * 3600 + first_day.minute * 60 + first_day.second
        self.days = [
            (first_day.date() + timedelta(days=d)).isoformat() for d in range(_HISTORY.days + 3)
        ]

    # --- helpers ---------------------------------------------------------------

    def moment(self, seconds: int) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def text_time(self, seconds: int) -> str:
        """Return the moment as Django's SQLite backend stores it (naive UTC text), quickly."""
        day, rest = divmod(seconds + self.start_of_day, 86400)
        hour, rest = divmod(rest, 3600)
        return f"{self.days[day]} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}"

    def db_time(self, moment: datetime | None) -> Any:
        if moment is None:
            return None
        # What Django's SQLite backend stores: naive UTC text.
        return moment.replace(tzinfo=None).isoformat(" ") if self.sqlite else moment

    # --- catalog and people ------------------------------------------------------

    def make_admin(self) -> None:
        User = get_user_model()
        self.admin = User.objects.filter(username="bench-admin").first()
        if self.admin is None:
            self.admin = User.objects.create_user(
                username="bench-admin", password=None, is_staff=True, is_superuser=True
            )

    def make_courses(self) -> None:
        created = self.start - timedelta(days=30)
        first = _next_id(Course)
        Course.objects.bulk_create(
            (
                Course(
                    pk=first + n,
                    code=f"BC-{first + n:05d}",
                    name=f"Bench course {first + n}",
                    duration_minutes=self.rng.choice((15, 30, 45, 60, 90)),
                    created_at=created,
                    updated_at=created,
                )
                for n in range(self.scale.courses)
            ),
            batch_size=1000,
        )
        self.course_ids = [first + n for n in range(self.scale.courses)]

    def make_learners(self) -> list[int]:
        User = get_user_model()
        first = _next_id(User)
        joined = self.start - timedelta(days=60)
        password = UNUSABLE_PASSWORD_PREFIX + "bench"
        with _bar(self.show, self.scale.learners, "learners", "user") as bar:
            for offset in range(0, self.scale.learners, _BATCH):
                count = min(_BATCH, self.scale.learners - offset)
                User.objects.bulk_create(
                    User(
                        pk=first + offset + n,
                        username=f"bench-learner-{first + offset + n:07d}",
                        password=password,
                        date_joined=joined,
                    )
                    for n in range(count)
                )
                bar.update(count)
        return [first + n for n in range(self.scale.learners)]

    # --- groups and packages, through the services ---------------------------------

    def make_groups(self, clock: _Clock) -> None:
        rng = self.rng
        clock.at = self.start - timedelta(days=10)
        kinds = (GroupKind.FAMILY, GroupKind.SERIES, GroupKind.CHOICE)
        with _bar(self.show, self.scale.groups, "groups", "group") as bar:
            for g in range(self.scale.groups):
                kind = kinds[g % 3]
                entries: list[tuple[str, int, bool]] = []
                nested = g >= 3 and rng.random() < 0.3
                size = {GroupKind.FAMILY: (2, 3), GroupKind.SERIES: (2, 4)}.get(kind, (3, 6))
                count = rng.randint(*size)
                if nested:
                    entries.append(("group", rng.choice(self.group_ids), False))
                for course in rng.sample(self.course_ids, count - len(entries)):
                    entries.append(("course", course, False))
                rng.shuffle(entries)
                min_count = None
                if kind == GroupKind.CHOICE:
                    if rng.random() < 0.5:
                        index = rng.randrange(len(entries))
                        entries[index] = (*entries[index][:2], True)
                    required = sum(1 for e in entries if e[2])
                    min_count = rng.randint(max(1, required, 2), len(entries) - 1)
                gv = packaging.create_group(
                    actor=self.admin,
                    name=f"{kind.label.split(' ')[0]} group {g + 1:03d}",
                    kind=kind,
                    min_count=min_count,
                )
                self.add_group_items(gv.pk, entries)
                packaging.publish_group_version(actor=self.admin, group_version_id=gv.pk)
                latest = gv.pk
                if rng.random() < 0.2:
                    # A second version: packages built from now on pin it.
                    draft = packaging.new_group_draft(actor=self.admin, group_id=gv.group_id)
                    used = {e[1] for e in entries if e[0] == "course"}
                    extra = rng.choice([c for c in self.course_ids if c not in used])
                    self.add_group_items(draft.pk, [("course", extra, False)], after=len(entries))
                    packaging.publish_group_version(actor=self.admin, group_version_id=draft.pk)
                    latest = draft.pk
                self.group_versions[gv.group_id] = latest
                self.group_ids.append(gv.group_id)
                bar.update(1)

    def initial_items(self) -> list[tuple[str, int, bool]]:
        rng = self.rng
        items: list[tuple[str, int, bool]] = [
            ("course", c, True) for c in rng.sample(self.course_ids, rng.randint(3, 7))
        ]
        groups = rng.choice((0, 1, 1, 2, 2, 3))
        items += [("group", g, True) for g in rng.sample(self.group_ids, groups)]
        if rng.random() < 0.3:
            items[0] = (items[0][0], items[0][1], False)
        rng.shuffle(items)
        return items

    def mutate(self, items: list[tuple[str, int, bool]]) -> list[tuple[str, str, int, bool]]:
        """Change a version's items as an admin would; return the edits made."""
        rng = self.rng
        present = {(kind, pk) for kind, pk, _ in items}
        required = sum(1 for i in items if i[2])
        edits: list[tuple[str, str, int, bool]] = []
        for _ in range(rng.randint(1, 2)):
            move = rng.choice(("add_course", "add_course", "remove", "add_group", "toggle"))
            if move == "add_course":
                course = rng.choice(self.course_ids)
                if ("course", course) not in present:
                    edits.append(("add", "course", course, rng.random() < 0.9))
                    present.add(("course", course))
            elif move == "add_group":
                group = rng.choice(self.group_ids)
                if ("group", group) not in present:
                    edits.append(("add", "group", group, True))
                    present.add(("group", group))
            elif move == "remove" and len(items) > 3:
                kind, pk, was_required = rng.choice(items)
                if (kind, pk) in present and (not was_required or required > 1):
                    edits.append(("remove", kind, pk, was_required))
                    present.discard((kind, pk))
                    required -= was_required
            elif move == "toggle":
                kind, pk, was_required = rng.choice(items)
                if (kind, pk) in present and (not was_required or required > 1):
                    edits.append(("required", kind, pk, not was_required))
                    required += -1 if was_required else 1
        return edits

    def add_group_items(
        self, group_version_id: int, entries: list[tuple[str, int, bool]], after: int = 0
    ) -> None:
        CourseGroupItem.objects.bulk_create(
            CourseGroupItem(
                group_version_id=group_version_id,
                position=after + n,
                course_id=pk if what == "course" else None,
                child_group_id=pk if what == "group" else None,
                child_version_id=self.group_versions[pk] if what == "group" else None,
                required=required,
            )
            for n, (what, pk, required) in enumerate(entries, start=1)
        )

    def apply(self, version_id: int, edits: list[tuple[str, str, int, bool]]) -> None:
        """Edit a draft's items directly (drafts may change; the services publish them)."""
        items = PackageVersionItem.objects.filter(version_id=version_id)
        for op, kind, pk, required in edits:
            if op == "add":
                PackageVersionItem.objects.create(
                    version_id=version_id,
                    position=items.count() + 1,
                    course_id=pk if kind == "course" else None,
                    group_id=pk if kind == "group" else None,
                    group_version_id=self.group_versions[pk] if kind == "group" else None,
                    required=required,
                )
                continue
            item = items.get(**{"course_id" if kind == "course" else "group_id": pk})
            if op == "remove":
                item.delete()
                items.filter(position__gt=item.position).update(position=F("position") - 1)
            else:
                items.filter(pk=item.pk).update(required=required)

    def make_packages(self, clock: _Clock) -> None:
        """Create every package and publish its versions in the order history had them."""
        rng = self.rng
        scale = self.scale
        names = [HISTORY_PACKAGE, LOADED_PACKAGE, EMPTY_PACKAGE] + [
            f"Bench package {n:03d}" for n in range(1, scale.packages - 2)
        ]
        latest = self.span - 30 * 86400
        plans: list[tuple[str, list[int], list[list[tuple[str, str, int, bool]]], bool]] = []
        spec: list[tuple[str, int, bool]] = []
        spec_edits: list[list[tuple[str, str, int, bool]]] = []
        for index, name in enumerate(names):
            special = index < 3
            versions = (
                scale.versions
                if special
                else rng.randint(max(1, scale.versions - 2), scale.versions + 2)
            )
            times = sorted(rng.sample(range(0, latest), versions))
            if index <= 1 or not special:
                items = self.initial_items()
                edits = []
                current = list(items)
                for _ in range(versions - 1):
                    step = self.mutate(current)
                    edits.append(step)
                    current = _after(current, step)
                if index == 1:
                    spec, spec_edits = items, edits
            else:
                # The empty package has the loaded package's content: a fair comparison.
                items, edits = spec, spec_edits
                times = times[: len(edits) + 1]
            draft_on_top = not special and rng.random() < 0.2
            plans.append(
                (name, times, [[("add", k, pk, r) for k, pk, r in items], *edits], draft_on_top)
            )
        steps = sorted(
            (t, p, j) for p, (_, times, _, _) in enumerate(plans) for j, t in enumerate(times)
        )
        self.packages = [_Package(pk=0, name=plan[0]) for plan in plans]
        drafts: dict[int, int] = {}
        with _bar(self.show, len(steps), "package versions", "version") as bar:
            for t, p, j in steps:
                name, times, edits, _ = plans[p]
                clock.at = self.moment(t)
                if j == 0:
                    draft = packaging.create_package(actor=self.admin, name=name)
                    self.packages[p].pk = draft.package_id
                else:
                    draft = packaging.create_draft_from(
                        actor=self.admin, version_id=self.packages[p].versions[-1].pk
                    )
                self.apply(draft.pk, edits[j])
                clock.at = self.moment(t + 60)
                packaging.publish_version(
                    actor=self.admin, version_id=draft.pk, change_notes=f"v{j + 1}"
                )
                until = times[j + 1] if j + 1 < len(times) else self.span
                self.packages[p].versions.append(_Version(draft.pk, t + 60, until, (), _EMPTY_TREE))
                drafts[p] = draft.pk
                bar.update(1)
        clock.at = self.end - timedelta(days=1)
        for p, (_, _, _, draft_on_top) in enumerate(plans):
            if draft_on_top:
                draft = packaging.create_draft_from(
                    actor=self.admin, version_id=self.packages[p].versions[-1].pk
                )
                self.apply(draft.pk, self.mutate(self.current_items(draft.pk)))
        for package in self.packages:
            for version in package.versions:
                version.tree = packaging_selectors.requirement_tree(version.pk)
                version.courses = tuple(sorted(rules.course_ids(version.tree)))

    def current_items(self, version_id: int) -> list[tuple[str, int, bool]]:
        return [
            ("course", i.course_id, i.required)
            if i.course_id is not None
            else ("group", int(i.group_id or 0), i.required)
            for i in PackageVersionItem.objects.filter(version_id=version_id)
        ]

    # --- learners' enrollments and events -------------------------------------------

    def make_activity(self, learner_ids: list[int], report: GenerationReport) -> None:
        rng = self.rng
        scale = self.scale
        history, loaded = self.packages[0], self.packages[1]
        regular = self.packages[3:]
        weights = list(itertools.accumulate(1 / (k + 1) ** 0.8 for k in range(len(regular))))
        cap = max(0, len(regular) - 1)
        per_learner = _split_total(rng, scale.enrollments - 2 * scale.big, scale.learners, cap)
        events_per_learner = _split_total(rng, scale.events, scale.learners, 10 * scale.events)
        next_event = first_event = _next_id(CompletionEvent)
        next_enrollment = first_enrollment = _next_id(Enrollment)
        admin_id = self.admin.pk
        enrollment_columns = (
            "id",
            "learner_id",
            "package_id",
            "version_id",
            "enrolled_at",
            "enrolled_by_id",
            "withdrawn_at",
            "withdrawn_by_id",
            "status",
            "progress_done",
            "progress_needed",
            "completed_at",
        )
        event_columns = (
            "id",
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
        )
        statuses: dict[str, int] = {}
        enrollments_made = events_made = 0
        bar = _bar(self.show, scale.events, "completion events", "event")
        bar2 = _bar(self.show, scale.enrollments, "enrollments", "enrollment")
        with bar, bar2:
            for block_start in range(0, scale.learners, _BLOCK):
                block = range(block_start, min(scale.learners, block_start + _BLOCK))
                # (enrolled_at, learner index, package, version, withdrawn_at)
                enrollments: list[tuple[int, int, _Package, _Version, int | None]] = []
                # [occurred_at, learner index, course, kind, voided event (a list), id]
                events: list[list[Any]] = []
                for li in block:
                    chosen: list[_Package] = []
                    if li < scale.big:
                        chosen.append(history)
                    if li >= scale.learners - scale.big:
                        chosen.append(loaded)
                    chosen += _pick(rng, regular, weights, per_learner[li])
                    # Per enrollment, how engaged the learner is: everything done,
                    # part of it, or nothing yet. Their events cover that first, then
                    # repeat courses (re-certification) or touch others in the catalog.
                    focus: dict[int, None] = {}
                    for package in chosen:
                        if package is loaded:
                            version = package.versions[-1]
                        else:
                            version = rng.choices(
                                package.versions, weights=range(1, len(package.versions) + 1)
                            )[0]
                        enrolled = rng.randint(
                            version.effective, max(version.effective, version.until - 1)
                        )
                        withdrawn = None
                        if (
                            package is not history
                            and package is not loaded
                            and rng.random() < _WITHDRAW_RATE
                        ):
                            withdrawn = rng.randint(enrolled, self.span)
                        enrollments.append((enrolled, li, package, version, withdrawn))
                        engagement = rng.random()
                        for course in version.courses:
                            if engagement < 0.45 or (engagement < 0.8 and rng.random() < 0.5):
                                focus[course] = None
                    order = list(focus)
                    rng.shuffle(order)
                    wanted = events_per_learner[li]
                    made = 0
                    while made < wanted:
                        if made < len(order):
                            course = order[made]
                        elif order and rng.random() < 0.7:
                            course = rng.choice(order)
                        else:
                            course = rng.choice(self.course_ids)
                        occurred = rng.randint(0, self.span - 3600)
                        kind = rng.choice(_FIRST_KINDS if made < len(order) else _KINDS)
                        event: list[Any] = [occurred, li, course, kind, None, 0]
                        events.append(event)
                        made += 1
                        if made < wanted and rng.random() < _VOID_RATE:
                            voided_at = min(occurred + rng.randint(3600, 30 * 86400), self.span)
                            events.append([voided_at, li, course, "void", event, 0])
                            made += 1
                events.sort(key=lambda e: e[0])
                enrollments.sort(key=lambda e: e[0])
                by_learner: dict[int, list[rules.LearnerEvent]] = {}
                event_rows = []
                for event in events:
                    event[5] = next_event
                    next_event += 1
                    occurred_at = self.moment(event[0])
                    occurred_text = self.text_time(event[0])
                    voids = event[4][5] if event[4] is not None else None
                    by_learner.setdefault(event[1], []).append(
                        rules.LearnerEvent(
                            event_id=event[5],
                            course_id=event[2],
                            kind=_RULE_KINDS[event[3]],
                            occurred_at=occurred_at,
                            voids=voids,
                        )
                    )
                    event_rows.append(
                        (
                            event[5],
                            learner_ids[event[1]],
                            event[2],
                            event[3],
                            occurred_text if self.sqlite else occurred_at,
                            self.text_time(event[0] + 300)
                            if self.sqlite
                            else occurred_at + timedelta(minutes=5),
                            None,
                            "import",
                            None,
                            "",
                            "",
                            voids,
                        )
                    )
                enrollment_rows = []
                for enrolled, li, package, version, withdrawn in enrollments:
                    withdrawn_at = self.moment(withdrawn) if withdrawn is not None else None
                    # As learning.selectors.evaluate_enrollment: a withdrawn
                    # enrollment keeps what it had as of its withdrawal (as known
                    # now), and it is never complete before its enrolment.
                    evaluation = rules.evaluate(
                        version.tree,
                        by_learner.get(li, ()),
                        withdrawn_at,
                        on_version_since=self.moment(enrolled),
                    )
                    status = str(evaluation.status)
                    statuses[status] = statuses.get(status, 0) + 1
                    enrollment_rows.append(
                        (
                            next_enrollment,
                            learner_ids[li],
                            package.pk,
                            version.pk,
                            self.db_time(self.moment(enrolled)),
                            admin_id,
                            self.db_time(withdrawn_at),
                            admin_id if withdrawn_at is not None else None,
                            status,
                            evaluation.root.done,
                            evaluation.root.needed,
                            self.db_time(evaluation.completed_at),
                        )
                    )
                    next_enrollment += 1
                with transaction.atomic():
                    _insert_rows(CompletionEvent._meta.db_table, event_columns, event_rows)
                    _insert_rows(Enrollment._meta.db_table, enrollment_columns, enrollment_rows)
                events_made += len(event_rows)
                enrollments_made += len(enrollment_rows)
                bar.update(len(event_rows))
                bar2.update(len(enrollment_rows))
        self.made = {"enrollments": enrollments_made, "completion events": events_made}
        # [first id, next id) of the rows inserted here.
        self.made_enrollments = (first_enrollment, next_enrollment)
        self.made_events = (first_event, next_event)
        report.counts.update({f"enrollments {s}": n for s, n in sorted(statuses.items())})

    def declare_unrecorded(self) -> None:
        """Declare the bulk-loaded rows on the audit log.

        They bypass the services, so they have no audit records of their own; one
        record says which rows they are (all of each table: the database was empty),
        and ``verify_audit`` names them instead of finding them on no record.
        """
        User = get_user_model()
        ranges: dict[str, list[tuple[int, int]]] = {}
        for model in (User, Account, Course, OrgUnit, Placement, UnitManager):
            bounds = model._default_manager.aggregate(first=Min("pk"), last=Max("pk"))
            if bounds["first"] is not None:
                ranges[model._meta.label_lower] = [(bounds["first"], bounds["last"])]
        for label, (first, after) in (
            ("learning.enrollment", self.made_enrollments),
            ("learning.completionevent", self.made_events),
        ):
            if first < after:
                ranges[label] = [(first, after - 1)]
        with transaction.atomic():
            audit.declare_loaded_without_records(
                actor=audit.operator(None),
                ranges=ranges,
                notes=f"Benchmark data (generate_scale_data, scale {self.scale.name}): "
                "bulk-inserted, bypassing the services and their audit records.",
                at=datetime.now(UTC),
            )

    def finish(self) -> None:
        """Move the id sequences past the rows given explicit ids; refresh planner statistics."""
        User = get_user_model()
        models: list[type[Model]] = [User, Course, Enrollment, CompletionEvent]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
            # What a maintained database has after a bulk load (autovacuum on
            # PostgreSQL, PRAGMA optimize on SQLite): statistics for the planner.
            cursor.execute("ANALYZE")


_EMPTY_TREE = rules.RequirementTree(package_id=0, version_id=0, version_number=0, name="", items=())


def _after(
    items: list[tuple[str, int, bool]], edits: list[tuple[str, str, int, bool]]
) -> list[tuple[str, int, bool]]:
    out = list(items)
    for op, kind, pk, required in edits:
        if op == "add":
            out.append((kind, pk, required))
        elif op == "remove":
            out = [i for i in out if (i[0], i[1]) != (kind, pk)]
        else:
            out = [(k, p, required) if (k, p) == (kind, pk) else (k, p, r) for k, p, r in out]
    return out


def _pick(
    rng: random.Random, packages: list[_Package], weights: list[float], count: int
) -> list[_Package]:
    """Return ``count`` different packages, popular ones more often."""
    if count <= 0:
        return []
    if count * 2 > len(packages):
        return rng.sample(packages, count)
    chosen: dict[int, None] = {}
    total = weights[-1]
    while len(chosen) < count:
        chosen[bisect.bisect(weights, rng.random() * total)] = None
    return [packages[min(i, len(packages) - 1)] for i in chosen]


def generate(
    scale: Scale,
    *,
    seed: int = 1,
    end: datetime = DEFAULT_END,
    show_progress: bool = False,
    on_phase: Callable[[str, float], None] | None = None,
) -> GenerationReport:
    """Generate ``scale``'s data with ``seed``; return the counts and the phases' durations.

    Meant for a database without benchmark data (the generated names must be new).
    """
    problems = scale.problems()
    if problems:
        raise ValueError(f"scale {scale.name!r} cannot be generated: {'; '.join(problems)}")
    if Package.objects.filter(name=HISTORY_PACKAGE).exists():
        raise ValueError("this database already has benchmark data; use an empty database")
    # Generated rows bypass the services (and their audit records): never mix them
    # with real records.
    held = [
        model._meta.verbose_name_plural
        for model in (get_user_model(), Course, Package, Enrollment, CompletionEvent)
        if model.objects.exists()
    ]
    if held:
        raise ValueError(
            f"this database is not empty (it has {', '.join(map(str, held))}); "
            "generate benchmark data only into a new, empty database"
        )
    gen = _Generator(scale, seed, end, show_progress)
    report = GenerationReport(scale=scale, seed=seed)

    def phase(name: str, started: float) -> None:
        report.seconds[name] = time.perf_counter() - started
        if on_phase is not None:
            on_phase(name, report.seconds[name])

    started = time.perf_counter()
    gen.make_admin()
    gen.make_courses()
    phase("courses", started)
    with _simulated_clock(gen.start) as clock:
        started = time.perf_counter()
        gen.make_groups(clock)
        phase("groups", started)
        started = time.perf_counter()
        gen.make_packages(clock)
        phase("packages", started)
    started = time.perf_counter()
    learner_ids = gen.make_learners()
    gen.made.update(bench_organisation.generate_organisation(learner_ids, seed=seed))
    phase("learners", started)
    started = time.perf_counter()
    if gen.sqlite:
        with connection.cursor() as cursor:
            # A bulk load into indexed tables: keep their pages in memory (512 MiB at most).
            cursor.execute("PRAGMA cache_size = -524288")
    with summaries.suspended():  # counted once at the end, not row by row
        gen.make_activity(learner_ids, report)
    phase("enrollments and events", started)
    started = time.perf_counter()
    gen.finish()
    gen.declare_unrecorded()
    phase("sequences and statistics", started)
    report.counts.update(
        {
            "courses": scale.courses,
            "groups": len(gen.group_ids),
            "packages": len(gen.packages),
            "package versions": sum(len(p.versions) for p in gen.packages),
            "learners": len(learner_ids),
            **gen.made,
        }
    )
    return report
