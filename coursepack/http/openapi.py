"""The finishing pass over API v1's OpenAPI document (ADR 0028, issue 17).

ninja builds the document from the views and schemas; this pass makes it what a
generated client needs:

* every enum is one named component (``Role``, ``EnrollmentStatus``), used by
  inputs, outputs and parameters alike, so a client has one type per concept;
* every property and parameter has a description. A field name means the same
  thing everywhere in v1 (one term per concept), so it is described once, in
  ``FIELDS``; a schema's own ``Field(description=…)`` wins;
* every request body has an example, built from ``FIELDS``' example values and
  checked against its schema by the tests;
* every 201 declares (and sends, ``location_for``) a ``Location`` header; the
  operations that return a draft's ``ETag`` declare it.

Tests (tests/http/test_api_schema_complete.py) walk the document and fail on any
gap, so a new endpoint must add its words here or in its own schemas.
"""

from __future__ import annotations

import copy
from typing import Any, get_args

from coursepack.http.problems import ETAG, LOCATION

# Each enum of v1, by its set of values: (component name, description).
ENUMS: dict[frozenset[str], tuple[str, str]] = {
    frozenset({"delivered", "failed"}): (
        "WebhookOutcome",
        "How a webhook delivery attempt ended: `delivered` (a 2xx answer) or `failed`.",
    ),
    frozenset({"admin", "auditor", "manager", "learner"}): (
        "Role",
        "What a user may do: `admin` manages everything, `auditor` reads everything, "
        "`manager` reads the people of the org units they manage, `learner` reads their own.",
    ),
    frozenset({"active", "retired"}): (
        "CatalogStatus",
        "`active`: in use; `retired`: kept for history, cannot be added to drafts "
        "(courses) or enrolled in (packages).",
    ),
    frozenset({"not_started", "in_progress", "completed"}): (
        "EnrollmentStatus",
        "How far a learner is: nothing counted yet, something counted, or the "
        "version's requirements are met.",
    ),
    frozenset({"not_started", "in_progress", "completed", "withdrawn"}): (
        "EnrollmentState",
        "An enrollment's status, or `withdrawn` when it was withdrawn (its status "
        "is then kept as it was).",
    ),
    frozenset({"completed", "passed", "failed", "void"}): (
        "EventKind",
        "What a completion event says: the course was completed, passed or failed, "
        "or (`void`) an earlier event is voided.",
    ),
    frozenset({"completed", "passed", "failed"}): (
        "CompletionKind",
        "The outcome a completion records (completed and passed count; failed does not).",
    ),
    frozenset({"manual", "api", "import", "xapi"}): (
        "CompletionSource",
        "Where a completion came from: an admin's page, the API, a legacy import, an "
        "xAPI statement.",
    ),
    frozenset(
        {
            "current",
            "due_for_recertification",
            "expiring",
            "overdue",
            "expired",
            "exempt",
            "in_progress",
            "not_started",
        }
    ): (
        "Standing",
        "A learner's standing in a package at a moment (docs/api.md, 'Standing').",
    ),
    frozenset(
        {
            "current",
            "complete",
            "due_for_recertification",
            "overdue",
            "expired",
            "exempt",
            "in_progress",
            "not_started",
            "not_assigned",
        }
    ): (
        "MatrixState",
        "What a training-matrix cell shows for one person and one package.",
    ),
    frozenset({"family", "series", "choice"}): (
        "GroupKind",
        "`family`: complete 1 of N; `series`: all, in order; `choice`: X of Y, the "
        "required items among them.",
    ),
    frozenset({"draft", "scheduled", "published", "archived"}): (
        "PackageFileVersionStatus",
        "A version's status as a package file records it: `draft`, `scheduled`, "
        "`published` (the one in effect when the file was written) or `archived`.",
    ),
    frozenset({"draft", "scheduled", "active", "archived"}): (
        "VersionStatus",
        "Where a package version is: `draft` (editable), `scheduled` (published, "
        "effective later), `active` (what new enrollments get), `archived`.",
    ),
    frozenset({"draft", "published"}): (
        "GroupVersionStatus",
        "A group version's status: `draft` (editable) or `published` (immutable).",
    ),
    frozenset({"package", "course", "family", "series", "choice"}): (
        "NodeKind",
        "What a node of the requirement tree is: the package version, a course, or a group "
        "by its rule.",
    ),
    frozenset({"staged", "applying", "applied"}): (
        "PeopleSyncStatus",
        "Where a people sync is: previewed, being applied, or applied.",
    ),
    frozenset({"name", "-name", "unit", "-unit"}): (
        "MatrixSort",
        "Sort the matrix rows by name or org unit; a leading `-` reverses.",
    ),
    frozenset({"assigned", "due_soon", "overdue", "expiring", "completed", "manager_digest"}): (
        "MessageKind",
        "Which notification a message is.",
    ),
    frozenset({"pending", "sending", "sent", "failed", "skipped"}): (
        "MessageStatus",
        "Where a notification message is in its delivery.",
    ),
    frozenset({"csv", "jsonl"}): ("ExportFormat", "The file format of an export."),
    frozenset({"query", "path", "header"}): (
        "ParameterLocation",
        "Where an invalid parameter was sent.",
    ),
    frozenset({"course", "group"}): ("ItemKind", "What an item of a version or group is."),
    frozenset({"keep", "move_not_started", "move_in_progress"}): (
        "InflightPolicy",
        "At publish, who moves to the new version: nobody (`keep`), learners not "
        "started, or learners in progress too (keeping their credit).",
    ),
    frozenset({"completed", "in_progress", "not_started", "locked"}): (
        "NodeState",
        "A node of the requirement tree: met, partly met, untouched, or locked (a "
        "series item whose predecessor is not complete).",
    ),
    frozenset({"after_enrolment", "after_hire", "fixed", "never"}): (
        "DueKind",
        "How an enrollment's due date is set: N days after enrolment or hire, a "
        "fixed date, or none.",
    ),
    frozenset({"tested_out", "equivalent_au", "equivalent_outside_activity", "administrative"}): (
        "ExemptionReason",
        "Why an exemption was given (cmi5's `waived` reasons).",
    ),
    frozenset({"withdraw", "keep"}): (
        "LeaverPolicy",
        "What happens to the enrollments of people who leave an audience.",
    ),
    frozenset({"enrolled", "already_enrolled", "unknown_learner", "repeated"}): (
        "BulkOutcome",
        "What a bulk enrolment did with one item of its list.",
    ),
    frozenset({"report", "matrix", "standing", "exceptions"}): (
        "ExportKind",
        "What an export job writes: a report, the training matrix, a standing list, or "
        "a section of a package's exceptions.",
    ),
    frozenset({"since_last_full_run", "everything"}): (
        "VerificationScope",
        "What an audit-chain verification checked.",
    ),
}

# One description (and, for request examples, one example value) per field name.
# A field of the same name means the same thing in every schema of v1.
_: Any = None
FIELDS: dict[str, tuple[str, Any]] = {
    "id": ("This resource's id; it never changes.", _),
    "action": ("What was done, e.g. `publish`.", _),
    "active": ("Whether it is active (a deactivated one is kept for history).", True),
    "actor": ("The username of who did it.", _),
    "added": ("Items in the newer version only.", _),
    "against": ("The version number to compare with (default: the previous one).", _),
    "all_learners": ("Enrol every active learner.", False),
    "already_enrolled": ("Learners left alone: they already had an open enrollment.", _),
    "applied_retroactively_at": ("When the equivalence was applied retroactively, or null.", _),
    "archived_at": ("When the version was archived, or null.", _),
    "as_of": ("The moment the answer describes (RFC 3339).", _),
    "attempts": ("How many times sending was tried.", _),
    "audience": ("The package's audience rule.", _),
    "body_html": ("The message body as HTML (placeholders filled in).", "<p>Hello {name}</p>"),
    "body_text": ("The message body as plain text (placeholders filled in).", "Hello {name}"),
    "both_ways": ("Whether each course also counts for the other.", False),
    "by_status": ("Open enrollments of the current version, per status.", _),
    "category": ("A free-text category that groups packages in lists.", "Safety"),
    "cells": ("One cell per package column.", _),
    "change_notes": ("The admin's notes on the change, kept on the record.", "Yearly review"),
    "changed": ("Whether anything differs between the two timelines.", _),
    "children": ("The node's items, in order.", _),
    "code": ("A short unique code (a natural key: stable, set by the organisation).", "FIRE-101"),
    "column_page": ("Which page of package columns (1-based).", 1),
    "column_pages": ("How many pages of package columns there are.", _),
    "columns": ("The packages shown as columns.", _),
    "completed": ("How many enrollments are completed.", _),
    "completed_at": (
        "When the requirements were first met (the time of the event that met them), or null.",
        _,
    ),
    "completed_late": ("Whether it was completed after its due date.", _),
    "completed_late_count": ("How many enrollments were completed late.", _),
    "count": ("How many rows match, over all pages.", _),
    "counts": ("Counts per category.", _),
    "course_code": ("The course's code.", _),
    "course_name": ("The course's name.", _),
    "create_courses": (
        "Create the courses the file names that the catalog lacks (default: refuse).",
        _,
    ),
    "created": ("Whether this request created it (false: an earlier one did).", _),
    "created_at": ("When it was created.", _),
    "created_courses": ("Codes of the courses the import created.", _),
    "created_groups": ("Names of the groups the import created.", _),
    "customised": ("Whether an admin changed the template from its default.", _),
    "depth": ("How deep the unit is in the tree (0: a root).", _),
    "description": ("A longer description, in plain text.", "What every employee must know."),
    "done": ("How many required parts are done.", _),
    "due": ("The due date in force, or null.", _),
    "due_at": ("The due date (RFC 3339).", "2026-06-30T17:00:00Z"),
    "due_at_enrolment": ("The due date set at enrolment, before any extension.", _),
    "due_before_enrolment": ("Enrollments whose due date was before they were made.", _),
    "due_before_enrolment_count": ("How many enrollments were due before they were made.", _),
    "due_days": ("Days after enrolment or hire that the training is due.", 30),
    "due_fixed_at": ("The fixed due date (when `due_kind` is `fixed`).", _),
    "due_in_force": ("The due date in force at `as_of` (after extensions), or null.", _),
    "due_kind": ("How the due date is set.", "after_enrolment"),
    "due_soon_days": ("Days before the due date to send `due_soon` reminders.", [7, 1]),
    "duration_minutes": ("How long the course takes, in minutes.", 45),
    "effective_at": ("When it takes effect.", _),
    "effective_from": (
        "When the version becomes the one new enrollments get (null: at once).",
        _,
    ),
    "email": ("The e-mail address (may be empty).", "ada@example.com"),
    "enabled": ("Whether the schedule sends anything.", True),
    "ended_at": ("When it ended, or null.", _),
    "ends_at": ("When it ends, or null (open-ended).", _),
    "enrolled": ("How many learners are (or were newly) enrolled.", _),
    "enrolled_at": ("When the learner was enrolled on this version.", _),
    "enrollment": ("The enrollment.", _),
    "enrollments": ("The enrollments.", _),
    "enrollments_changed": ("Ids of the enrollments whose status this changed.", _),
    "enrollments_checked": ("How many enrollments the preview looked at.", _),
    "equivalence": ("The equivalence.", _),
    "equivalences_used": ("Equivalences that counted for this enrollment.", _),
    "error": ("Why it failed, or null.", _),
    "event": ("The completion event.", _),
    "events": ("The completion events.", _),
    "evidence_note": ("A note on the evidence for the event (e.g. where it came from).", ""),
    "exemptions": ("The exemptions.", _),
    "exemptions_count": ("How many exemptions.", _),
    "exemptions_used": ("Exemptions that counted for this enrollment.", _),
    "expires": ("When the completion expires, or null.", _),
    "expires_at": ("When it expires, or null (never).", _),
    "expiring_days": ("Days before expiry to send `expiring` reminders.", [30]),
    "expiring_within_days": ("Count `expiring` standings that expire within this many days.", 30),
    "explanation": ("A sentence a person can read saying why.", _),
    "extensions": ("The due-date extensions, oldest first.", _),
    "external_id": (
        "The id another system (e.g. the HR system) knows this user by; unique.",
        "E-1042",
    ),
    "filters": ("The filters the report applied, echoed.", _),
    "finished_at": ("When it finished, or null.", _),
    "first_name": ("The given name.", "Ada"),
    "format": ("The file format.", "csv"),
    "from": ("The start of the range (RFC 3339 or a date).", _),
    "from_version_number": ("The version number the enrollment moved from.", _),
    "full_name": ("The person's full name.", _),
    "further_from_completion": ("How many would be further from completion.", _),
    "gain_completion": ("How many would become complete.", _),
    "generated_at": ("When this answer was made.", _),
    "grace_days": ("Days after expiry during which the standing is `overdue`, not `expired`.", 0),
    "group": ("The group.", _),
    "group_version_number": ("The pinned group version's number.", _),
    "hire_date": ("The person's hire date.", "2024-09-01"),
    "hired_after": ("Only people hired after this date.", _),
    "history": ("Include every version, oldest first (default: only the given one).", _),
    "impact": ("What applying it retroactively would change.", _),
    "in_progress": ("How many enrollments are in progress.", _),
    "inflight_policy": ("Who moves to the new version at publish.", "keep"),
    "intact": ("Whether the audit chain verified intact.", _),
    "into": ("Import as a new draft of this package (default: a new package).", _),
    "is_active": ("Whether the account may sign in and use the API.", _),
    "items": ("The items, in order.", _),
    "job": ("The background job started, or null.", _),
    "job_title": ("The person's job title.", "Engineer"),
    "job_titles": ("Only people with one of these job titles (empty: any).", _),
    "kind": ("What kind it is.", _),
    "key": (
        "A natural key: unique, set by the organisation (or derived from the name when "
        "created), never changes.",
        "fire-safety",
    ),
    "group_key": ("The group's natural key.", _),
    "number": ("The version's number.", _),
    "course": ("A course, by its code.", _),
    "kind_label": ("The kind, in words.", _),
    "known_at": ("Use only facts recorded by this moment (default: now).", _),
    "known_later": ("The answer using everything recorded since.", _),
    "known_then": ("The answer as known at the moment asked about.", _),
    "label": ("A name a person reads.", _),
    "lapsing": ("Exemptions that end soon.", _),
    "lapsing_count": ("How many exemptions end soon.", _),
    "lapsing_within_days": ("What 'soon' means for `lapsing`, in days.", _),
    "last_completed_at": ("When the learner last completed anything, or null.", _),
    "last_name": ("The family name.", "Lovelace"),
    "last_used_at": ("When the token was last used, or null.", _),
    "learner_username": ("The learner's username.", _),
    "leaver_policy": ("What happens to the enrollments of people who leave.", "withdraw"),
    "lifecycle": ("Due date, validity and standing of the enrollment.", _),
    "limit": ("The most rows returned per page.", _),
    "lose_completion": ("How many would lose their completion.", _),
    "min_count": ("`choice` only: how many items must be complete (null: all).", _),
    "modified": ("Items in both versions that changed.", _),
    "moved": ("Whether the item moved.", _),
    "moved_at": ("When the enrollment moved.", _),
    "moved_enrollments": ("How many enrollments moved to the new version.", _),
    "moves": ("How many enrollments would move.", _),
    "name": ("A name a person reads.", "Fire Safety"),
    "needed": ("How many required parts there are.", _),
    "new": ("The value after.", _),
    "new_group_versions": ("Groups the import gave a new version.", _),
    "new_position": ("The position after.", _),
    "new_version_number": ("The newer version's number.", _),
    "next_courses": ("What to do next: every course neither complete nor locked, in order.", _),
    "not_started": ("How many enrollments are not started.", _),
    "note": ("A note, kept on the record.", "Passed the equivalent external exam"),
    "notes": ("The admin's notes, kept on the record.", "Requested by HR"),
    "occurred_at": ("When it happened (true from).", "2026-03-01T09:00:00Z"),
    "offset": ("How many ranked rows to skip.", _),
    "offset_days": ("The schedule offset that sent the message, in days.", _),
    "old": ("The value before.", _),
    "old_position": ("The position before.", _),
    "old_version_number": ("The older version's number.", _),
    "open": ("Only open enrollments (true) or only withdrawn ones (false).", _),
    "open_enrollments": ("How many open enrollments the current version has.", _),
    "opened_at": ("When the period opened.", _),
    "optional_done": ("How many optional items are done.", _),
    "optional_next": ("Optional courses that may be done next.", _),
    "optional_total": ("How many optional items there are.", _),
    "org_unit": ("The org unit.", _),
    "org_unit_code": ("The code of the person's org unit, or null.", _),
    "overdue_every_days": ("Repeat `overdue` reminders every N days (null: once).", 7),
    "overdue_since": ("Since when it is overdue, or null.", _),
    "package": ("The package.", _),
    "package_name": ("The package's name.", _),
    "page": ("Which page (1-based).", 1),
    "pages": ("How many pages there are.", _),
    "parent_code": ("The code of the parent unit, or null (a root).", _),
    "password": ("A password; leave out to send a set-password link instead.", _),
    "path": ("Where the node is in the tree, e.g. `2.1`.", _),
    "per_page": ("Rows per page.", 50),
    "percent": ("How much is done, 0 to 100.", _),
    "period": ("The certification period (1: the first).", _),
    "periods": ("The certification periods, oldest first.", _),
    "placeholders": ("The placeholders the template may use.", _),
    "policies": ("The impact of each in-flight policy.", _),
    "policy": ("The in-flight policy.", _),
    "position": ("The position among the items (1-based).", 1),
    "prefix": ("The first characters of the token (to recognise it).", _),
    "progress_done": ("How many required items are done.", _),
    "progress_needed": ("How many required items there are.", _),
    "published_at": ("When it was published, or null.", _),
    "q": ("Only those whose name or code contains this text.", _),
    "reason": ("Why, in words, kept on the record.", "Entered against the wrong learner"),
    "recertification_opens_at": ("When the recertification window opens, or null.", _),
    "recipient": ("The username the message is for.", _),
    "recorded_at": ("When the system recorded it.", _),
    "recorded_by": ("The username of who recorded it.", _),
    "removed": ("Items in the older version only.", _),
    "required": ("Whether the item is required (optional items never block completion).", True),
    "result": ("What the job produced, or null until it succeeds.", _),
    "results": ("One result per item of the request, in order.", _),
    "retroactive": ("Whether it counts from before it was recorded.", False),
    "reused_groups": ("Groups the import reused unchanged.", _),
    "revision": ("The draft's revision (its ETag); increases with each change.", _),
    "revoked_at": ("When it was revoked, or null.", _),
    "role": ("What the user may do.", "learner"),
    "rows": ("The rows of this page.", _),
    "rows_checked": ("How many audit rows were checked.", _),
    "satisfied_at": ("When the node was first satisfied, or null.", _),
    "scheduled": ("Whether the version takes effect later (`effective_from`).", _),
    "search": ("Only learners whose username or name contains this text.", _),
    "send_assigned": ("Send a message when someone is enrolled.", True),
    "send_completed": ("Send a message when someone completes.", False),
    "sent_at": ("When the message was sent, or null.", _),
    "set_password": ("A one-time link for the user to choose a password, or null.", _),
    "sort": ("How to sort.", _),
    "source": ("Where it came from.", "api"),
    "standing": ("The standing in the package at `as_of`.", _),
    "standing_since": ("Since when the standing holds.", _),
    "standing_until": ("Until when the standing holds, or null.", _),
    "started_at": ("When it started, or null.", _),
    "starts_at": ("When it starts.", "2026-01-01T00:00:00Z"),
    "state": ("Where it is in its life.", _),
    "status": ("Its status.", _),
    "progress_status": (
        "How far the learner was (as of the withdrawal, for a withdrawn enrollment).",
        _,
    ),
    "subject": ("The message subject (placeholders filled in).", "Training assigned: {package}"),
    "summary": ("A sentence a person reads.", _),
    "to": ("The end of the range (RFC 3339 or a date).", _),
    "to_address": ("The e-mail address it was sent to.", _),
    "to_version_number": ("The version number the enrollment moved to.", _),
    "token": ("The token.", _),
    "total": ("How many there are in all.", _),
    "totals": ("Counts over every version.", _),
    "tree": ("The requirement tree with each node's state.", _),
    "unkeyed": ("How many audit rows predate the keyed chain.", _),
    "unknown_learners": ("Learner ids that do not exist (nobody enrolled for them).", _),
    "updated_at": ("When it last changed.", _),
    "url": ("The URL.", _),
    "username": ("The sign-in name; unique.", "ada"),
    "valid_days": ("How long a completion stays valid, in days (null: forever).", 365),
    "verified_at": ("When the chain was verified.", _),
    "version": ("The version.", _),
    "version_name": ("The version's name.", _),
    "version_number": ("The version's number (1, 2, …; gapless per package or group).", _),
    "versions": ("The versions, newest first.", _),
    "void_reason": ("Why the event was voided, or null.", _),
    "voided": ("Whether the event is voided.", _),
    "voided_at": ("When the event was voided, or null.", _),
    "voided_later": ("Whether it was voided after the moment asked about.", _),
    "why_not_complete": ("Sentences saying what is still needed.", _),
    "window_days": ("Days before expiry that the recertification window opens.", 30),
    "withdrawn": ("How many enrollments are withdrawn.", _),
    "withdrawn_at": ("When the enrollment was withdrawn, or null.", _),
    "would_complete": ("How many enrollments would become complete.", _),
    "secret": ("The token itself: shown once, send it as `Authorization: Bearer …`.", _),
    "existing_id": ("The id of the resource that already exists.", _),
}

# Names whose meaning depends on the schema they are in.
QUALIFIED: dict[str, str] = {
    "CourseOut.status": "Whether the course is active or retired.",
    "PackageOut.status": "Whether the package is active or retired.",
    "CourseFilters.status": "Only courses of this status.",
    "PackageFilters.status": "Only packages of this status.",
    "EnrollmentFilters.status": "Only enrollments of this status.",
    "VersionSummaryOut.status": "Where the version is, counting its effective date.",
    "VersionOut.status": "Where the version is, counting its effective date.",
    "VersionReportOut.status": "Where the version is, counting its effective date.",
    "GroupVersionOut.status": "The group version's status.",
    "GroupVersionSummary.status": "The group version's status.",
    "EnrollmentOut.status": (
        "How far the learner is (the stored status cache), or `withdrawn` once the "
        "enrollment was withdrawn (its progress is then kept in `progress_*`)."
    ),
    "PackageOut.key": "The package's natural key: unique, never changes.",
    "GroupOut.key": "The group's natural key: unique, never changes.",
    "PackageIn.key": (
        "The package's natural key (lower-case slug, unique, never changes). A key "
        "another package has is 409 `package_key_taken` with its `existing_id`, so a "
        "retried create never makes a second package. Absent: derived from the name."
    ),
    "GroupIn.key": (
        "The group's natural key (lower-case slug, unique, never changes). A key "
        "another group has is 409 `group_key_taken` with its `existing_id`. Absent: "
        "derived from the name."
    ),
    "CompletionIn.kind": "The outcome: completed, passed or failed.",
    "CompletionOut.kind": "What the event says.",
    "EventFilters.kind": "Only events of this kind.",
    "GroupIn.kind": "The group's rule.",
    "GroupOut.kind": "The group's rule.",
    "GroupVersionOut.kind": "The group's rule.",
    "GroupVersionSummary.kind": "The group's rule.",
    "GroupDraftPatch.kind": "The group's rule.",
    "GroupItemOut.kind": "Whether the item is a course or a group.",
    "VersionItemOut.kind": "Whether the item is a course or a group.",
    "DiffItem.kind": "Whether the item is a course or a group.",
    "ModifiedItemOut.kind": "Whether the item is a course or a group.",
    "NodeOut.kind": "What the node is: the version, a group or a course.",
    "MessageFilters.kind": "Only messages of this kind.",
    "MessageFilters.status": "Only messages of this status.",
    "ExemptIn.reason": "Why the exemption is given.",
}


def _values(*choices: Any) -> tuple[str, ...]:
    return tuple(str(v) for c in choices for v in c)


# Response fields that are plain strings in their schema but always one of a
# model's choices: declared as that enum.
OUTPUT_ENUMS: dict[str, tuple[str, ...]] = {}


def _output_enums() -> dict[str, tuple[str, ...]]:
    """Build OUTPUT_ENUMS from the models' choices (read when the document is built,
    not at import: this module is imported while the apps load)."""
    if OUTPUT_ENUMS:
        return OUTPUT_ENUMS
    from coursepack.catalog.models import CourseStatus
    from coursepack.jobs.models import JobKind, JobStatus
    from coursepack.learning.models import EnrollmentStatus, EventKind, EventSource
    from coursepack.notifications.models import MessageKind, MessageStatus
    from coursepack.organisation.models import PeopleSyncStatus
    from coursepack.packaging.models import (
        GroupKind,
        GroupVersionStatus,
        PackageStatus,
    )
    from coursepack.reports.lifecycle_tables import SECTIONS
    from coursepack.reports.matrix import STATES
    from coursepack.rules.evaluate import NodeKind

    versions = ("draft", "scheduled", "active", "archived")
    inflight = ("keep", "move_not_started", "move_in_progress")
    table = {
        "CourseOut.status": _values(CourseStatus),
        "PackageOut.status": _values(PackageStatus),
        "GroupOut.kind": _values(GroupKind),
        "GroupVersionOut.kind": _values(GroupKind),
        "GroupVersionSummary.kind": _values(GroupKind),
        "GroupVersionOut.status": _values(GroupVersionStatus),
        "GroupVersionSummary.status": _values(GroupVersionStatus),
        "VersionReportOut.status": versions,
        "EnrollmentOut.status": (*_values(EnrollmentStatus), "withdrawn"),
        "TranscriptEnrollment.status": (*_values(EnrollmentStatus), "withdrawn"),
        "StandingEntryOut.status": _values(EnrollmentStatus),
        "PeriodOut.status": _values(EnrollmentStatus),
        "RecordedCompletionOut.kind": _values(EventKind),
        "TranscriptEvent.kind": _values(EventKind),
        "RecordedCompletionOut.source": _values(EventSource),
        "TranscriptEvent.source": _values(EventSource),
        "JobOut.kind": _values(JobKind),
        "JobOut.status": _values(JobStatus),
        "SyncJobOut.status": _values(PeopleSyncStatus),
        "MessageOut.kind": _values(MessageKind),
        "MessageDetail.kind": _values(MessageKind),
        "TemplateOut.kind": _values(MessageKind),
        "MessageOut.status": _values(MessageStatus),
        "MessageDetail.status": _values(MessageStatus),
        "NodeOut.kind": get_args(NodeKind),
        "PublishRecordOut.inflight_policy": inflight,
        "VersionMoveOut.policy": inflight,
        "CellOut.state": tuple(STATES),
        "ExportOut.status": _values(JobStatus),
    }
    # Jobs gain kinds as features come: the enum follows the model.
    ENUMS[frozenset(_values(JobKind))] = ("JobKind", "What a background job does.")
    ENUMS[frozenset(_values(JobStatus))] = ("JobStatus", "Where a background job is.")
    ENUMS[frozenset(SECTIONS)] = ("ExceptionSection", "A section of a package's exceptions.")
    OUTPUT_ENUMS.update(table)
    return OUTPUT_ENUMS


# Descriptions of operations whose view has no docstring.
OPERATIONS: dict[str, str] = {
    "get_course": "Return one course of the catalog.",
    "retire_course": "Retire a course: it stays in every version that uses it but cannot be "
    "added to a draft (audited, with notes).",
    "reactivate_course": "Make a retired course active again (audited, with notes).",
    "get_group": "Return one course group with its versions, newest first.",
    "discard_group_draft": "Delete a group's draft version (204). Published versions cannot be "
    "deleted.",
    "remove_group_item": "Remove an item from a group draft; the items after it move up.",
    "get_package": "Return one package with its active, latest published and draft versions.",
    "remove_item": "Remove an item from a package draft; the items after it move up.",
    "get_enrollment": "Return one enrollment with its stored status and progress.",
}

# Where what a 201 created can be read, by operation id: a path under /api/v1
# with ``{…}`` naming a field of the response body (dotted for nested, ``0`` for
# the first of a list).
LOCATIONS: dict[str, str] = {
    "create_user": "/users/{id}",
    "issue_token": "/tokens/{token.id}",
    "create_course": "/courses/{id}",
    "create_group": "/group-versions/{id}",
    "new_group_draft": "/group-versions/{id}",
    "add_group_item": "/group-versions/{id}",
    "create_package": "/packages/{package.id}",
    "add_item": "/versions/{id}",
    "new_draft": "/versions/{id}",
    "enroll": "/enrollments/{id}",
    "record_completion": "/completions/{event.id}",
    "void": "/completions/{event.id}",
    "extend_due_dates": "/enrollments/{extensions.0.enrollment_id}/lifecycle",
    "exempt": "/enrollments/{exemptions.0.enrollment_id}/lifecycle",
    "revoke_exemption": "/enrollments/{enrollment_id}/lifecycle",
    "create_equivalence": "/equivalences/{equivalence.id}",
    "import_package": "/versions/{draft_version_id}",
    "create_unit": "/org-units/{id}",
    "create_webhook": "/webhooks/{id}",
    "issue_user_token": "/tokens/{token.id}",
}

# Operations whose 200 or 201 carries a draft's ETag.
ETAGS = frozenset(
    {
        "get_version",
        "update_draft",
        "add_item",
        "edit_item",
        "remove_item",
        "use_latest_group_version",
        "new_draft",
        "get_group_version",
        "update_group_draft",
        "add_group_item",
        "edit_group_item",
        "remove_group_item",
    }
)

_ETAG_WHEN = ETAG + " Sent when the version is a draft."


def location_for(operation_id: str, body: Any) -> str | None:
    """Return the path (under /api/v1) of what the 201 of ``operation_id`` created,
    read from its response ``body``, or None if the operation declares none."""
    template = LOCATIONS.get(operation_id)
    if template is None:
        return None
    parts = template.split("{")
    path = parts[0]
    for part in parts[1:]:
        field, rest = part.split("}", 1)
        value: Any = body
        for step in field.split("."):
            value = value[int(step)] if isinstance(value, list) else value.get(step)
        path += f"{value}{rest}"
    return path


def finish(schema: dict[str, Any]) -> None:
    """Complete ninja's document in place (see the module docstring)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    enums = _output_enums()
    for name, component in list(components.items()):
        for field, prop in component.get("properties", {}).items():
            values = enums.get(f"{name}.{field}")
            if values is not None and prop.get("type") == "string" and "enum" not in prop:
                prop["enum"] = list(values)
    for where, node in _objects(schema):
        for field, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict):
                _describe(prop, f"{node.get('title', where)}.{field}", field)
    for operations in schema["paths"].values():
        for operation in operations.values():
            _finish_operation(operation, components)
    _name_enums(schema, components)


def _objects(node: Any, where: str = "") -> Any:
    """Yield (name, object) for every JSON object in the document."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _objects(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value, where)


def _describe(target: dict[str, Any], qualified: str, field: str) -> None:
    if target.get("description"):
        return
    text = QUALIFIED.get(qualified) or FIELDS.get(field, (None, None))[0]
    if text is None:
        if field.endswith("_ids"):
            text = f"Ids of the {field[:-4].replace('_', ' ')}s."
        elif field.endswith("_id"):
            text = f"The id of the {field[:-3].replace('_', ' ')}."
    if text is not None:
        target["description"] = text


def _finish_operation(operation: dict[str, Any], components: dict[str, Any]) -> None:
    operation_id = operation.get("operationId", "")
    if not operation.get("description") and operation_id in OPERATIONS:
        operation["description"] = OPERATIONS[operation_id]
    for parameter in operation.get("parameters", []):
        _describe(parameter, f"{operation_id}.{parameter['name']}", parameter["name"])
        if isinstance(parameter.get("examples"), list):
            # JSON Schema's list form is not OpenAPI's map of named examples.
            parameter["example"] = parameter.pop("examples")[0]
    # ninja keys responses by int, the added ones by str: JSON has only str keys.
    responses = operation["responses"] = {
        str(status): response for status, response in operation.get("responses", {}).items()
    }
    for status, response in responses.items():
        response.setdefault("description", "OK")
        if str(status) == "201" and operation_id in LOCATIONS:
            response.setdefault("headers", {})["Location"] = {
                "description": LOCATION,
                "required": True,
                "schema": {"type": "string"},
            }
        if str(status) in ("200", "201") and operation_id in ETAGS:
            response.setdefault("headers", {})["ETag"] = {
                "description": _ETAG_WHEN,
                "schema": {"type": "string"},
            }
    body = operation.get("requestBody", {}).get("content", {})
    for media in body.values():
        if "example" not in media and "examples" not in media and "schema" in media:
            media["example"] = _example(media["schema"], components)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return components[ref.rsplit("/", 1)[1]]
    return schema


def _example(schema: dict[str, Any], components: dict[str, Any], field: str = "") -> Any:
    """Return an example of ``schema``: FIELDS' example for a named field, else the
    simplest value the schema allows."""
    schema = _resolve(schema, components)
    fixed = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    given = FIELDS.get(field, (None, None))[1]
    if given is not None and (fixed is None or given in fixed):
        return given
    if "example" in schema:
        return schema["example"]
    if schema.get("examples") and schema.get("type") != "object":
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            variants = [v for v in schema[key] if v.get("type") != "null"]
            return _example(variants[0], components, field)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return {
            name: _example(prop, components, name)
            for name, prop in properties.items()
            if name in required or (name in FIELDS and FIELDS[name][1] is not None)
        }
    if kind == "array":
        minimum = max(1, schema.get("minItems", 1))
        return [_example(schema.get("items", {}), components) for _ in range(minimum)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-03-01T09:00:00Z"
        if schema.get("format") == "date":
            return "2026-03-01"
        return "text"
    return {}


def _name_enums(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Replace every inline enum that ENUMS names by a $ref to one component."""
    used: dict[str, dict[str, Any]] = {}

    def visit(node: Any, inside_component: str | None) -> Any:
        if isinstance(node, list):
            return [visit(item, inside_component) for item in node]
        if not isinstance(node, dict):
            return node
        values = node.get("enum")
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            named = ENUMS.get(frozenset(values))
            if named is not None and named[0] != inside_component:
                name, text = named
                used.setdefault(name, {"type": "string", "enum": list(values), "title": name})
                used[name].setdefault("description", text)
                rest = {k: v for k, v in node.items() if k not in ("enum", "type", "title")}
                return {"$ref": f"#/components/schemas/{name}", **rest}
        return {key: visit(value, inside_component) for key, value in node.items()}

    schema["paths"] = visit(schema["paths"], None)
    for name in list(components):
        components[name] = visit(components[name], name)
    for name, component in used.items():
        if name in components and components[name].get("enum") != component["enum"]:
            raise ValueError(f"The enum component {name!r} would replace a schema of that name.")
        components[name] = copy.deepcopy(component)
