"""The API's request and response bodies.

Numbers are strict (``true`` is not 1) and text is plain strings: the services
check lengths and NUL characters and name each bad field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)


class Input(Schema):
    """A request body: a JSON object with only the documented fields."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _must_be_an_object(cls, data: Any) -> Any:
        # ninja's Schema reads attributes of any object, so a JSON array would
        # otherwise pass as a body whose fields are all defaults. ninja validates
        # twice, the second time with the body wrapped in a DjangoGetter: look inside.
        body = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return data


class Output(BaseModel):
    """A response body built as a dict by ``serialize``: validated as plain data.

    ninja's ``Schema`` wraps every (nested) object to read ORM attributes, which
    costs more than the rest of a progress request; responses that are always
    dicts do not need it.
    """


# What the services refuse, said in the schema too, so that clients (and the
# fuzzer) know before they send: no NUL characters anywhere (PostgreSQL cannot
# store them), and names that are not blank. "Blank" is what str.strip() removes:
# Unicode white space plus the separators \x1c-\x1f.
_BLANK = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NUL_FREE = r"^[^\x00]*$"
NOT_BLANK = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339(value: Any) -> Any:
    # pydantic alone takes 0 or "0" for 1970-01-01 and a naive time for local time;
    # the schema promises RFC 3339 text with a time zone, so hold callers to it.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be a date and time with a time zone, e.g. 2025-01-31T09:00:00Z")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date, e.g. 2025-01-31")
    return value


_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _representable(value: datetime) -> datetime:
    # A time zone can push a valid-looking moment past year 1 or 9999 in UTC, and
    # the services add a day here and there: keep a day of room on both sides.
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not _EARLIEST <= in_utc <= _LATEST:
        raise ValueError("is out of range: must lie between 0001-01-02 and 9999-12-30 in UTC")
    return value


DateTimeIn = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_representable)]


def _moment(value: Any) -> Any:
    # A whole day means the end of that day (what was true *on* that date), in the
    # server's time zone, as the pages read ?as_of=.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a real date, e.g. 2025-01-31") from None
        return timezone.make_aware(datetime.combine(day, time.max))
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            "must be a date (the end of that day), e.g. 2025-01-31, or a date and time "
            "with a time zone, e.g. 2025-01-31T09:00:00Z"
        )
    return value


#: A moment to read "as of": RFC 3339 with a time zone, or a date (the end of that day).
MomentIn = Annotated[
    datetime,
    BeforeValidator(_moment),
    AfterValidator(_representable),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ]
        }
    ),
]
DateIn = Annotated[date, BeforeValidator(_iso_date)]
Id = Annotated[StrictInt, Field(ge=1, le=2**53)]
Position = Annotated[StrictInt, Field(ge=1, le=100_000)]
Text = Annotated[StrictStr, Field(max_length=20_000, pattern=NUL_FREE)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=NOT_BLANK)]
Code = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=NOT_BLANK)]
Category = Annotated[StrictStr, Field(max_length=100, pattern=NUL_FREE)]
ExternalId = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=NOT_BLANK)]
Reason = Annotated[StrictStr, Field(min_length=1, max_length=20_000, pattern=NOT_BLANK)]
Username = Annotated[StrictStr, Field(min_length=1, max_length=150, pattern=NOT_BLANK)]
PersonName = Annotated[StrictStr, Field(max_length=150, pattern=NUL_FREE)]
Email = Annotated[StrictStr, Field(max_length=254, pattern=NUL_FREE)]
Password = Annotated[StrictStr, Field(min_length=8, max_length=4096, pattern=NUL_FREE)]
#: A natural key of a package or course group (lower-case slug).
NATURAL_KEY = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
Key = Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=NATURAL_KEY)]
TokenName = Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=NOT_BLANK)]
InFlightPolicy = Literal["keep", "move_not_started", "move_in_progress"]


# --- catalog ---------------------------------------------------------------------


class CourseOut(Schema):
    id: int
    code: str
    name: str
    description: str
    duration_minutes: int
    status: str
    created_at: datetime
    updated_at: datetime


class CourseIn(Input):
    code: Code
    name: Name
    description: Text = ""
    duration_minutes: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0


class CoursePatch(Input):
    name: Name | None = None
    description: Text | None = None
    duration_minutes: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None
    notes: Text = ""


class NotesIn(Input):
    notes: Text = ""


# --- groups -------------------------------------------------------------------------


class GroupItemOut(Schema):
    id: int
    position: int
    kind: Literal["course", "group"]
    name: str
    course_id: int | None
    course_code: str | None
    group_id: int | None
    group_version_id: int | None
    group_version_number: int | None
    required: bool


class GroupVersionOut(Schema):
    id: int
    group_id: int
    group_key: str
    version_number: int
    name: str
    description: str
    kind: str
    min_count: int | None
    status: str
    revision: int
    created_at: datetime
    published_at: datetime | None
    change_notes: str
    items: list[GroupItemOut]


class GroupVersionSummary(Schema):
    id: int
    version_number: int
    name: str
    kind: str
    min_count: int | None
    status: str
    published_at: datetime | None


class GroupOut(Schema):
    id: int
    key: str
    name: str
    kind: str
    latest_published_version_id: int | None
    draft_version_id: int | None
    versions: list[GroupVersionSummary]


class GroupIn(Input):
    key: Key | None = None
    name: Name
    kind: Literal["family", "series", "choice"]
    min_count: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    description: Text = ""


class GroupDraftPatch(Input):
    name: Name | None = None
    description: Text | None = None
    kind: Literal["family", "series", "choice"] | None = None
    min_count: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None


class ItemIn(Input):
    course_id: Id | None = None
    group_id: Id | None = None
    required: StrictBool = True
    position: Position | None = None


class ItemPatch(Input):
    required: StrictBool | None = None
    position: Position | None = None


class PublishGroupIn(Input):
    change_notes: Text = ""


# --- packages and versions -------------------------------------------------------------


class PackageOut(Schema):
    id: int
    key: str
    name: str
    description: str
    category: str
    status: str
    created_at: datetime
    updated_at: datetime
    active_version_id: int | None
    draft_version_id: int | None


class PackageIn(Input):
    key: Key | None = None
    name: Name
    description: Text = ""
    category: Category = ""


class PackageCreated(Schema):
    package: PackageOut
    draft_version_id: int


class PackagePatch(Input):
    name: Name | None = None
    description: Text | None = None
    category: Category | None = None


class VersionSummaryOut(Schema):
    id: int
    package_id: int
    version_number: int
    name: str
    status: Literal["draft", "scheduled", "active", "archived"]
    revision: int
    based_on_id: int | None
    created_at: datetime
    published_at: datetime | None
    effective_from: datetime | None
    archived_at: datetime | None
    change_notes: str


class VersionItemOut(Schema):
    id: int
    position: int
    kind: Literal["course", "group"]
    name: str
    required: bool
    course_id: int | None
    course_code: str | None
    group_id: int | None
    group_version_id: int | None
    group_version_number: int | None
    newer_group_version_id: int | None = Field(
        None, description="A newer published version of the group, if there is one."
    )


class VersionOut(VersionSummaryOut):
    description: str
    items: list[VersionItemOut]


class DraftPatch(Input):
    name: Name | None = None
    description: Text | None = None


class PublishIn(Input):
    change_notes: Text = ""
    effective_from: DateTimeIn | None = Field(
        None,
        description=(
            "A future moment (with time zone) for the version to take effect: its "
            "`effective_from`. Absent: at once."
        ),
    )
    inflight_policy: InFlightPolicy = "keep"


class PublishOut(Schema):
    version: VersionSummaryOut
    previous_version_id: int | None
    scheduled: bool
    moved_enrollments: int
    moves_job_id: int | None = Field(
        None,
        description="When many learners move, the background job moving them "
        "(GET /jobs/{id}); moved_enrollments is then 0 and the job counts the moves.",
    )


class PolicyImpactOut(Schema):
    policy: InFlightPolicy
    moves: int
    gain_completion: int
    lose_completion: int
    further_from_completion: int


class PublishPreviewOut(Schema):
    version_id: int
    current_version_id: int | None
    open_enrollments: int
    by_status: dict[str, int]
    policies: list[PolicyImpactOut]
    problems: list[str] = Field(
        description="Why publishing would be refused; empty if it can go ahead."
    )


class ValueChange(Schema):
    old: str | int | bool | None
    new: str | int | bool | None


class DiffItem(Schema):
    kind: Literal["course", "group"]
    id: int
    name: str
    required: bool
    position: int


class GroupChangesOut(Schema):
    name: ValueChange | None
    version_number: ValueChange | None
    kind: ValueChange | None
    min_count: ValueChange | None
    items: ItemsDiffOut


class ModifiedItemOut(Schema):
    kind: Literal["course", "group"]
    id: int
    name: str
    old_position: int
    new_position: int
    moved: bool
    required: ValueChange | None
    group: GroupChangesOut | None


class ItemsDiffOut(Schema):
    added: list[DiffItem]
    removed: list[DiffItem]
    modified: list[ModifiedItemOut]


class DiffOut(Schema):
    old_version_id: int
    new_version_id: int
    old_version_number: int
    new_version_number: int
    name: ValueChange | None
    items: ItemsDiffOut
    summary: list[str]


GroupChangesOut.model_rebuild()


class PublishRecordOut(Schema):
    id: int
    version_id: int
    version_number: int
    action: str
    previous_version_id: int | None
    occurred_at: datetime
    actor: str
    effective_from: datetime | None
    change_notes: str
    inflight_policy: str
    moved_enrollments: int


# --- enrollments and completions -------------------------------------------------------


class EnrollmentOut(Output):
    id: int
    learner_id: int
    learner_username: str
    package_id: int
    package_name: str
    version_id: int
    version_number: int
    enrolled_at: datetime
    withdrawn_at: datetime | None
    status: str
    progress_done: int
    progress_needed: int
    completed_at: datetime | None


class EnrollIn(Input):
    learner_id: Id
    package_id: Id
    version_id: Id | None = Field(None, description="If given, must be the active version.")
    notes: Text = ""


class BulkEnrollIn(Input):
    package_id: Id
    learner_ids: Annotated[list[Id], Field(min_length=1, max_length=100_000)]
    notes: Text = ""


BulkOutcome = Literal["enrolled", "already_enrolled", "unknown_learner", "repeated"]


class BulkItemOut(Output):
    """What happened to one item of a bulk request."""

    pointer: str = Field(
        description="The item's JSON Pointer in the request body, e.g. `/learner_ids/3`."
    )
    learner_id: int
    outcome: BulkOutcome = Field(
        description=(
            "`enrolled` (now), `already_enrolled` (an open enrollment existed: left "
            "alone), `unknown_learner` (no such learner: nothing done), `repeated` (the "
            "same learner earlier in the list)."
        )
    )
    enrollment_id: int | None = Field(
        description="The learner's open enrollment in the package (new or existing), or null."
    )


class BulkEnrollOut(Schema):
    version_id: int
    enrolled: int
    already_enrolled: list[int]
    unknown_learners: list[int]
    results: list[BulkItemOut] = Field(
        description="One result per item of `learner_ids`, in the request's order."
    )


class CourseRefOut(Output):
    course_id: int
    code: str
    name: str


class NodeOut(Output):
    path: list[int]
    label: str
    kind: str
    required: bool
    state: Literal["completed", "in_progress", "not_started", "locked"]
    done: int
    needed: int
    satisfied_at: datetime | None
    explanation: str
    next_courses: list[CourseRefOut]
    children: list[NodeOut]


NodeOut.model_rebuild()


class ProgressOut(Output):
    enrollment: EnrollmentOut
    as_of: datetime | None
    status: Literal["not_started", "in_progress", "completed"]
    completed_at: datetime | None
    done: int
    needed: int
    optional_done: int
    optional_total: int
    why_not_complete: list[str]
    next_courses: list[CourseRefOut]
    optional_next: list[CourseRefOut]
    tree: NodeOut


class CompletionIn(Input):
    learner_id: Id
    course_id: Id
    kind: Literal["completed", "passed", "failed"] = "completed"
    occurred_at: DateTimeIn | None = Field(None, description="When it happened (default: now).")
    source: Literal["manual", "api", "import", "xapi"] = "api"
    external_id: ExternalId | None = None
    evidence_note: Text = ""
    late_reason: Text = Field(
        "",
        description="Why it is recorded so late: required when occurred_at is more than "
        "a year (COURSEPACK_LATE_HORIZON_DAYS) before now.",
    )


class CompletionOut(Schema):
    id: int
    learner_id: int
    course_id: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    external_id: str | None
    evidence_note: str
    voids_id: int | None


class RecordedCompletionOut(CompletionOut):
    """A completion event as the completions endpoints return it."""

    late_reason: str = Field(description="Why it was recorded so late (see recorded_late).")
    recorded_late: bool = Field(
        description="Recorded more than the late horizon (default a year) after it occurred."
    )
    reason: str | None = Field(
        None,
        description=(
            "A void event's `reason`, as it was posted (also its `evidence_note`); null "
            "for a completion."
        ),
    )


class RecordOut(Schema):
    event: RecordedCompletionOut
    created: bool
    enrollments_changed: int


class BatchIn(Input):
    events: Annotated[list[CompletionIn], Field(min_length=1, max_length=1000)]


class BatchOut(Schema):
    results: list[RecordOut]


class VoidIn(Input):
    reason: Reason


class VersionMoveOut(Schema):
    from_version_id: int
    from_version_number: int
    to_version_id: int
    to_version_number: int
    moved_at: datetime
    policy: str


class TranscriptExtensionOut(Output):
    id: int
    due_at: datetime
    effective_at: datetime
    recorded_at: datetime | None
    recorded_by: str
    reason: str


class TranscriptExemptionOut(Output):
    id: int
    course_id: int | None
    group_id: int | None
    reason: str
    ends_at: datetime | None
    explanation: str
    note: str


class TranscriptEquivalenceOut(Output):
    id: int
    source_course_id: int
    target_course_id: int
    starts_at: datetime
    retroactive: bool


class TranscriptLifecycleOut(Output):
    """An enrollment's compliance dates as of ``as_of``, as known at ``known_at``."""

    period: int = Field(description="The certification period (1 for a first enrolment).")
    previous_period_id: int | None
    due_at_enrolment: datetime | None
    due_at: datetime | None = Field(description="The due date in force at as_of.")
    extensions: list[TranscriptExtensionOut]
    overdue_since: datetime | None
    completed_late: bool
    expires_at: datetime | None
    recertification_opens_at: datetime | None
    exemptions_used: list[TranscriptExemptionOut]
    equivalences_used: list[TranscriptEquivalenceOut]


class TranscriptEnrollment(EnrollmentOut):
    """An enrollment as it stood at ``as_of``.

    ``version_*`` is the version the learner was on then; ``progress_status``,
    progress and ``completed_at`` are the engine's verdict then (as of the
    withdrawal, if that came first); ``withdrawn_at`` is set only if the withdrawal
    came by ``as_of``, and ``status`` then says ``withdrawn``.
    """

    progress_status: Literal["not_started", "in_progress", "completed"]
    version_name: str
    optional_done: int
    optional_total: int
    satisfied_at: datetime | None = Field(
        description="When the training satisfied the tree; may predate the enrollment."
    )
    on_version_since: datetime = Field(
        description="When the enrollment got onto this version: its enrolment or last move."
    )
    satisfied_by_earlier_training: bool = Field(
        description=(
            "The tree was satisfied before the enrollment was on this version; "
            "completed_at is then on_version_since."
        )
    )
    why_not_complete: list[str]
    moves: list[VersionMoveOut] = Field(description="Version moves made by as_of, oldest first.")
    lifecycle: TranscriptLifecycleOut | None = None


class TranscriptEvent(CompletionOut):
    """An event that occurred by ``as_of`` and was on record at ``known_at``;
    ``voided_by_id``/``voided_at``/``void_reason`` describe its void whenever it was
    recorded; ``voided`` says the void was on record at ``known_at`` (the event then
    never counted, at any moment), ``voided_later`` that it was recorded after."""

    voided_by_id: int | None
    voided_at: datetime | None
    void_reason: str | None
    voided: bool
    voided_later: bool
    counted: bool = Field(description="A completed or passed event that counted at as_of.")
    recorded_later: bool = Field(description="Recorded after as_of (back-dated).")
    late_entry: bool = Field(
        description="Recorded more than COURSEPACK_LATE_ENTRY_INTERVAL after it occurred."
    )
    course_code: str
    course_name: str
    recorded_by: str


class TranscriptAnswer(Schema):
    """An enrollment's answer for the transcript's moment on one timeline."""

    version_id: int
    version_number: int
    status: Literal["not_started", "in_progress", "completed", "withdrawn"]
    progress_status: Literal["not_started", "in_progress", "completed"]
    progress_done: int
    progress_needed: int
    completed_at: datetime | None
    withdrawn_at: datetime | None


class TranscriptChange(Schema):
    id: int
    package_name: str
    then: TranscriptAnswer | None = Field(description="As known at known_then; null: no record.")
    later: TranscriptAnswer | None = Field(description="As known at known_later.")


class TranscriptChangesOut(Schema):
    """The same moment as known at two times: did anything recorded between change it?"""

    known_then: datetime
    known_later: datetime
    changed: bool
    enrollments: list[TranscriptChange]
    recorded: list[TranscriptEvent] = Field(
        description="Events about the moment, and voids of them, recorded in between."
    )


class TranscriptOut(Schema):
    learner_id: int
    learner_username: str
    as_of: datetime
    known_at: datetime = Field(description="Only facts recorded by then count (default: now).")
    generated_at: datetime
    enrollments: list[TranscriptEnrollment]
    events: list[TranscriptEvent]
    changes: TranscriptChangesOut | None = Field(
        description=(
            "The answer as known at known_at (when earlier than now; else as known at "
            "as_of, what the record showed then) against as known now; null for as_of "
            "now or later, as known now."
        )
    )


# --- accounts --------------------------------------------------------------------------


class MeOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    role: Literal["admin", "auditor", "manager", "learner"]


class UserOut(MeOut):
    email: str
    is_active: bool
    external_id: str | None = Field(
        None, description="The person's id in the HR system, when one was given."
    )


class UserIn(Input):
    username: Username
    role: Literal["admin", "auditor", "manager", "learner"] = "learner"
    first_name: PersonName = ""
    last_name: PersonName = ""
    email: Email = ""
    # Without a password the response carries a set-password link for the person.
    password: Password | None = None
    external_id: ExternalId | None = None


class UserPatch(Input):
    """The fields of a user to change; the fields left out stay as they are."""

    email: Email | None = None
    external_id: ExternalId | None = None
    role: Literal["admin", "auditor", "manager", "learner"] | None = None
    active: StrictBool | None = None
    notes: Text = ""


class PasswordLinkOut(Schema):
    """A link the person opens to set their password: give it to them privately."""

    url: str
    expires_at: datetime


class UserCreated(UserOut):
    set_password: PasswordLinkOut | None


class RoleIn(Input):
    role: Literal["admin", "auditor", "manager", "learner"]


class AccessNotesIn(Input):
    notes: Text = ""


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None


class TokenIn(Input):
    name: TokenName
    expires_in_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = Field(
        None,
        description="Days until the token stops working (default 90; the server's "
        "maximum, 365 unless configured, is enforced).",
    )


class TokenIssued(Schema):
    token: TokenOut
    secret: str = Field(description="The whole token. Shown only now; store it safely.")
