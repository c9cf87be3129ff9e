"""The stored status cache: an enrollment's cached fields computed from the learner's
events and lifecycle facts, their audit snapshots, and the records of a change.

Stored enrollment statuses are a cache of the requirement engine: every write that can
change them recomputes them here, in the writer's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from coursepack import rules, statements
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.learning import lifecycle_facts, selectors, summaries
from coursepack.learning.models import (
    Enrollment,
)
from coursepack.packaging import selectors as packaging

#: An enrollment's cached fields (``_CACHE_FIELDS``) as one tuple.
_Cached = tuple[
    str,
    int,
    int,
    datetime | None,
    datetime | None,
    datetime | None,
    bool,
    datetime | None,
    datetime | None,
]


def _cached(
    summary: rules.StatusSummary,
    *,
    due_at: datetime | None = None,
    extensions: Iterable[rules.Extension] = (),
    certification: rules.CertificationRule | None = None,
    closed: bool = False,
    exempt: bool = False,
    lapses_at: datetime | None = None,
) -> _Cached:
    """Return a status summary and the enrollment's dates as its cached fields.

    As of now, as known now: the due date in force (latest extension); the moment the
    enrollment is overdue from while it is not complete (that date; none once it is
    complete, withdrawn or superseded by a next period); whether it was completed
    after the due date in force then; and when a completion expires (never for an
    exempt enrollment). The same values as ``rules.period_state``. ``lapses_at`` is the
    earliest end of an exemption counted: the values hold until then.
    """
    extensions = list(extensions)
    due_in_force, _ = rules.due_in_force(due_at, extensions, None)
    completed_at = summary.completed_at
    overdue_since = None
    late = False
    expires_at = None
    if summary.status == rules.EnrollmentStatus.COMPLETED and completed_at is not None:
        due_then, _ = rules.due_in_force(due_at, extensions, completed_at)
        # An exemption of the whole enrollment is not a completion: never "late".
        late = not exempt and due_then is not None and completed_at > due_then
        if certification is not None and not exempt:
            expires_at = completed_at + timedelta(days=certification.valid_days)
    elif not closed:
        overdue_since = due_in_force
    return (
        str(summary.status),
        summary.done,
        summary.needed,
        completed_at,
        due_in_force,
        overdue_since,
        late,
        expires_at,
        lapses_at,
    )


def _apply(enrollment: Enrollment, cached: _Cached) -> bool:
    """Copy cached values onto the enrollment's fields; return whether they changed."""
    old = tuple(getattr(enrollment, name) for name in _CACHE_FIELDS)
    if cached == old:
        return False
    for name, value in zip(_CACHE_FIELDS, cached, strict=True):
        setattr(enrollment, name, value)
    return True


_CACHE_FIELDS = [
    "status",
    "progress_done",
    "progress_needed",
    "completed_at",
    "due_in_force",
    "overdue_since",
    "completed_late",
    "expires_at",
    "exemption_lapses_at",
]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _status_snapshot(enrollment: Enrollment) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "version": enrollment.version_id,
        "status": enrollment.status,
        "progress": f"{enrollment.progress_done}/{enrollment.progress_needed}",
        "completed_at": _iso(enrollment.completed_at),
    }
    # Lifecycle fields only when they say something, so records without them read as before.
    for name in ("due_in_force", "overdue_since", "expires_at"):
        value = getattr(enrollment, name)
        if value is not None:
            snapshot[name] = value.isoformat()
    if enrollment.completed_late:
        snapshot["completed_late"] = True
    return snapshot


def _new_enrollment_cache(
    enrollment: Enrollment, certification: rules.CertificationRule | None
) -> _Cached:
    """Return the cached fields of an enrollment being created (it has no lifecycle facts
    of its own yet; a certification period counts from its window's opening)."""
    equivalences = lifecycle_facts.equivalence_facts()
    rule = packaging.status_rule(enrollment.version_id)
    courses = set(rule.course_ids) | equivalences.sources_for(rule.course_ids)
    events = selectors.event_rows_by_learner([enrollment.learner_id], courses)
    facts = rules.course_facts_from_rows(
        events.get(enrollment.learner_id, []),
        counts_from=enrollment.counts_from,
        equivalences=equivalences.equivalences,
        equivalence_changes=equivalences.changes,
    )
    return _cached(
        rule.summarize(facts, enrollment.enrolled_at),
        due_at=enrollment.due_at,
        certification=certification,
    )


#: What an enrollment's cached fields are computed from: (id, learner, version,
#: withdrawn_at, enrolled_at, superseded_at, counts_from, due_at).
_Key = tuple[
    int, int, int, datetime | None, datetime, datetime | None, datetime | None, datetime | None
]


def _key(e: Enrollment) -> _Key:
    return (
        e.pk,
        e.learner_id,
        e.version_id,
        e.withdrawn_at,
        e.enrolled_at,
        e.superseded_at,
        e.counts_from,
        e.due_at,
    )


@dataclass(frozen=True)
class _Lifecycle:
    """The lifecycle facts a batch of enrollments' cached fields depend on."""

    facts: dict[int, lifecycle_facts.EnrollmentFacts]
    equivalences: lifecycle_facts.EquivalenceFacts
    # Each version's due rule and validity, when the caller read them already (they
    # never change once a version is released); else read by ``_summaries``.
    version_rules: Mapping[int, tuple[rules.DueRule, rules.CertificationRule | None]] | None = None


def _lifecycle(
    enrollment_ids: Iterable[int], equivalences: lifecycle_facts.EquivalenceFacts | None = None
) -> _Lifecycle:
    return _Lifecycle(
        lifecycle_facts.enrollment_facts(enrollment_ids),
        lifecycle_facts.equivalence_facts() if equivalences is None else equivalences,
    )


def _summaries(
    enrollments: Iterable[_Key],
    events: dict[int, list[rules.EventRow]],
    moved: dict[int, datetime],
    lifecycle: _Lifecycle,
    *,
    now: datetime | None = None,
    moments: Mapping[int, datetime] | None = None,
) -> Iterator[_Cached]:
    """Compute the cached fields of each enrollment from the learners' event rows, the
    enrollments' last moves (``moved``) and their lifecycle facts; each learner's facts
    are gathered once for all enrollments that count every event.

    The cache is "as of now, as known now", except that a withdrawn enrollment, or a
    certification period superseded by the next one, keeps what the learner had as of
    then (as known now); a period counts only events from its window's opening
    (``counts_from``). ``completed_at`` is never before the enrollment got onto its
    version (enrolment or last move). "Now" is ``now`` (default: the clock), or per
    enrollment its entry in ``moments``: it decides which exemptions have lapsed.
    """
    keys = list(enrollments)
    now = now or timezone.now()
    moments = moments or {}
    status_rules: dict[int, rules.StatusRule] = {}
    version_rules = lifecycle.version_rules
    if version_rules is None:
        version_rules = packaging.lifecycle_rules({k[2] for k in keys})
    facts: dict[int, rules.CourseFacts] = {}
    eq = lifecycle.equivalences
    for key in keys:
        enrollment_id, learner_id, version_id, withdrawn_at, enrolled_at = key[:5]
        superseded_at, counts_from, due_at = key[5:]
        rule = status_rules.get(version_id)
        if rule is None:
            # Once per call: the rule cache only learns a version once its publish
            # has committed, so inside that publish every lookup would load it again.
            rule = status_rules[version_id] = packaging.status_rule(version_id)
        since = enrolled_at
        last_move = moved.get(enrollment_id)
        if last_move is not None and last_move > since:
            since = last_move
        closed_at = withdrawn_at
        if superseded_at is not None and (closed_at is None or superseded_at < closed_at):
            closed_at = superseded_at
        if closed_at is not None or counts_from is not None:
            course_facts = rules.course_facts_from_rows(
                events.get(learner_id, ()),
                closed_at,
                counts_from=counts_from,
                equivalences=eq.equivalences,
                equivalence_changes=eq.changes,
            )
        else:
            learner_facts = facts.get(learner_id)
            if learner_facts is None:
                learner_facts = facts[learner_id] = rules.course_facts_from_rows(
                    events.get(learner_id, ()),
                    equivalences=eq.equivalences,
                    equivalence_changes=eq.changes,
                )
            course_facts = learner_facts
        mine = lifecycle_facts.facts_of(lifecycle.facts, enrollment_id)
        exempt: Mapping[rules.ExemptionKey, rules.Exemption] = {}
        lapses_at = None
        if mine.exemptions:
            # A closed period keeps what it had when it closed: no later end matters.
            at = closed_at or moments.get(enrollment_id, now)
            exempt = rules.exemptions_in_force(mine.exemptions, mine.revocations, at, None)
            if closed_at is None:
                lapses_at = rules.next_lapse(exempt, at)
        yield _cached(
            rule.summarize(course_facts, since, exempt),
            due_at=due_at,
            extensions=mine.extensions,
            certification=version_rules[version_id][1],
            closed=closed_at is not None,
            exempt=("package", 0) in exempt,
            lapses_at=lapses_at,
        )


def _refresh(
    enrollments: list[Enrollment], course_ids: Iterable[int] | None = None
) -> list[Enrollment]:
    """Recompute enrollments' cached fields in memory; return those that changed.

    ``course_ids``, when the caller knows every course of the enrollments' versions,
    limits the events read to those courses (and the courses equivalent to them).
    """
    lifecycle = _lifecycle(e.pk for e in enrollments)
    if course_ids is not None:
        course_ids = set(course_ids)
        course_ids |= lifecycle.equivalences.sources_for(course_ids)
    events = selectors.event_rows_by_learner({e.learner_id for e in enrollments}, course_ids)
    return _recompute(enrollments, events, lifecycle, selectors.latest_moves)


def _recompute(
    enrollments: list[Enrollment],
    events: dict[int, list[rules.EventRow]],
    lifecycle: _Lifecycle,
    latest_moves: Callable[[Iterable[int]], dict[int, datetime]],
) -> list[Enrollment]:
    """Recompute enrollments' cached fields in memory from inputs already read (the
    learners' event rows, the lifecycle facts, and how to find the last moves of
    enrollments); return those that changed. No query but ``latest_moves``."""
    keys = [_key(e) for e in enrollments]
    summaries = list(_summaries(keys, events, {}, lifecycle))
    # A move matters only to a completion (completed_at is never before it): read the
    # moves of the completed enrollments alone, so a write that completes nothing
    # costs no extra query.
    completed = [
        key
        for key, summary in zip(keys, summaries, strict=True)
        if summary[0] == rules.EnrollmentStatus.COMPLETED
    ]
    if completed:
        moved = latest_moves(key[0] for key in completed)
        if moved:
            again = iter(
                _summaries([k for k in completed if k[0] in moved], events, moved, lifecycle)
            )
            summaries = [
                next(again) if key[0] in moved else summary
                for key, summary in zip(keys, summaries, strict=True)
            ]
    return [
        enrollment
        for enrollment, summary in zip(enrollments, summaries, strict=True)
        if _apply(enrollment, summary)
    ]


#: Up to this many changed enrollments are stored row by row (one statement each).
_FEW = 20


def _store(changed: list[Enrollment]) -> None:
    """Write the cached fields of changed enrollments (one statement)."""
    if len(changed) <= _FEW:
        # The usual case of a completion (one or a few): an UPDATE written once per row
        # (ADR 0035), cheaper than compiling a queryset's update or bulk_update's CASE.
        statements.update_many(
            Enrollment,
            _CACHE_FIELDS,
            [(e.pk, [getattr(e, name) for name in _CACHE_FIELDS]) for e in changed],
        )
    else:
        # Deferred (ADR 0037): many enrollments changed alike (a bulk extension or
        # exemption, an equivalence, an import) move between the same summary keys.
        with transaction.atomic(savepoint=False), summaries.deferred():
            Enrollment.objects.bulk_update(changed, _CACHE_FIELDS, batch_size=1000)


def _status_change_entries(
    actor: Actor,
    changed: Iterable[Enrollment],
    befores: Mapping[int, dict[str, Any]],
    at: datetime,
    notes: str,
) -> list[audit.Entry]:
    """Return one ``enrollment.status_changed`` record per changed enrollment: its
    snapshot before (from ``befores``, by id) and now, and why (``notes``)."""
    return [
        audit.Entry(
            actor=actor,
            action="enrollment.status_changed",
            target=e,
            at=at,
            before=befores[e.pk],
            after=_status_snapshot(e),
            notes=notes,
            package_id=e.package_id,
        )
        for e in changed
    ]
