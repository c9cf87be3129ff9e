"""Turn domain objects into the API's response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coursepack import rules
from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.learning.transcript import (
    Transcript,
    TranscriptChanges,
    TranscriptEnrollment,
    TranscriptEvent,
    TranscriptLifecycle,
)
from coursepack.packaging.models import (
    CourseGroupItem,
    CourseGroupVersion,
    PackageVersion,
    PackageVersionItem,
)


def group_item(item: CourseGroupItem) -> dict[str, Any]:
    course, child = item.course, item.child_version
    return {
        "id": item.pk,
        "position": item.position,
        "kind": "course" if course is not None else "group",
        "name": course.name if course is not None else (child.name if child else ""),
        "course_id": item.course_id,
        "course_code": course.code if course is not None else None,
        "group_id": item.child_group_id,
        "group_version_id": item.child_version_id,
        "group_version_number": child.version_number if child is not None else None,
        "required": item.required,
    }


def group_version(gv: CourseGroupVersion) -> dict[str, Any]:
    items = gv.items.select_related("course", "child_version").order_by("position", "id")
    return {
        "id": gv.pk,
        "group_id": gv.group_id,
        "group_key": gv.group.key,
        "version_number": gv.version_number,
        "name": gv.name,
        "description": gv.description,
        "kind": gv.kind,
        "min_count": gv.min_count,
        "status": gv.status,
        "revision": gv.revision,
        "created_at": gv.created_at,
        "published_at": gv.published_at,
        "change_notes": gv.change_notes,
        "items": [group_item(i) for i in items],
    }


def version_summary(version: PackageVersion, state: str) -> dict[str, Any]:
    return {
        "id": version.pk,
        "package_id": version.package_id,
        "version_number": version.version_number,
        "name": version.name,
        # One term: the version's status counting its effective date (a scheduled
        # version whose date has come is `active`), not the stored column.
        "status": state,
        "revision": version.revision,
        "based_on_id": version.based_on_id,
        "created_at": version.created_at,
        "published_at": version.published_at,
        "effective_from": version.effective_from,
        "archived_at": version.archived_at,
        "change_notes": version.change_notes,
    }


def version_item(item: PackageVersionItem, newest: dict[int, int]) -> dict[str, Any]:
    course, gv = item.course, item.group_version
    newer = newest.get(item.group_id) if item.group_id is not None else None
    return {
        "id": item.pk,
        "position": item.position,
        "kind": "course" if course is not None else "group",
        "name": course.name if course is not None else (gv.name if gv else ""),
        "required": item.required,
        "course_id": item.course_id,
        "course_code": course.code if course is not None else None,
        "group_id": item.group_id,
        "group_version_id": item.group_version_id,
        "group_version_number": gv.version_number if gv is not None else None,
        "newer_group_version_id": newer if newer != item.group_version_id else None,
    }


def enrollment(e: Enrollment) -> dict[str, Any]:
    return {
        "id": e.pk,
        "learner_id": e.learner_id,
        "learner_username": e.learner.get_username(),
        "package_id": e.package_id,
        "package_name": e.package.name,
        "version_id": e.version_id,
        "version_number": e.version.version_number,
        "enrolled_at": e.enrolled_at,
        "withdrawn_at": e.withdrawn_at,
        # Withdrawn says so; its progress (frozen at the withdrawal) is in progress_*.
        "status": "withdrawn" if e.withdrawn_at is not None else e.status,
        "progress_done": e.progress_done,
        "progress_needed": e.progress_needed,
        "completed_at": e.completed_at,
    }


def event(e: CompletionEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "learner_id": e.learner_id,
        "course_id": e.course_id,
        "kind": e.kind,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "source": e.source,
        "external_id": e.external_id,
        "evidence_note": e.evidence_note,
        "late_reason": e.late_reason,
        "recorded_late": learning.recorded_late(e),
        "voids_id": e.voids_id,
        # A void is posted with a `reason`: answer it under that name too.
        "reason": e.evidence_note if e.kind == "void" else None,
    }


def _transcript_enrollment(t: Transcript, e: TranscriptEnrollment) -> dict[str, Any]:
    return {
        "id": e.enrollment_id,
        "learner_id": t.learner_id,
        "learner_username": t.learner_username,
        "package_id": e.package_id,
        "package_name": e.package_name,
        "version_id": e.version_id,
        "version_number": e.version_number,
        "version_name": e.version_name,
        "enrolled_at": e.enrolled_at,
        "withdrawn_at": e.withdrawn_at,
        "status": str(e.status),
        "progress_status": str(e.progress_status),
        "progress_done": e.progress_done,
        "progress_needed": e.progress_needed,
        "optional_done": e.optional_done,
        "optional_total": e.optional_total,
        "completed_at": e.completed_at,
        "satisfied_at": e.satisfied_at,
        "on_version_since": e.on_version_since,
        "satisfied_by_earlier_training": e.satisfied_by_earlier_training,
        "why_not_complete": list(e.why_not_complete),
        "moves": [
            {
                "from_version_id": m.from_version_id,
                "from_version_number": m.from_version_number,
                "to_version_id": m.to_version_id,
                "to_version_number": m.to_version_number,
                "moved_at": m.moved_at,
                "policy": m.policy,
            }
            for m in e.moves
        ],
        "lifecycle": _transcript_lifecycle(e.lifecycle) if e.lifecycle is not None else None,
    }


def _transcript_lifecycle(x: TranscriptLifecycle) -> dict[str, Any]:
    return {
        "period": x.period,
        "previous_period_id": x.previous_period_id,
        "due_at_enrolment": x.due_at_enrolment,
        "due_at": x.due_at,
        "extensions": [
            {
                "id": e.extension_id,
                "due_at": e.due_at,
                "effective_at": e.effective_at,
                "recorded_at": e.recorded_at,
                "recorded_by": e.granted_by,
                "reason": e.reason,
            }
            for e in x.extensions
        ],
        "overdue_since": x.overdue_since,
        "completed_late": x.completed_late,
        "expires_at": x.expires_at,
        "recertification_opens_at": x.recertification_opens_at,
        "exemptions_used": [
            {
                "id": e.exemption_id,
                "course_id": e.course_id,
                "group_id": e.group_id,
                "reason": str(e.reason),
                "ends_at": e.ends_at,
                "explanation": e.describe(),
                "note": e.note,
            }
            for e in x.exemptions_used
        ],
        "equivalences_used": [
            {
                "id": q.equivalence_id,
                "source_course_id": q.source_course_id,
                "target_course_id": q.target_course_id,
                "starts_at": q.starts_at,
                "retroactive": q.retroactive,
            }
            for q in x.equivalences_used
        ],
    }


def _transcript_event(t: Transcript, e: TranscriptEvent) -> dict[str, Any]:
    return {
        "id": e.event_id,
        "learner_id": t.learner_id,
        "course_id": e.course_id,
        "course_code": e.course_code,
        "course_name": e.course_name,
        "kind": e.kind,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "recorded_by": e.recorded_by,
        "source": e.source,
        "external_id": e.external_id,
        "evidence_note": e.evidence_note,
        "voids_id": e.voids_id,
        "voided_by_id": e.void.void_event_id if e.void else None,
        "voided_at": e.void.voided_at if e.void else None,
        "void_reason": e.void.reason if e.void else None,
        "voided": e.voided,
        "voided_later": e.voided_later,
        "counted": e.counted,
        "recorded_later": e.recorded_later,
        "late_entry": e.late_entry,
    }


def _answer(e: TranscriptEnrollment | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "version_id": e.version_id,
        "version_number": e.version_number,
        "status": str(e.status),
        "progress_status": str(e.progress_status),
        "progress_done": e.progress_done,
        "progress_needed": e.progress_needed,
        "completed_at": e.completed_at,
        "withdrawn_at": e.withdrawn_at,
    }


def _changes(t: Transcript, c: TranscriptChanges | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "known_then": c.known_then,
        "known_later": c.known_later,
        "changed": c.changed,
        "enrollments": [
            {
                "id": change.enrollment_id,
                "package_name": change.package_name,
                "then": _answer(change.before),
                "later": _answer(change.after),
            }
            for change in c.enrollments
        ],
        "recorded": [_transcript_event(t, e) for e in c.recorded],
    }


def transcript(t: Transcript) -> dict[str, Any]:
    return {
        "learner_id": t.learner_id,
        "learner_username": t.learner_username,
        "as_of": t.as_of,
        "known_at": t.known_at,
        "generated_at": t.generated_at,
        "enrollments": [_transcript_enrollment(t, e) for e in t.enrollments],
        "events": [_transcript_event(t, e) for e in t.events],
        "changes": _changes(t, t.changes),
    }


def course_ref(c: rules.CourseRef) -> dict[str, Any]:
    return {"course_id": c.course_id, "code": c.code, "name": c.name}


def node(n: rules.NodeResult) -> dict[str, Any]:
    return {
        "path": list(n.path),
        "label": n.label,
        "kind": n.kind,
        "required": n.required,
        "state": str(n.state),
        "done": n.done,
        "needed": n.needed,
        "satisfied_at": n.satisfied_at,
        "explanation": n.explanation,
        "next_courses": [course_ref(c) for c in n.next_courses],
        "children": [node(c) for c in n.children],
    }


def progress(e: Enrollment, ev: rules.Evaluation, as_of: datetime | None) -> dict[str, Any]:
    return {
        "enrollment": enrollment(e),
        "as_of": as_of,
        "status": str(ev.status),
        "completed_at": ev.completed_at,
        "done": ev.root.done,
        "needed": ev.root.needed,
        "optional_done": ev.optional_done,
        "optional_total": ev.optional_total,
        "why_not_complete": ev.why_not_complete(),
        "next_courses": [course_ref(c) for c in ev.root.next_courses],
        "optional_next": [course_ref(c) for c in ev.optional_next],
        "tree": node(ev.root),
    }


def _change(change: rules.Change[Any] | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"old": change.old, "new": change.new}


def _diff_item(position: int, item: rules.Item) -> dict[str, Any]:
    kind, ident = rules.item_key(item)
    return {
        "kind": kind,
        "id": ident,
        "name": item.node.name,
        "required": item.required,
        "position": position + 1,
    }


def items_diff(d: rules.ItemsDiff) -> dict[str, Any]:
    modified = []
    for m in d.modified:
        kind, ident = m.key
        group = None
        if m.group is not None:
            group = {
                "name": _change(m.group.name),
                "version_number": _change(m.group.version_number),
                "kind": _change(m.group.kind),
                "min_count": _change(m.group.min_count),
                "items": items_diff(m.group.items),
            }
        modified.append(
            {
                "kind": kind,
                "id": ident,
                "name": m.label,
                "old_position": m.old_position + 1,
                "new_position": m.new_position + 1,
                "moved": m.moved,
                "required": _change(m.required),
                "group": group,
            }
        )
    return {
        "added": [_diff_item(a.position, a.item) for a in d.added],
        "removed": [_diff_item(r.position, r.item) for r in d.removed],
        "modified": modified,
    }


def version_diff(old_id: int, new_id: int, d: rules.VersionDiff) -> dict[str, Any]:
    return {
        "old_version_id": old_id,
        "new_version_id": new_id,
        "old_version_number": d.old_version_number,
        "new_version_number": d.new_version_number,
        "name": _change(d.name),
        "items": items_diff(d.items),
        "summary": d.summary(),
    }
