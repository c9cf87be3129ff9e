"""Rebuilding the cache: check every stored status against the events, fix drift,
settle lapsed exemptions, check and rebuild the summary rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.learning import lifecycle_facts, selectors, summaries
from coursepack.learning.models import (
    Enrollment,
)
from coursepack.learning.status_cache import (
    _CACHE_FIELDS,
    _lifecycle,
    _refresh,
    _status_change_entries,
    _status_snapshot,
    _store,
    _summaries,
)
from coursepack.learning.write_support import (
    _lock_learner,
)

__all__ = [
    "LEARNERS_PER_BATCH",
    "RebuildReport",
    "rebuild_statuses",
    "settle_lapsed_exemptions",
]


#: The rebuild's batch: about 2,000 enrollments at five enrollments per learner.
LEARNERS_PER_BATCH = 400


@dataclass
class RebuildReport:
    """What a rebuild found: how many enrollments it checked and which had drifted."""

    checked: int = 0
    drifted: list[int] = field(default_factory=list)
    fixed: bool = False
    # Right until an exemption they count ended, and not recomputed since (not drift).
    lapsed: list[int] = field(default_factory=list)
    # Summary rows (report counts, standing counts) whose count differed from the
    # enrollments' once the statuses were right (ADR 0027).
    summary_keys_drifted: int = 0


def rebuild_statuses(
    *,
    actor: Actor,
    fix: bool = True,
    learners_per_batch: int = LEARNERS_PER_BATCH,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Recompute every enrollment's stored status from events and report drift.

    Works through the learners in batches, reading each event once (a learner's
    facts serve all their enrollments), so memory stays flat however many
    enrollments there are. With ``fix`` the drifted rows are corrected, each batch
    in one transaction; either way they are reported. ``progress`` is called with
    the number of enrollments checked in each batch.
    """
    report = RebuildReport(fixed=fix)
    equivalences = lifecycle_facts.equivalence_facts()
    for enrollments, events, moved in selectors.status_batches(learners_per_batch):
        checked_before = report.checked
        split = selectors.CACHE_KEY_COLUMNS
        keys = [row[:split] for row in enrollments]
        lifecycle = _lifecycle((row[0] for row in enrollments), equivalences)
        now = timezone.now()
        # A row waiting on an exemption's end that has passed is not drift: its values
        # were right until then (compare them as of just before it), and it is due for
        # settling, which a fixing rebuild does below.
        lapsed = {
            row[0]: row[-1] - _INSTANT
            for row in enrollments
            if row[-1] is not None and row[-1] <= now
        }
        drifted = [
            row[0]
            for row, cached in zip(
                enrollments,
                _summaries(keys, events, moved, lifecycle, now=now, moments=lapsed),
                strict=True,
            )
            if tuple(row[split:]) != cached
        ]
        report.lapsed.extend(sorted(set(lapsed) - set(drifted)))
        if drifted:
            with transaction.atomic():
                # A write may have committed between reading these rows and reading
                # their events: look again with every writer held off, so that only
                # real drift is reported (and fixed).
                chain = audit.lock_chain()
                changed = _refresh(list(Enrollment.objects.filter(pk__in=drifted).order_by("pk")))
                report.drifted.extend(e.pk for e in changed)
                if fix and changed:
                    with summaries.deferred():
                        Enrollment.objects.bulk_update(changed, _CACHE_FIELDS, batch_size=1000)
                    # Each batch's fixes are on the record in the batch's own
                    # transaction: a rebuild killed half-way leaves no fix unaudited.
                    audit.record_all(
                        [
                            audit.Entry(
                                actor=actor,
                                action="enrollment.statuses_rebuilt",
                                target=changed[0],
                                at=timezone.now(),
                                after={
                                    "checked": checked_before + len(enrollments),
                                    "drifted": [e.pk for e in changed],
                                },
                            )
                        ],
                        head=chain,
                    )
        report.checked += len(enrollments)
        if progress is not None:
            progress(len(enrollments))
    if fix and report.lapsed:
        settle_lapsed_exemptions(actor=actor)
    _rebuild_summaries(actor, report, fix)
    return report


_INSTANT = timedelta(microseconds=1)


def settle_lapsed_exemptions(*, actor: Actor, now: datetime | None = None) -> int:
    """Recompute the cached fields of the open periods whose counted exemption has ended
    by ``now`` (default: now), one transaction, audited; return how many changed.

    Reads are right without it (the standing reads derive those periods at read
    time); it keeps them few, and the other reads of the cache exact. The worker runs
    it with the periodic settling.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        chain = audit.lock_chain()
        ids = list(
            Enrollment.objects.filter(exemption_lapses_at__lte=moment)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        learners = Enrollment.objects.filter(pk__in=ids).values_list("learner_id", flat=True)
        for learner_id in sorted(set(learners)):
            _lock_learner(learner_id)
        enrollments = list(Enrollment.objects.filter(pk__in=ids).order_by("pk"))
        befores = {e.pk: _status_snapshot(e) for e in enrollments}
        changed = _refresh(enrollments)
        _store(changed)
        audit.record_all(
            _status_change_entries(actor, changed, befores, moment, "exemption lapsed"),
            head=chain,
        )
    return len(changed)


def _rebuild_summaries(actor: Actor, report: RebuildReport, fix: bool) -> None:
    """Check the summary rows against the enrollments, after the statuses are fixed;
    with ``fix``, replace them, with every writer held off and on the record."""
    if not summaries.check().drifted:
        return
    with transaction.atomic():
        chain = audit.lock_chain()
        drift = summaries.check()
        report.summary_keys_drifted = drift.drifted
        if fix and drift.drifted:
            summaries.rebuild()
            audit.record_all(
                [
                    audit.Entry(
                        actor=actor,
                        action="enrollment.summaries_rebuilt",
                        target=audit.Named("learning.summaries", "all", "enrollment summaries"),
                        at=timezone.now(),
                        after={table: len(keys) for table, keys in drift.tables.items()},
                    )
                ],
                head=chain,
            )
