"""The records pages through Django's test client: who may see what, the as-of picker,
the printable view, the audit log's filters and pages, and the publish log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from records_helpers import frozen_clock, signed_in

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit import api as audit
from coursepack.audit import selectors as audit_selectors
from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.factories import (
    add_items,
    make_course,
    make_learner,
    make_published_package,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _transcript_url(learner: Any) -> str:
    return f"/learners/{learner.pk}/transcript/"


@pytest.fixture
def auditor(db: None) -> Any:
    return accounts.create_user(actor=None, username="auditor", role=Role.AUDITOR)


# --- access ------------------------------------------------------------------------


def test_learner_reads_own_transcript_and_gets_404_for_anyone_elses(learner: Any) -> None:
    """A learner's own transcript opens; another learner's is "not found", like one
    that does not exist; the staff pages are refused."""
    other = make_learner()
    client = signed_in(learner)
    assert client.get(_transcript_url(learner)).status_code == 200
    assert client.get(_transcript_url(other)).status_code == 404
    assert client.get(f"/learners/{other.pk + 100}/transcript/").status_code == 404
    assert client.get("/learners/").status_code == 403
    assert client.get("/audit/").status_code == 403


def test_staff_read_any_transcript_and_visitors_are_sent_to_sign_in(
    admin: Any, auditor: Any, learner: Any
) -> None:
    """Admins and auditors read anyone's transcript; an unknown learner is 404; a visitor
    who is not signed in is sent to the sign-in page."""
    for user in (admin, auditor):
        client = signed_in(user)
        assert client.get(_transcript_url(learner)).status_code == 200
        assert client.get(f"/learners/{learner.pk + 100}/transcript/").status_code == 404
        assert client.get("/learners/").status_code == 200
        assert client.get("/audit/").status_code == 200
    response = Client().get(_transcript_url(learner))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- the transcript page -------------------------------------------------------------


@pytest.fixture
def voided_completion(admin: Any, learner: Any) -> dict[str, Any]:
    """A learner who completed Fire Safety on day 1; voided on day 3."""
    start = (timezone.now() - 20 * DAY).replace(hour=9, minute=0, second=0, microsecond=0)
    with frozen_clock(start) as clock:
        course = make_course(code="SAF-320", name="Fire Safety")
        version = make_published_package(actor=admin, items=[course], name="Safety")
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
        done = clock.advance(DAY)
        event = learning.record_completion(
            actor=admin, learner_id=learner.pk, course_id=course.pk, occurred_at=done
        ).event
        voided = clock.advance(2 * DAY)
        learning.void_event(actor=admin, event_id=event.pk, reason="Wrong person.")
    return {"start": start, "done": done, "voided": voided}


def test_transcript_as_of_a_day_shows_the_end_of_that_day(
    admin: Any, learner: Any, voided_completion: dict[str, Any]
) -> None:
    """?as_of=YYYY-MM-DD is the end of that day; as known then, the completion counted,
    voided later; as known now, it never counted, and the page says what changed."""
    day = voided_completion["done"].date().isoformat()
    response = signed_in(admin).get(_transcript_url(learner), {"as_of": day, "known_at": day})
    assert response.status_code == 200
    t = response.context["t"]
    assert t.as_of.date().isoformat() == day
    assert (t.as_of.hour, t.as_of.minute) == (23, 59)
    assert [e.status for e in t.enrollments] == ["completed"]
    body = response.content.decode()
    assert "(end of that day)" in body
    assert "voided later" in body
    assert "Wrong person." in body
    assert "what the record showed at that moment" in body
    assert "Recorded since: the answer changed" in body
    now = signed_in(admin).get(_transcript_url(learner), {"as_of": day})
    assert [e.status for e in now.context["t"].enrollments] == ["not_started"]
    assert "Recorded since: the answer changed" in now.content.decode()


def test_transcript_as_of_a_minute_and_now(
    admin: Any, learner: Any, voided_completion: dict[str, Any]
) -> None:
    """?as_of=YYYY-MM-DDTHH:MM is that minute; without it, the transcript is as of now."""
    client = signed_in(admin)
    before = timezone.localtime(voided_completion["done"] - timedelta(minutes=1))
    response = client.get(_transcript_url(learner), {"as_of": before.strftime("%Y-%m-%dT%H:%M")})
    t = response.context["t"]
    assert t.as_of == before.replace(second=0)
    assert [e.status for e in t.enrollments] == ["not_started"]
    assert t.events == ()
    now = client.get(_transcript_url(learner)).context["t"]
    assert [e.status for e in now.enrollments] == ["not_started"]
    assert [(e.kind, e.voided) for e in now.events] == [("completed", True), ("void", False)]


def test_transcript_as_of_before_enrolment_says_there_was_nothing(
    admin: Any, learner: Any, voided_completion: dict[str, Any]
) -> None:
    """Before the enrolment the page says the learner was not enrolled in anything yet."""
    day = (voided_completion["start"] - DAY).date().isoformat()
    response = signed_in(admin).get(_transcript_url(learner), {"as_of": day})
    assert response.context["t"].enrollments == ()
    assert "not enrolled in anything yet" in response.content.decode()


def test_malformed_as_of_is_explained_and_falls_back_to_now(admin: Any, learner: Any) -> None:
    """A value that names no moment is a 400 that says what to type, showing now instead."""
    response = signed_in(admin).get(_transcript_url(learner), {"as_of": "last tuesday"})
    assert response.status_code == 400
    assert "give a date (YYYY-MM-DD)" in response.content.decode()


def test_printable_view_has_the_header_and_no_navigation(
    admin: Any, learner: Any, voided_completion: dict[str, Any]
) -> None:
    """?print=1 renders a document: learner, as-of moment, generated-at, enrollments with
    version and status, events; no site navigation."""
    day = voided_completion["done"].date().isoformat()
    response = signed_in(admin).get(_transcript_url(learner), {"as_of": day, "print": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="print-doc"' in body
    assert 'class="topbar"' not in body
    for text in ("Training transcript", learner.username, "As of", "Generated", "Safety", "v1"):
        assert text in body, text
    assert "Completed" in body
    assert "SAF-320" in body


# --- the learners list ----------------------------------------------------------------


def test_learners_list_searches_and_links_to_transcripts(admin: Any) -> None:
    """The list finds people by username or name and links each to their transcript."""
    ada = make_learner(username="ada")
    ada.first_name, ada.last_name = "Ada", "Lovelace"
    ada.save()
    make_learner(username="grace")
    response = signed_in(admin).get("/learners/", {"q": "lovelace"})
    people = list(response.context["page"])
    assert [p.username for p in people] == ["ada"]
    assert f'href="/learners/{ada.pk}/transcript/"' in response.content.decode()


# --- the audit log ----------------------------------------------------------------------


def _audit(actor: Any, action: str, at: Any, package_id: int | None = None, **kw: Any) -> None:
    target = actor if actor is not None else make_learner()
    audit.record(actor=actor, action=action, target=target, at=at, package_id=package_id, **kw)


def test_audit_log_filters_by_actor_action_package_and_days(admin: Any, auditor: Any) -> None:
    """Each filter narrows the log; days are whole days, both ends included; newest first."""
    base = AuditEvent.objects.count()
    other = make_learner(username="zoe")
    day = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - 10 * DAY
    _audit(admin, "test.alpha", day, package_id=901)
    _audit(admin, "test.beta", day + DAY, package_id=902)
    _audit(other, "test.alpha", day + 2 * DAY, package_id=901)
    _audit(None, "test.gamma", day + 3 * DAY)
    client = signed_in(auditor)

    def actions(**params: Any) -> list[tuple[str, str]]:
        response = client.get("/audit/", params)
        assert response.status_code == 200, response.content
        return [
            (r.event.actor_label, r.event.action)
            for r in response.context["rows"]
            if r.event.action.startswith("test.")
        ]

    assert actions() == [
        ("system", "test.gamma"),
        ("zoe", "test.alpha"),
        (admin.username, "test.beta"),
        (admin.username, "test.alpha"),
    ]
    assert actions(action="test.alpha") == [("zoe", "test.alpha"), (admin.username, "test.alpha")]
    assert actions(actor="ZOE") == [("zoe", "test.alpha")]
    assert actions(actor="system", action="test.gamma") == [("system", "test.gamma")]
    # package 901 was never a real package: offered as a deleted one, and filterable
    assert actions(package="901") == [("zoe", "test.alpha"), (admin.username, "test.alpha")]
    first, second = (day + DAY).date().isoformat(), (day + 2 * DAY).date().isoformat()
    assert actions(**{"from": first, "to": second}) == [
        ("zoe", "test.alpha"),
        (admin.username, "test.beta"),
    ]
    assert actions(**{"from": second}) == [("system", "test.gamma"), ("zoe", "test.alpha")]
    assert AuditEvent.objects.count() == base + 4


def test_audit_log_refuses_a_backwards_range_and_unknown_choices(admin: Any) -> None:
    """'From' after 'To', or an action that never occurred, is a 400 that says why."""
    client = signed_in(admin)
    today = timezone.localdate()
    response = client.get("/audit/", {"from": today.isoformat(), "to": (today - DAY).isoformat()})
    assert response.status_code == 400
    assert "must be on or after" in response.content.decode()
    assert client.get("/audit/", {"action": "no.such.action"}).status_code == 400


def test_audit_log_pages_fifty_at_a_time_keeping_the_filters(admin: Any) -> None:
    """120 matching events make three pages of 50, 50 and 20; page links keep the filters."""
    at = timezone.now()
    for i in range(120):
        _audit(admin, "test.bulk", at + timedelta(seconds=i))
    client = signed_in(admin)
    first = client.get("/audit/", {"action": "test.bulk"})
    page = first.context["page"]
    assert (page.paginator.count, page.paginator.num_pages, len(page.object_list)) == (120, 3, 50)
    assert "?action=test.bulk&amp;page=2" in first.content.decode()
    last = client.get("/audit/", {"action": "test.bulk", "page": "3"})
    rows = last.context["rows"]
    assert len(rows) == 20
    # newest first: the last page holds the oldest events
    assert rows[-1].event.occurred_at == at


def test_audit_rows_summarise_before_and_after() -> None:
    """Only changed fields are listed, long lists counted, dates shortened, many fields capped."""
    summary = audit_selectors.change_summary
    assert summary({"status": "draft", "n": 1}, {"status": "published", "n": 1}) == [
        "status: draft → published"
    ]
    assert summary(None, {"learners": [1, 2, 3, 4, 5], "ok": True}) == [
        "learners: 5 items",
        "ok: yes",
    ]
    assert summary({"gone": "x"}, {}) == ["gone: x → —"]
    assert summary(None, {"at": "2024-03-05T14:30:00+00:00"}) == ["at: 2024-03-05 14:30"]
    many = summary(None, {f"k{i}": i for i in range(10)}, limit=4)
    assert many == ["k0: 0", "k1: 1", "k2: 2", "… and 7 more"]
    assert summary(None, None) == []


def test_audit_rows_of_a_real_publish(admin: Any) -> None:
    """A publish shows in the log with its target in words and its status change."""
    make_published_package(actor=admin, name="Fire drill", change_notes="First release.")
    response = signed_in(admin).get("/audit/", {"action": "version.published"})
    (row,) = response.context["rows"]
    assert row.target_kind == "package version"
    assert "status: draft → published" in row.changes
    assert row.event.notes == "First release."


# --- the publish log ---------------------------------------------------------------------


def test_publish_log_lists_who_published_and_archived_what_with_policy_and_moves(
    admin: Any, learner: Any
) -> None:
    """Newest first: v2 published (replacing v1) moving the learner not started, v1
    archived, v1 published; each with actor, notes and the in-flight policy."""
    course, extra = make_course(), make_course()
    v1 = make_published_package(actor=admin, items=[course], change_notes="First.")
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    add_items(actor=admin, version=draft, items=[extra])
    packaging.publish_version(
        actor=admin, version_id=draft.pk, change_notes="Second.", inflight_policy="move_not_started"
    )
    response = signed_in(admin).get(f"/packages/{v1.package_id}/publish-log/")
    assert response.status_code == 200
    records = response.context["records"]
    assert [(r.action, r.version.version_number) for r in records] == [
        ("published", 2),
        ("archived", 1),
        ("published", 1),
    ]
    newest = records[0]
    assert (newest.previous_version_id, newest.actor_id) == (v1.pk, admin.pk)
    assert (newest.inflight_policy, newest.moved_enrollments) == ("move_not_started", 1)
    body = response.content.decode()
    for text in ("Second.", "First.", "replaced by v2", "Moved those not started", "1 moved"):
        assert text in body, text
    assert admin.username in body


def test_publish_log_of_a_scheduled_version_and_unknown_package(admin: Any) -> None:
    """A scheduled publish shows the date it takes effect; an unknown package is 404;
    the package page links to its publish log."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    when = (timezone.now() + 5 * DAY).replace(second=0, microsecond=0)
    packaging.publish_version(actor=admin, version_id=draft.pk, effective_at=when)
    client = signed_in(admin)
    response = client.get(f"/packages/{v1.package_id}/publish-log/")
    records = response.context["records"]
    assert records[0].action == "scheduled"
    assert timezone.localtime(when).strftime("%Y-%m-%d %H:%M") in response.content.decode()
    assert client.get(f"/packages/{v1.package_id + 100}/publish-log/").status_code == 404
    detail = client.get(f"/packages/{v1.package_id}/").content.decode()
    assert f'href="/packages/{v1.package_id}/publish-log/"' in detail
