"""The write path of audiences: save a rule (after previewing its impact), and
reconcile who is enrolled with who matches (ADR 0025).

Every public write is one transaction per call (a reconciliation: one per chunk of
people) and appends to the audit log. Enrolments and withdrawals go through
``learning.api`` (``bulk_enroll``, ``withdraw``), so they are audited and their
statuses and due dates computed as any other (a due date "N days after hire" uses
the learner's own hire date, whenever they join).

Membership semantics: AND across the kinds of criteria, OR within a kind; only
active people are members. A member without an open enrollment in the package is
enrolled in its active version. A person the audience enrolled who is no longer a
member (moved, retitled, deactivated, or the rule changed) is a leaver; by the
audience's leaver policy their open enrollment is withdrawn unless it is complete
(``withdraw``, the default) or kept (``keep``). Someone enrolled by hand is never
withdrawn by an audience.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from coursepack.audiences import selectors
from coursepack.audiences.models import Assignment, Audience, LeaverPolicy
from coursepack.audiences.selectors import Rule
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.learning import api as learning
from coursepack.learning.errors import NoActiveVersion, VersionNotEnrollable
from coursepack.learning.models import Enrollment, EnrollmentStatus
from coursepack.organisation.models import OrgUnit
from coursepack.packaging import selectors as packaging
from coursepack.packaging.errors import PackageNotFound
from coursepack.packaging.models import Package, PackageStatus
from coursepack.validation import collecting

__all__ = [
    "ChunkResult",
    "Impact",
    "ReconcileResult",
    "Rule",
    "SaveResult",
    "apply_chunk",
    "candidate_ids",
    "check_rule",
    "delete_audience",
    "inline_limit",
    "preview",
    "reconcile",
    "save_audience",
]

MAX_JOB_TITLES = 200
MAX_ORG_UNITS = 500


def inline_limit() -> int:
    """Return how many changes a save applies in its own transaction; more run as a job."""
    return int(getattr(settings, "AUDIENCE_INLINE_LIMIT", 500))


def _chunk_size() -> int:
    return int(getattr(settings, "JOB_CHUNK_LEARNERS", 250))


@dataclass(frozen=True)
class Impact:
    """What applying a rule would change now: the learners enrolled, withdrawn, and the
    leavers whose records are kept (each list sorted by id)."""

    members: int
    enrol: list[int]
    withdraw: list[int]
    keep: list[int]

    @property
    def changes(self) -> int:
        """Return how many people the rule would change."""
        return len(self.enrol) + len(self.withdraw) + len(self.keep)

    @property
    def summary(self) -> str:
        """Return e.g. "312 learners would be enrolled, 4 withdrawn, 1 kept"."""
        enrol = len(self.enrol)
        text = f"{enrol} {'learner' if enrol == 1 else 'learners'} would be enrolled, "
        text += f"{len(self.withdraw)} withdrawn"
        if self.keep:
            text += f", {len(self.keep)} kept (leavers whose records stay)"
        return text

    def counts(self) -> dict[str, int]:
        """Return the impact's counts (what the audit log records)."""
        return {
            "members": self.members,
            "enrol": len(self.enrol),
            "withdraw": len(self.withdraw),
            "keep": len(self.keep),
        }


def check_rule(
    *,
    org_unit_ids: Iterable[int] = (),
    job_titles: Iterable[str] = (),
    hired_after: date | None = None,
    leaver_policy: str = LeaverPolicy.WITHDRAW,
) -> Rule:
    """Validate a rule's parts and return it normalised (ids sorted, titles stripped,
    duplicates dropped); raise InvalidInput naming every problem."""
    with collecting("The audience rule is not valid.") as problems:
        units = sorted(set(org_unit_ids))
        if len(units) > MAX_ORG_UNITS:
            problems.add("org_unit_ids", f"at most {MAX_ORG_UNITS} org units")
        else:
            known = set(
                OrgUnit.objects.filter(pk__in=units, active=True).values_list("pk", flat=True)
            )
            missing = [u for u in units if u not in known]
            if missing:
                problems.add(
                    "org_unit_ids", f"no active org unit with id {', '.join(map(str, missing))}"
                )
        titles: dict[str, str] = {}
        for title in job_titles:
            cleaned = problems.text("job_titles", title, max_length=200)
            if cleaned:
                titles.setdefault(cleaned.casefold(), cleaned)
        if len(titles) > MAX_JOB_TITLES:
            problems.add("job_titles", f"at most {MAX_JOB_TITLES} job titles")
        if leaver_policy not in LeaverPolicy.values:
            problems.add("leaver_policy", f"must be one of {', '.join(LeaverPolicy.values)}")
        if not units and not titles and hired_after is None:
            problems.add(
                "rule",
                "name at least one org unit, job title or hire date (an audience of "
                "everyone is an explicit choice: pick the top org unit)",
            )
    return Rule(
        org_unit_ids=tuple(units),
        job_titles=tuple(titles.values()),
        hired_after=hired_after,
        leaver_policy=str(leaver_policy),
    )


def _open_enrollments(package_id: int, among: Iterable[int] | None) -> dict[int, Enrollment]:
    rows = Enrollment.objects.filter(
        package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
    ).only("pk", "learner_id", "status")
    if among is not None:
        rows = rows.filter(learner_id__in=list(among))
    return {e.learner_id: e for e in rows}


def _plan(
    package_id: int, audience_id: int | None, rule: Rule, among: Iterable[int] | None
) -> tuple[Impact, dict[int, Enrollment], set[int], set[int]]:
    """Return the impact of ``rule`` on the package now (restricted to ``among``), the
    open enrollments it read, the open assignments of the audience and the members."""
    among = None if among is None else list(among)
    members = selectors.member_ids(rule, among)
    open_ = _open_enrollments(package_id, among)
    assigned = selectors.assigned_ids(audience_id, among) if audience_id is not None else set()
    enrol = sorted(members - open_.keys())
    withdraw: list[int] = []
    keep: list[int] = []
    for learner_id in sorted(assigned - members):
        enrollment = open_.get(learner_id)
        if enrollment is None:
            continue  # withdrawn by hand already: the assignment just ends
        if (
            rule.leaver_policy == LeaverPolicy.WITHDRAW
            and enrollment.status != EnrollmentStatus.COMPLETED
        ):
            withdraw.append(learner_id)
        else:
            keep.append(learner_id)
    return Impact(len(members), enrol, withdraw, keep), open_, assigned, members


def _enrollable_package(package_id: int, *, lock: bool) -> Package:
    rows = Package.objects.select_for_update() if lock else Package.objects
    package = rows.filter(pk=package_id).first()
    if package is None:
        raise PackageNotFound(f"There is no package with id {package_id}.")
    return package


def _check_enrollable(package: Package, now: datetime) -> None:
    if package.status == PackageStatus.RETIRED:
        raise VersionNotEnrollable(
            f"Package {package.name!r} is retired: it takes no new enrollments, so it "
            "cannot be assigned to an audience; reinstate it first."
        )
    if packaging.active_version(package.pk, now) is None:
        raise NoActiveVersion(
            f"Package {package.name!r} has no published version in effect: publish one "
            "before assigning the package to an audience."
        )


def preview(*, package_id: int, rule: Rule) -> Impact:
    """Return what saving ``rule`` as the package's audience would change now (nothing
    is written)."""
    package = _enrollable_package(package_id, lock=False)
    _check_enrollable(package, timezone.now())
    audience = Audience.objects.filter(package_id=package_id).first()
    impact, *_ = _plan(package_id, audience.pk if audience else None, rule, None)
    return impact


@dataclass
class ChunkResult:
    """What one reconciliation step did."""

    enrolled: list[int] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)

    def add(self, other: ChunkResult) -> None:
        self.enrolled += other.enrolled
        self.withdrawn += other.withdrawn
        self.kept += other.kept

    def counts(self) -> dict[str, int]:
        return {
            "enrolled": len(self.enrolled),
            "withdrawn": len(self.withdrawn),
            "kept": len(self.kept),
        }


def _apply(
    actor: Actor, audience: Audience, rule: Rule, among: Iterable[int] | None, now: datetime
) -> ChunkResult:
    """Bring the audience's package in line with ``rule`` for ``among`` (everyone if
    None), inside the caller's transaction, and audit what was done."""
    impact, open_, assigned, members = _plan(audience.package_id, audience.pk, rule, among)
    note = f"Audience of package {audience.package_id}"
    result = ChunkResult()
    leavers = assigned - members
    # Deferred (ADR 0037): the withdrawals move the package's same few summary rows.
    with learning.deferred_summaries():
        for learner_id in impact.withdraw:
            learning.withdraw(
                actor=actor,
                enrollment_id=open_[learner_id].pk,
                notes=f"{note}: left the audience",
            )
            result.withdrawn.append(learner_id)
    result.kept = list(impact.keep)
    # Every leaver's assignment ends, whatever the policy did with the enrollment; so
    # does a member's whose enrollment was withdrawn by hand (re-enrolled below).
    ending = leavers | (assigned & set(impact.enrol))
    if ending:
        Assignment.objects.filter(
            audience=audience, learner_id__in=sorted(ending), ended_at__isnull=True
        ).update(ended_at=now)
    if impact.enrol:
        learning.bulk_enroll(
            actor=actor, package_id=audience.package_id, learner_ids=impact.enrol, notes=note
        )
        created = Enrollment.objects.filter(
            package_id=audience.package_id,
            learner_id__in=impact.enrol,
            withdrawn_at__isnull=True,
            superseded_at__isnull=True,
        ).values_list("learner_id", "pk")
        Assignment.objects.bulk_create(
            [
                Assignment(audience=audience, learner_id=lid, enrollment_id=eid, assigned_at=now)
                for lid, eid in created
            ],
            batch_size=1000,
        )
        result.enrolled = list(impact.enrol)
    if result.enrolled or result.withdrawn or ending:
        audit.record(
            actor=actor,
            action="audience.reconciled",
            target=audience,
            at=now,
            after={
                **result.counts(),
                "enrolled_learners": result.enrolled,
                "withdrawn_learners": result.withdrawn,
                "kept_learners": result.kept,
            },
            package_id=audience.package_id,
        )
    return result


@dataclass(frozen=True)
class SaveResult:
    """A saved audience, the impact it was saved with, and whether it was applied
    (more than ``inline_limit()`` changes are left to a job: ``jobs.api``)."""

    audience: Audience
    impact: Impact
    applied: bool
    result: ChunkResult | None


def save_audience(
    *, actor: Actor, package_id: int, rule: Rule, notes: str = "", apply: bool | None = None
) -> SaveResult:
    """Save ``rule`` (from ``check_rule``) as the package's audience, audited with its
    impact; apply it now when it changes at most ``inline_limit()`` people (or as
    ``apply`` says), all in one transaction."""
    with collecting("The audience cannot be saved.") as problems:
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    rule = check_rule(
        org_unit_ids=rule.org_unit_ids,
        job_titles=rule.job_titles,
        hired_after=rule.hired_after,
        leaver_policy=rule.leaver_policy,
    )
    with transaction.atomic():
        package = _enrollable_package(package_id, lock=True)
        audit.lock_chain()
        now = timezone.now()
        _check_enrollable(package, now)
        audience = Audience.objects.filter(package=package).first()
        before = selectors.rule_of(audience).as_dict() if audience else None
        impact, *_ = _plan(package.pk, audience.pk if audience else None, rule, None)
        if audience is None:
            audience = Audience(package=package, created_at=now)
        audience.job_titles = list(rule.job_titles)
        audience.hired_after = rule.hired_after
        audience.leaver_policy = rule.leaver_policy
        audience.updated_at = now
        audience.updated_by = actor if isinstance(actor, User) else None
        audience.save()
        audience.org_units.set(rule.org_unit_ids)
        audit.record(
            actor=actor,
            action="audience.saved",
            target=audience,
            at=now,
            before=before,
            after={**rule.as_dict(), "impact": impact.counts(), "summary": impact.summary},
            notes=notes,
            package_id=package.pk,
        )
        applied = impact.changes <= inline_limit() if apply is None else apply
        result = _apply(actor, audience, rule, None, now) if applied else None
    return SaveResult(audience, impact, applied, result)


def delete_audience(*, actor: Actor, package_id: int, notes: str = "") -> None:
    """Remove the package's audience: nobody is enrolled or withdrawn by it any more;
    the enrollments it made stay as they are."""
    with transaction.atomic():
        package = _enrollable_package(package_id, lock=True)
        audit.lock_chain()
        audience = selectors.audience_of_package(package.pk)
        now = timezone.now()
        before = selectors.rule_of(audience).as_dict()
        audit.record(
            actor=actor,
            action="audience.deleted",
            target=audience,
            at=now,
            before=before,
            notes=notes,
            package_id=package.pk,
        )
        Assignment.objects.filter(audience=audience).delete()
        audience.delete()


def candidate_ids(audience_id: int, person_ids: Iterable[int] | None = None) -> list[int]:
    """Return, sorted, everyone a reconciliation of the audience must look at: its
    members and the people it enrolled (only those in ``person_ids``, if given)."""
    audience = Audience.objects.get(pk=audience_id)
    among = None if person_ids is None else list(person_ids)
    rule = selectors.rule_of(audience)
    return sorted(selectors.member_ids(rule, among) | selectors.assigned_ids(audience_id, among))


def apply_chunk(*, actor: Actor, audience_id: int, learner_ids: list[int]) -> ChunkResult:
    """Reconcile one audience for these people, in one transaction (a job's chunk).
    A chunk run twice changes nothing the second time. A retired package, or one
    with no version in effect, is left alone."""
    with transaction.atomic():
        package_id = Audience.objects.values_list("package_id", flat=True).get(pk=audience_id)
        package = _enrollable_package(package_id, lock=True)
        audit.lock_chain()
        now = timezone.now()
        try:
            _check_enrollable(package, now)
        except (VersionNotEnrollable, NoActiveVersion):
            return ChunkResult()
        audience = Audience.objects.get(pk=audience_id)
        return _apply(actor, audience, selectors.rule_of(audience), learner_ids, now)


@dataclass
class ReconcileResult:
    """What a reconciliation of every audience did, per package."""

    per_package: dict[int, ChunkResult] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        total = ChunkResult()
        for result in self.per_package.values():
            total.add(result)
        return {"audiences": len(self.per_package), **total.counts()}


def reconcile(
    *, actor: Actor, person_ids: Iterable[int] | None = None, chunk_size: int | None = None
) -> ReconcileResult:
    """Bring every audience in line with who matches now — after a people sync, for the
    people it touched (``person_ids``; everyone if None). Each chunk of people is its
    own committed, audited transaction."""
    size = chunk_size or _chunk_size()
    among = None if person_ids is None else sorted(set(person_ids))
    result = ReconcileResult()
    for audience_id, package_id in Audience.objects.order_by("pk").values_list("pk", "package_id"):
        done = ChunkResult()
        ids = candidate_ids(audience_id, among)
        for start in range(0, len(ids), size):
            done.add(
                apply_chunk(
                    actor=actor, audience_id=audience_id, learner_ids=ids[start : start + size]
                )
            )
        result.per_package[package_id] = done
    return result
