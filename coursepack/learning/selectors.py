"""Reads of enrollments and events, and their evaluation by the requirement engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    ExpressionWrapper,
    F,
    Max,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.expressions import RawSQL

from coursepack import rules
from coursepack.learning import lifecycle_facts
from coursepack.learning.errors import EnrollmentNotFound
from coursepack.learning.models import (
    CompletionEvent,
    Enrollment,
    EnrollmentMove,
    EnrollmentState,
    EnrollmentStatus,
    VersionCount,
)
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import Package, PackageVersion
from coursepack.packaging.selectors import PackageSummary, VersionSummary
from coursepack.statements import ids_in

__all__ = [
    "CACHE_COLUMNS",
    "CACHE_KEY_COLUMNS",
    "enrollment_counts",
    "enrollment_progress",
    "evaluate_enrollment",
    "event_rows_by_learner",
    "events_by_learner",
    "external_ids_in",
    "get_enrollment",
    "latest_moves",
    "on_version_since",
    "open_enrollment_learner_ids",
    "package_summaries",
    "recorded_external_ids",
    "status_batches",
    "to_rule_event",
]


def open_enrollment_learner_ids(package_id: int) -> set[int]:
    """Return the ids of the learners with an open (not withdrawn) enrollment in the package."""
    return set(
        Enrollment.objects.filter(package_id=package_id, withdrawn_at__isnull=True)
        .order_by()
        .values_list("learner_id", flat=True)
    )


def external_ids_in(external_ids: list[str]) -> Q | ExpressionWrapper:
    """Return a filter of the events carrying one of these external ids.

    On PostgreSQL one array parameter (``= ANY(%s)``): an ``IN`` of thousands of
    placeholders costs more to build, send and parse than the index lookup itself.
    """
    if connection.vendor != "postgresql":
        return Q(external_id__in=external_ids)
    column = ".".join(
        connection.ops.quote_name(n) for n in (CompletionEvent._meta.db_table, "external_id")
    )
    return ExpressionWrapper(
        RawSQL(f"{column} = ANY(%s)", (external_ids,)), output_field=BooleanField()
    )


def recorded_external_ids(external_ids: Iterable[str]) -> set[str]:
    """Return those of these external ids that an event already carries."""
    found = (
        CompletionEvent.objects.filter(external_ids_in(list(external_ids)))
        .order_by()
        .values_list("external_id", flat=True)
    )
    return {key for key in found if key is not None}


def get_enrollment(enrollment_id: int) -> Enrollment:
    """Return the enrollment, or raise EnrollmentNotFound."""
    try:
        return Enrollment.objects.select_related("package", "version", "learner").get(
            pk=enrollment_id
        )
    except Enrollment.DoesNotExist:
        raise EnrollmentNotFound(f"There is no enrollment with id {enrollment_id}.") from None


# The rebuild converts millions of rows: a dict lookup instead of an enum call per row.
_EVENT_KINDS = {kind.value: kind for kind in rules.EventKind}


def to_rule_event(
    event_id: int,
    course_id: int,
    kind: str,
    occurred_at: datetime,
    voids_id: int | None,
    recorded_at: datetime,
) -> rules.LearnerEvent:
    """Return the engine's view of one stored event."""
    return rules.LearnerEvent(
        event_id=event_id,
        course_id=course_id,
        kind=_EVENT_KINDS.get(kind) or rules.EventKind(kind),
        occurred_at=occurred_at,
        voids=voids_id,
        recorded_at=recorded_at,
    )


def _on_courses(
    events: QuerySet[CompletionEvent], course_ids: Iterable[int]
) -> QuerySet[CompletionEvent]:
    """Keep the events on these courses, found through the learners.

    The course is compared through an expression, not the bare column, so the
    planner cannot choose the course index and read every event of a popular
    course to find a few learners' (at 10M events SQLite did, and a bulk enrolment
    of 100,000 learners took minutes); the (learner, course) index is used.
    """
    on_course = ExpressionWrapper(F("course_id") + 0, output_field=BigIntegerField())
    return events.alias(on_course=on_course).filter(on_course__in=list(course_ids))


def event_rows_by_learner(
    learner_ids: Iterable[int],
    course_ids: Iterable[int] | None = None,
    *,
    with_recorded_at: bool = False,
) -> dict[int, list[rules.EventRow]]:
    """Return the events of these learners as plain rows, grouped by learner.

    The status cache's view. Without ``course_ids`` every event of the learner is
    read, so one read serves all of the learner's enrollments whatever their
    versions (events on other courses change nothing); with them, only events on
    those courses and the voids among them. The cache is "as known now", which
    needs no recording times: they are read (and parsed) only ``with_recorded_at``,
    and are None otherwise.
    """
    grouped: dict[int, list[rules.EventRow]] = defaultdict(list)
    events = CompletionEvent.objects.filter(ids_in("learner_id", learner_ids))
    if course_ids is not None:
        events = _on_courses(events, course_ids)
    # No ordering: the engine does not depend on it, and sorting a batch's events costs.
    columns = ["learner_id", "id", "course_id", "kind", "occurred_at", "voids_id"]
    if with_recorded_at:
        rows = events.order_by().values_list(*columns, "recorded_at")
        for learner_id, *event in rows.iterator(chunk_size=5000):
            grouped[learner_id].append(tuple(event))
    else:
        rows = events.order_by().values_list(*columns)
        for learner_id, *event in rows.iterator(chunk_size=5000):
            grouped[learner_id].append((*event, None))
    return grouped


def events_by_learner(
    learner_ids: Iterable[int], course_ids: Iterable[int]
) -> dict[int, list[rules.LearnerEvent]]:
    """Return the events of these learners on these courses as engine events, by learner."""
    return {
        learner_id: [to_rule_event(*row) for row in rows]  # type: ignore[arg-type]
        for learner_id, rows in event_rows_by_learner(
            learner_ids, course_ids, with_recorded_at=True
        ).items()
    }


def latest_moves(enrollment_ids: Iterable[int]) -> dict[int, datetime]:
    """Return when each of these enrollments was last moved to another version (one query;
    enrollments never moved are absent)."""
    ids = list(enrollment_ids)
    if not ids:
        return {}
    rows = (
        EnrollmentMove.objects.filter(ids_in("enrollment_id", ids))
        .values("enrollment_id")
        .annotate(last=Max("moved_at"))
        .order_by()
        .values_list("enrollment_id", "last")
    )
    return dict(rows)


def on_version_since(enrollment: Enrollment) -> datetime:
    """Return when the enrollment got onto its current version: its last move, or its
    enrolment. Its completion is never earlier (PRODUCT.md, "Two timelines")."""
    moved = latest_moves([enrollment.pk]).get(enrollment.pk)
    return enrollment.enrolled_at if moved is None else max(moved, enrollment.enrolled_at)


#: The columns of an enrollment that its cached status is computed from and stored in.
CACHE_COLUMNS = (
    "id",
    "learner_id",
    "version_id",
    "withdrawn_at",
    "enrolled_at",
    "superseded_at",
    "counts_from",
    "due_at",
    "status",
    "progress_done",
    "progress_needed",
    "completed_at",
    "due_in_force",
    "overdue_since",
    "completed_late",
    "expires_at",
    "exemption_lapses_at",
)
#: How many of ``CACHE_COLUMNS`` the cached values are computed from (the rest are them).
CACHE_KEY_COLUMNS = 8


def status_batches(
    learners_per_batch: int,
) -> Iterator[tuple[list[tuple[Any, ...]], dict[int, list[rules.EventRow]], dict[int, datetime]]]:
    """Yield every enrollment (``CACHE_COLUMNS``) with its learners' events and the
    enrollments' last moves, a batch of learners at a time in learner order: each
    event row is read once."""
    last = 0
    while True:
        learner_ids = list(
            Enrollment.objects.filter(learner_id__gt=last)
            .order_by("learner_id")
            .values_list("learner_id", flat=True)
            .distinct()[:learners_per_batch]
        )
        if not learner_ids:
            return
        last = learner_ids[-1]
        enrollments = list(
            Enrollment.objects.filter(learner_id__in=learner_ids)
            .order_by("id")
            .values_list(*CACHE_COLUMNS)
        )
        yield (
            enrollments,
            event_rows_by_learner(learner_ids),
            latest_moves(row[0] for row in enrollments),
        )


def evaluate_enrollment(
    enrollment: Enrollment,
    events: Iterable[rules.LearnerEvent],
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    tree: rules.RequirementTree | None = None,
    since: datetime | None = None,
    facts: lifecycle_facts.EnrollmentFacts | None = None,
    equivalences: lifecycle_facts.EquivalenceFacts | None = None,
) -> rules.Evaluation:
    """Evaluate an enrollment's pinned version over the learner's events, as of ``as_of``
    (default now) as known at ``known_at`` (default now).

    A withdrawn enrollment keeps what the learner had as of the withdrawal (or as of
    ``as_of``, if earlier), as known at ``known_at``: a completion dated before the
    withdrawal but recorded after it counts as known now; so does a certification
    period superseded by the next one, and a period counts only events from its
    window's opening. Its exemptions and the equivalences count as in the engine.
    ``tree``, when the caller already has the version's tree, saves loading it
    again; ``since``, when the caller knows when the enrollment got onto its
    version, saves looking it up; ``facts`` and ``equivalences`` likewise.
    """
    for closed_at in (enrollment.withdrawn_at, enrollment.superseded_at):
        if closed_at is not None and (as_of is None or as_of > closed_at):
            as_of = closed_at
    if tree is None:
        tree = packaging.requirement_tree(enrollment.version_id)
    if since is None:
        since = on_version_since(enrollment)
    if facts is None:
        facts = lifecycle_facts.facts_of(
            lifecycle_facts.enrollment_facts([enrollment.pk], names=True), enrollment.pk
        )
    if equivalences is None:
        equivalences = lifecycle_facts.equivalence_facts(labels=True)
    return rules.evaluate(
        tree,
        events,
        as_of,
        known_at,
        on_version_since=since,
        exemptions=facts.exemptions,
        revocations=facts.revocations,
        equivalences=equivalences.equivalences,
        equivalence_changes=equivalences.changes,
        counts_from=enrollment.counts_from,
    )


def enrollment_progress(
    enrollment: Enrollment | int,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> rules.Evaluation:
    """Return the full evaluation of one enrollment: states, next steps, explanations.

    Pass the enrollment itself when the caller has loaded it already (one query
    less); an id is looked up.
    """
    if not isinstance(enrollment, Enrollment):
        enrollment = get_enrollment(enrollment)
    tree = packaging.requirement_tree(enrollment.version_id)
    equivalences = lifecycle_facts.equivalence_facts(labels=True)
    courses = set(rules.course_ids(tree))
    courses |= equivalences.sources_for(courses)
    events = events_by_learner([enrollment.learner_id], courses)
    return evaluate_enrollment(
        enrollment,
        events.get(enrollment.learner_id, []),
        as_of=as_of,
        known_at=known_at,
        tree=tree,
        equivalences=equivalences,
    )


def enrollment_counts(versions: Iterable[PackageVersion | int]) -> dict[tuple[int, str], int]:
    """Return {(version id, status): open enrollments} for the versions given; one query
    over the summary rows (a few per version, ADR 0027)."""
    counts: dict[tuple[int, str], int] = {}
    ids = [v if isinstance(v, int) else v.pk for v in versions]
    for row in (
        VersionCount.objects.filter(ids_in("version_id", ids), state=EnrollmentState.OPEN)
        .values("version_id", "status")
        .annotate(total=Sum("n"))
        .order_by()
    ):
        if row["total"]:
            counts[(row["version_id"], row["status"])] = row["total"]
    return counts


def package_summaries(now: datetime, package_ids: list[int] | None = None) -> list[PackageSummary]:
    """Return every package (or the ones named) with its versions and enrollment counts.

    Three queries whatever the number of packages: packages, versions, counts. A
    version's ``based_on`` (always a version of its own package) is taken from the
    versions read; its ``published_by`` is read when asked for (one page shows one).
    """
    packages = Package.objects.all()
    if package_ids is not None:
        packages = packages.filter(ids_in("pk", package_ids))
    packages_list = list(packages)
    versions = list(
        PackageVersion.objects.filter(ids_in("package_id", [p.pk for p in packages_list])).order_by(
            "package_id", "-version_number"
        )
    )
    by_id = {v.pk: v for v in versions}
    for v in versions:
        if v.based_on_id is not None and v.based_on_id in by_id:
            v.based_on = by_id[v.based_on_id]
    counts = enrollment_counts(versions)
    # Versions come newest first, as active_version_ids needs.
    actives = packaging.active_version_ids(versions, now)
    # Added up once per version: summing every count for each version was quadratic
    # (10 s for 1,200 versions at the full scale).
    enrolled_in: dict[int, int] = {}
    for (vid, _), n in counts.items():
        enrolled_in[vid] = enrolled_in.get(vid, 0) + n
    by_package: dict[int, list[VersionSummary]] = {p.pk: [] for p in packages_list}
    for v in versions:
        enrolled = enrolled_in.get(v.pk, 0)
        by_package[v.package_id].append(
            VersionSummary(
                version=v,
                state=packaging.version_state(v, active_id=actives.get(v.package_id), now=now),
                enrolled=enrolled,
                completed=counts.get((v.pk, "completed"), 0),
            )
        )
    return [PackageSummary(package=p, versions=by_package[p.pk]) for p in packages_list]


def version_enrollments(
    version_id: int, *, status: str = "", package_id: int | None = None
) -> QuerySet[Enrollment]:
    """Return the enrollments on one package version, by learner name, with their
    learner, for paging: the open ones (neither withdrawn nor superseded by a next
    certification period, as the counts count them), narrowed to one stored status
    when ``status`` is one, or the withdrawn ones for ``status="withdrawn"``.

    ``package_id``, when the caller knows it, lets the reports' covering index
    (package, version, status, withdrawn_at, ...) answer the page's count alone.
    """
    found = Enrollment.objects.filter(version_id=version_id)
    if package_id is not None:
        found = found.filter(package_id=package_id)
    if status == "withdrawn":
        found = found.filter(withdrawn_at__isnull=False)
    else:
        found = found.filter(withdrawn_at__isnull=True, superseded_at__isnull=True)
        if status in EnrollmentStatus.values:
            found = found.filter(status=status)
    return found.select_related("learner").order_by(
        "learner__last_name", "learner__first_name", "learner__username", "id"
    )
