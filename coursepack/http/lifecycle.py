"""The compliance lifecycle over HTTP: due rules, extensions, exemptions, equivalences,
standing counts and lists, and an enrollment's dates as of t (as known at r).

Thin: parse, call the services and selectors, serialise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Status
from pydantic import BaseModel, StrictBool, StrictInt

from coursepack.accounts.models import Role
from coursepack.errors import InvalidInput
from coursepack.http.auth import ADMIN, READERS, caller, in_scope, require
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import DateTimeIn, Id, Input, MomentIn, Output, Reason, Text
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors
from coursepack.learning.errors import EnrollmentNotFound
from coursepack.learning.models import DueExtension, Enrollment, Equivalence, Exemption
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import VersionLifecycle
from coursepack.reports import scoped

router = Router()

Days = Annotated[StrictInt, Field(ge=0, le=36_600)]
ValidDays = Annotated[StrictInt, Field(ge=1, le=36_600)]
Ids = Annotated[list[Id], Field(min_length=1, max_length=10_000)]
DueKindIn = Literal["after_enrolment", "after_hire", "fixed", "never"]
ReasonCode = Literal["tested_out", "equivalent_au", "equivalent_outside_activity", "administrative"]
StandingName = Literal[
    "current",
    "due_for_recertification",
    "expiring",
    "overdue",
    "expired",
    "exempt",
    "in_progress",
    "not_started",
]


def _aware(**moments: datetime | None) -> None:
    problems = [
        f"{name}: include a time zone, e.g. Z"
        for name, moment in moments.items()
        if moment is not None and moment.tzinfo is None
    ]
    if problems:
        raise InvalidInput("The moment needs a time zone.", problems=problems)


# --- a version's rules ----------------------------------------------------------------


class LifecycleIn(Input):
    due_kind: DueKindIn = "never"
    due_days: Days | None = None
    due_fixed_at: DateTimeIn | None = None
    valid_days: ValidDays | None = None
    window_days: Days = 0
    grace_days: Days = 0
    notes: Text = ""


class LifecycleOut(Output):
    version_id: int
    due_kind: str
    due_days: int | None
    due_fixed_at: datetime | None
    valid_days: int | None
    window_days: int
    grace_days: int


def _lifecycle_out(version_id: int) -> dict[str, Any]:
    row = VersionLifecycle.objects.filter(version_id=version_id).first()
    if row is None:
        return {
            "version_id": version_id,
            "due_kind": "never",
            "due_days": None,
            "due_fixed_at": None,
            "valid_days": None,
            "window_days": 0,
            "grace_days": 0,
        }
    return {
        "version_id": version_id,
        "due_kind": row.due_kind,
        "due_days": row.due_days,
        "due_fixed_at": row.due_fixed_at,
        "valid_days": row.valid_days,
        "window_days": row.window_days,
        "grace_days": row.grace_days,
    }


@router.get(
    "/versions/{version_id}/lifecycle",
    response=responses({200: LifecycleOut}, 404),
    tags=["lifecycle"],
)
def get_version_lifecycle(request: HttpRequest, version_id: int) -> Any:
    """A version's due-date rule and validity (no rules: never due, never expires)."""
    require(request, *READERS)
    packaging_selectors.get_version(version_id)
    return _lifecycle_out(version_id)


@router.put(
    "/versions/{version_id}/lifecycle",
    response=responses({200: LifecycleOut}, 404, 409),
    tags=["lifecycle"],
)
def set_version_lifecycle(request: HttpRequest, version_id: int, body: LifecycleIn) -> Any:
    """Set a draft's due-date rule and validity; released versions never change."""
    actor = require(request, *ADMIN)
    packaging.set_version_lifecycle(actor=actor, version_id=version_id, **body.dict())
    return _lifecycle_out(version_id)


# --- extensions and exemptions ----------------------------------------------------------


class ExtendIn(Input):
    enrollment_ids: Ids
    due_at: DateTimeIn
    reason: Reason


class ExtensionOut(Output):
    id: int
    enrollment_id: int
    due_at: datetime
    effective_at: datetime
    recorded_at: datetime
    recorded_by: str | None
    reason: str


class ExtensionsOut(Output):
    extensions: list[ExtensionOut]


def _extension(x: DueExtension) -> dict[str, Any]:
    return {
        "id": x.pk,
        "enrollment_id": x.enrollment_id,
        "due_at": x.due_at,
        "effective_at": x.effective_at,
        "recorded_at": x.recorded_at,
        "recorded_by": x.recorded_by.get_username() if x.recorded_by else None,
        "reason": x.reason,
    }


@router.post(
    "/due-extensions",
    response=responses({201: ExtensionsOut}, 404, 409),
    tags=["lifecycle"],
)
def extend_due_dates(request: HttpRequest, body: ExtendIn) -> Any:
    """Extend the due date of one enrollment or many (a new fact each; none is edited)."""
    actor = require(request, *ADMIN)
    _aware(due_at=body.due_at)
    rows = learning.extend_due_date(
        actor=actor, enrollment_ids=body.enrollment_ids, due_at=body.due_at, reason=body.reason
    )
    return Status(201, {"extensions": [_extension(x) for x in rows]})


class ExemptIn(Input):
    enrollment_ids: Ids
    reason: ReasonCode
    note: Text = ""
    course_id: Id | None = Field(None, description="Exempt from this course item.")
    group_id: Id | None = Field(None, description="Or from this group item; neither: all of it.")
    ends_at: DateTimeIn | None = Field(
        None, description="A waiver valid until then (in the future); none: until revoked."
    )


class ExemptionOut(Output):
    id: int
    enrollment_id: int
    course_id: int | None
    group_id: int | None
    reason: str
    note: str
    effective_at: datetime
    ends_at: datetime | None
    recorded_at: datetime
    recorded_by: str | None
    revoked_at: datetime | None


class ExemptionsOut(Output):
    exemptions: list[ExemptionOut]


def _exemption(e: Exemption) -> dict[str, Any]:
    revocation = getattr(e, "revocation", None)
    return {
        "id": e.pk,
        "enrollment_id": e.enrollment_id,
        "course_id": e.course_id,
        "group_id": e.group_id,
        "reason": e.reason,
        "note": e.note,
        "effective_at": e.effective_at,
        "ends_at": e.ends_at,
        "recorded_at": e.recorded_at,
        "recorded_by": e.recorded_by.get_username() if e.recorded_by else None,
        "revoked_at": revocation.effective_at if revocation is not None else None,
    }


@router.post(
    "/exemptions",
    response=responses({201: ExemptionsOut}, 404, 409),
    tags=["lifecycle"],
)
def exempt(request: HttpRequest, body: ExemptIn) -> Any:
    """Exempt one enrollment or many from an item, or from all of it (roles allowed by
    COURSEPACK_EXEMPTING_ROLES; others get 403)."""
    actor = caller(request)
    _aware(ends_at=body.ends_at)
    rows = learning.exempt(actor=actor, **body.dict())
    return Status(201, {"exemptions": [_exemption(e) for e in rows]})


class RevokeIn(Input):
    reason: Reason


@router.post(
    "/exemptions/{exemption_id}/revoke",
    response=responses({201: ExemptionOut}, 404, 409),
    tags=["lifecycle"],
)
def revoke_exemption(request: HttpRequest, exemption_id: int, body: RevokeIn) -> Any:
    """Revoke an exemption from now on (before now it still counted)."""
    actor = caller(request)
    learning.revoke_exemption(actor=actor, exemption_id=exemption_id, reason=body.reason)
    return Status(201, _exemption(Exemption.objects.get(pk=exemption_id)))


# --- equivalences ------------------------------------------------------------------------


class EquivalenceIn(Input):
    source_course_id: Id
    target_course_id: Id
    both_ways: StrictBool = False
    retroactive: StrictBool = False
    notes: Text = ""


class EquivalenceOut(Output):
    id: int
    source_course_id: int
    target_course_id: int
    both_ways: bool
    starts_at: datetime
    retroactive: bool
    applied_retroactively_at: datetime | None
    ended_at: datetime | None
    recorded_by: str | None
    notes: str


class EquivalenceImpactOut(Output):
    enrollments_checked: int
    would_complete: int
    would_complete_ids: list[int]


class CreatedEquivalenceOut(Output):
    equivalence: EquivalenceOut
    impact: EquivalenceImpactOut


def _equivalence(eq: Equivalence) -> dict[str, Any]:
    changes = {c.kind: c.occurred_at for c in eq.changes.all()}
    return {
        "id": eq.pk,
        "source_course_id": eq.source_id,
        "target_course_id": eq.target_id,
        "both_ways": eq.both_ways,
        "starts_at": eq.starts_at,
        "retroactive": eq.retroactive,
        "applied_retroactively_at": changes.get("retroactive"),
        "ended_at": changes.get("end"),
        "recorded_by": eq.recorded_by.get_username() if eq.recorded_by else None,
        "notes": eq.notes,
    }


def _impact(impact: learning.EquivalenceImpact) -> dict[str, Any]:
    return {
        "enrollments_checked": impact.enrollments_checked,
        "would_complete": impact.would_complete,
        "would_complete_ids": impact.would_complete_ids[:1000],
    }


@router.get("/equivalences", response=responses({200: page_of(EquivalenceOut)}), tags=["lifecycle"])
def list_equivalences(request: HttpRequest, page: Query[PageParams]) -> Any:
    """Every equivalence, with its end or retroactive application if any."""
    require(request, *READERS)
    rows = Equivalence.objects.select_related("recorded_by").prefetch_related("changes")
    result = paginate(rows.order_by("id"), page, request)
    result["items"] = [_equivalence(e) for e in result["items"]]
    return result


QueryId = Annotated[int, Field(ge=1, le=2**53)]


class PreviewQuery(BaseModel):
    source_course_id: QueryId
    target_course_id: QueryId
    both_ways: bool = False
    retroactive: bool = False


@router.get(
    "/equivalences/preview",
    response=responses({200: EquivalenceImpactOut}, 404),
    tags=["lifecycle"],
)
def preview_equivalence(request: HttpRequest, query: Query[PreviewQuery]) -> Any:
    """How many open enrollments an equivalence created now would complete."""
    require(request, *READERS)
    return _impact(learning.equivalence_impact(**query.model_dump()))


@router.post(
    "/equivalences",
    response=responses({201: CreatedEquivalenceOut}, 404, 409),
    tags=["lifecycle"],
)
def create_equivalence(request: HttpRequest, body: EquivalenceIn) -> Any:
    """Make completions of one course count for another from now (or retroactively, as
    recorded); the impact says how many enrollments it completed."""
    actor = require(request, *ADMIN)
    equivalence, impact = learning.create_equivalence(actor=actor, **body.dict())
    return Status(201, {"equivalence": _equivalence(equivalence), "impact": _impact(impact)})


class ChangeIn(Input):
    notes: Text = ""


@router.post(
    "/equivalences/{equivalence_id}/end",
    response=responses({200: EquivalenceOut}, 404, 409),
    tags=["lifecycle"],
)
def end_equivalence(request: HttpRequest, equivalence_id: int, body: ChangeIn) -> Any:
    """End an equivalence now; credit already earned through it stays."""
    actor = require(request, *ADMIN)
    learning.end_equivalence(actor=actor, equivalence_id=equivalence_id, notes=body.notes)
    return _equivalence(Equivalence.objects.get(pk=equivalence_id))


@router.post(
    "/equivalences/{equivalence_id}/apply-retroactively",
    response=responses({200: EquivalenceOut}, 404, 409),
    tags=["lifecycle"],
)
def apply_retroactively(request: HttpRequest, equivalence_id: int, body: ChangeIn) -> Any:
    """Let earlier completions count too, as known from now (recorded as retroactive)."""
    actor = require(request, *ADMIN)
    learning.apply_equivalence_retroactively(
        actor=actor, equivalence_id=equivalence_id, notes=body.notes
    )
    return _equivalence(Equivalence.objects.get(pk=equivalence_id))


# --- standing ---------------------------------------------------------------------------


class StandingQuery(BaseModel):
    expiring_within_days: int = Field(30, ge=0, le=3660)


class StandingCountsOut(Output):
    package_id: int
    as_of: datetime
    expiring_within_days: int
    counts: dict[str, int]


@router.get(
    "/packages/{package_id}/standing",
    response=responses({200: StandingCountsOut}, 404),
    tags=["lifecycle"],
)
def standing_counts(request: HttpRequest, package_id: int, query: Query[StandingQuery]) -> Any:
    """How many learners of a package are current, due for recertification, overdue,
    expiring within N days, expired, exempt, in progress or not started — now
    (managers: of their people only)."""
    user = require(request, *READERS, Role.MANAGER)
    packaging_selectors.get_package(package_id)
    now = timezone.now()
    counts = scoped.standing_counts(
        user, package_id, now=now, expiring_within_days=query.expiring_within_days
    )
    return {
        "package_id": package_id,
        "as_of": now,
        "expiring_within_days": query.expiring_within_days,
        "counts": counts,
    }


class StandingListQuery(StandingQuery):
    search: str = Field("", max_length=150, pattern=r"^[^\x00]*$")


class StandingEntryOut(Output):
    enrollment_id: int
    learner_id: int
    learner_username: str
    version_number: int
    period: int
    status: str
    completed_at: datetime | None
    due_in_force: datetime | None
    overdue_since: datetime | None
    completed_late: bool
    expires_at: datetime | None


def _entry(e: Enrollment) -> dict[str, Any]:
    return {
        "enrollment_id": e.pk,
        "learner_id": e.learner_id,
        "learner_username": e.learner.get_username(),
        "version_number": e.version.version_number,
        "period": e.period_number,
        "status": e.status,
        "completed_at": e.completed_at,
        "due_in_force": e.due_in_force,
        "overdue_since": e.overdue_since,
        "completed_late": e.completed_late,
        "expires_at": e.expires_at,
    }


@router.get(
    "/packages/{package_id}/standing/{standing}",
    response=responses({200: page_of(StandingEntryOut)}, 404),
    tags=["lifecycle"],
)
def standing_list(
    request: HttpRequest,
    package_id: int,
    standing: StandingName,
    page: Query[PageParams],
    query: Query[StandingListQuery],
) -> Any:
    """The learners of a package in one standing now, in enrollment id order (paged,
    searchable; managers: their people only)."""
    user = require(request, *READERS, Role.MANAGER)
    packaging_selectors.get_package(package_id)
    rows = lifecycle_selectors.standing_enrollments(
        package_id,
        standing,
        expiring_within_days=query.expiring_within_days,
        search=query.search,
    )
    rows = in_scope(user, rows)
    result = paginate(rows, page, request)
    result["items"] = [_entry(e) for e in result["items"]]
    return result


# --- one enrollment's dates as of t -----------------------------------------------------


class LifecycleQuery(BaseModel):
    as_of: MomentIn | None = Field(None, description="Default: now.")
    known_at: MomentIn | None = Field(None, description="Only facts recorded by then.")


class PeriodOut(Output):
    enrollment_id: int
    period: int
    version_id: int
    opened_at: datetime
    status: str
    completed_at: datetime | None
    due_at: datetime | None
    overdue_since: datetime | None
    completed_late: bool
    expires_at: datetime | None
    recertification_opens_at: datetime | None


class UsedExemptionOut(Output):
    id: int
    course_id: int | None
    group_id: int | None
    reason: str
    ends_at: datetime | None
    explanation: str


class UsedEquivalenceOut(Output):
    id: int
    source_course_id: int
    target_course_id: int
    retroactive: bool


class EnrollmentLifecycleOut(Output):
    enrollment_id: int
    as_of: datetime
    known_at: datetime | None
    standing: str | None
    standing_until: datetime | None
    standing_since: datetime | None
    due_at: datetime | None
    due_at_enrolment: datetime | None
    extensions: list[ExtensionOut]
    exemptions_used: list[UsedExemptionOut]
    equivalences_used: list[UsedEquivalenceOut]
    periods: list[PeriodOut]


def _period(p: lifecycle_selectors.EnrollmentLifecycle) -> dict[str, Any]:
    e = p.enrollment
    return {
        "enrollment_id": e.pk,
        "period": e.period_number,
        "version_id": e.version_id,
        "opened_at": e.enrolled_at,
        "status": str(p.evaluation.status),
        "completed_at": p.evaluation.completed_at,
        "due_at": p.state.due_at,
        "overdue_since": p.state.overdue_since,
        "completed_late": p.state.completed_late,
        "expires_at": p.state.expires_at,
        "recertification_opens_at": p.state.window_opens_at,
    }


@router.get(
    "/enrollments/{enrollment_id}/lifecycle",
    response=responses({200: EnrollmentLifecycleOut}, 404),
    tags=["lifecycle"],
)
def enrollment_lifecycle(
    request: HttpRequest, enrollment_id: int, query: Query[LifecycleQuery]
) -> Any:
    """An enrollment as of ``as_of``, as known at ``known_at``: the due date then in force,
    the extensions on record, the exemptions and equivalences that counted, the learner's
    standing in the package and every certification period (learners: their own)."""
    user = caller(request)
    _aware(as_of=query.as_of, known_at=query.known_at)
    enrollment = in_scope(user, Enrollment.objects.all()).filter(pk=enrollment_id).first()
    if enrollment is None:
        raise EnrollmentNotFound(f"There is no enrollment with id {enrollment_id}.")
    as_of = query.as_of or timezone.now()
    known_at = query.known_at
    standing, periods = lifecycle_selectors.package_standing(
        enrollment.learner_id, enrollment.package_id, as_of=as_of, known_at=known_at
    )
    mine = next((p for p in periods if p.enrollment.pk == enrollment.pk), None)
    if mine is None:
        mine = lifecycle_selectors.enrollment_lifecycle(enrollment, as_of=as_of, known_at=known_at)
    extensions = DueExtension.objects.filter(enrollment=enrollment, recorded_at__lte=as_of)
    if known_at is not None:
        extensions = extensions.filter(recorded_at__lte=known_at)
    return {
        "enrollment_id": enrollment.pk,
        "as_of": as_of,
        "known_at": known_at,
        "standing": str(standing.standing) if standing else None,
        "standing_until": standing.until if standing else None,
        "standing_since": standing.since if standing else None,
        "due_at": mine.state.due_at,
        "due_at_enrolment": enrollment.due_at,
        "extensions": [
            _extension(x) for x in extensions.select_related("recorded_by").order_by("id")
        ],
        "exemptions_used": [
            {
                "id": x.exemption_id,
                "course_id": x.course_id,
                "group_id": x.group_id,
                "reason": str(x.reason),
                "ends_at": x.ends_at,
                "explanation": x.describe(),
            }
            for x in mine.evaluation.exemptions_used
        ],
        "equivalences_used": [
            {
                "id": q.equivalence_id,
                "source_course_id": q.source_course_id,
                "target_course_id": q.target_course_id,
                "retroactive": q.retroactive,
            }
            for q in mine.evaluation.equivalences_used
        ],
        "periods": [_period(p) for p in periods],
    }


# --- exceptions -------------------------------------------------------------------------


class ExceptionEntryOut(Output):
    enrollment_id: int
    learner_id: int
    learner_username: str
    enrolled_at: datetime
    due_at: datetime | None
    completed_at: datetime | None


class ExceptionsOut(Output):
    package_id: int
    due_before_enrolment_count: int
    due_before_enrolment: list[ExceptionEntryOut]
    completed_late_count: int
    completed_late: list[ExceptionEntryOut]
    exemptions_count: int
    exemptions: list[ExemptionOut]
    lapsing_within_days: int
    lapsing_count: int
    lapsing: list[ExemptionOut]


class ExceptionsQuery(BaseModel):
    within: Annotated[int, Field(ge=0, le=3660)] = Field(
        30, description="Exemptions about to lapse: those ending within this many days."
    )


def _exception(e: Enrollment) -> dict[str, Any]:
    return {
        "enrollment_id": e.pk,
        "learner_id": e.learner_id,
        "learner_username": e.learner.get_username(),
        "enrolled_at": e.enrolled_at,
        "due_at": e.due_at,
        "completed_at": e.completed_at,
    }


_LISTED = 200


@router.get(
    "/packages/{package_id}/exceptions",
    response=responses({200: ExceptionsOut}, 404),
    tags=["lifecycle"],
)
def package_exceptions(request: HttpRequest, package_id: int, query: Query[ExceptionsQuery]) -> Any:
    """The exceptions of a package's open periods: enrolled after their due date had
    passed, completed late, exemptions in force, and those about to lapse (ending within
    ``within`` days; each list: the first 200, soonest end first). Managers: about
    their people only."""
    user = require(request, *READERS, Role.MANAGER)
    packaging_selectors.get_package(package_id)
    found = scoped.package_exceptions(user, package_id, lapsing_within_days=query.within)
    return {
        "package_id": package_id,
        "due_before_enrolment_count": found.due_before_enrolment.count(),
        "due_before_enrolment": [_exception(e) for e in found.due_before_enrolment[:_LISTED]],
        "completed_late_count": found.completed_late.count(),
        "completed_late": [_exception(e) for e in found.completed_late[:_LISTED]],
        "exemptions_count": found.exemptions.count(),
        "exemptions": [_exemption(x) for x in found.exemptions[:_LISTED]],
        "lapsing_within_days": query.within,
        "lapsing_count": found.lapsing.count(),
        "lapsing": [_exemption(x) for x in found.lapsing[:_LISTED]],
    }
