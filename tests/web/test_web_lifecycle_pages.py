"""The lifecycle pages through Django's test client: extend one learner's due date,
exempt them from an item, revoke an exemption, extend ticked learners' due dates from
the standing page, and the exceptions page; each form's success and its refusal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors
from coursepack.learning import selectors as learning_selectors
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_draft_package, make_learner

pytestmark = pytest.mark.django_db


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(admin: Any) -> dict[str, Any]:
    first, second = make_course(), make_course()
    draft = make_draft_package(items=[first, second])
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    learners = [make_learner(username=f"pupil{n}") for n in range(3)]
    enrollments = [
        learning.enroll(actor=admin, learner_id=p.pk, package_id=draft.package_id) for p in learners
    ]
    return {"package_id": draft.package_id, "enrollments": enrollments, "courses": (first, second)}


def _due(enrollment_id: int) -> datetime:
    due = learning_selectors.get_enrollment(enrollment_id).due_in_force
    assert due is not None
    return due


def test_extending_one_due_date_shows_it_on_the_progress_page(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    e = world["enrollments"][0]
    assert client_as_admin.get(f"/enrollments/{e.pk}/extend/").status_code == 200
    later = (timezone.now() + timedelta(days=60)).replace(second=0, microsecond=0)
    response = client_as_admin.post(
        f"/enrollments/{e.pk}/extend/",
        {"due_at": _local(later), "reason": "Parental leave"},
        follow=True,
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "is now due on" in text  # the success banner
    assert "Parental leave" in text and "(extended)" in text
    assert _due(e.pk) == later


def test_an_earlier_due_date_is_refused_at_the_field(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    e = world["enrollments"][0]
    before = _due(e.pk)
    response = client_as_admin.post(
        f"/enrollments/{e.pk}/extend/",
        {"due_at": _local(before - timedelta(days=1)), "reason": "Too early"},
    )
    text = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in text and 'href="#id_due_at"' in text
    assert "choose a later date" in text
    assert _due(e.pk) == before
    missing = client_as_admin.post(f"/enrollments/{e.pk}/extend/", {"due_at": "", "reason": ""})
    assert missing.status_code == 400 and "This field is required" in missing.content.decode()


def test_exempting_from_one_item_then_revoking_it(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    e = world["enrollments"][0]
    first = world["courses"][0]
    form = client_as_admin.get(f"/enrollments/{e.pk}/exempt/").content.decode()
    assert f'value="course:{first.pk}"' in form and "The whole enrollment" in form
    response = client_as_admin.post(
        f"/enrollments/{e.pk}/exempt/",
        {"item": f"course:{first.pk}", "reason": "tested_out", "note": "Passed the test"},
        follow=True,
    )
    text = response.content.decode()
    assert "is exempt from course" in text and "Passed the test" in text
    exemption = lifecycle_selectors.enrollment_exemptions(e.pk).get()
    assert exemption.course_id == first.pk and exemption.reason == "tested_out"
    url = f"/enrollments/{e.pk}/exemptions/{exemption.pk}/revoke/"
    assert url in text  # the progress page offers the revocation
    refused = client_as_admin.post(url, {"reason": ""})
    assert refused.status_code == 400 and "There is a problem" in refused.content.decode()
    revoked = client_as_admin.post(url, {"reason": "Granted in error"}, follow=True)
    assert "no longer counts from now" in revoked.content.decode()
    assert "revoked" in revoked.content.decode()
    again = client_as_admin.post(url, {"reason": "Twice"})
    assert again.status_code == 400 and "already revoked" in again.content.decode()


def test_one_learners_waiver_until_a_date_is_shown_with_its_end(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    """The exemption form takes "valid until"; the progress page shows the end."""
    e = world["enrollments"][2]
    until = (timezone.now() + timedelta(days=9)).replace(second=0, microsecond=0)
    response = client_as_admin.post(
        f"/enrollments/{e.pk}/exempt/",
        {"item": "", "reason": "administrative", "note": "Leave", "ends_at": _local(until)},
        follow=True,
    )
    text = response.content.decode()
    assert "is exempt from the whole enrollment" in text
    assert f"until {timezone.localtime(until):%Y-%m-%d %H:%M}" in text
    assert lifecycle_selectors.enrollment_exemptions(e.pk).get().ends_at == until


def test_an_exemption_needs_a_reason_and_an_item_of_the_version(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    e = world["enrollments"][0]
    no_reason = client_as_admin.post(f"/enrollments/{e.pk}/exempt/", {"item": "", "reason": ""})
    assert no_reason.status_code == 400
    assert 'href="#id_reason"' in no_reason.content.decode()
    stranger = make_course()
    foreign = client_as_admin.post(
        f"/enrollments/{e.pk}/exempt/", {"item": f"course:{stranger.pk}", "reason": "tested_out"}
    )
    assert foreign.status_code == 400  # not a choice of this version
    assert not lifecycle_selectors.enrollment_exemptions(e.pk).exists()


def test_only_admins_extend_or_exempt(world: dict[str, Any]) -> None:
    e = world["enrollments"][0]
    learner = Client()
    learner.force_login(e.learner)
    assert learner.get(f"/enrollments/{e.pk}/extend/").status_code in (302, 403)
    assert learner.post(f"/enrollments/{e.pk}/exempt/", {"reason": "tested_out"}).status_code in (
        302,
        403,
    )
    assert not lifecycle_selectors.enrollment_exemptions(e.pk).exists()


def test_ticked_learners_get_a_later_due_date_from_the_standing_page(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    package_id = world["package_id"]
    first, second, third = world["enrollments"]
    page = client_as_admin.get(f"/packages/{package_id}/standing/", {"standing": "not_started"})
    assert f'name="enrollments" value="{first.pk}"' in page.content.decode()
    later = (timezone.now() + timedelta(days=90)).replace(second=0, microsecond=0)
    response = client_as_admin.post(
        f"/packages/{package_id}/standing/extend/",
        {
            "enrollments": [first.pk, second.pk],
            "due_at": _local(later),
            "reason": "Audit moved",
            "standing": "not_started",
        },
        follow=True,
    )
    assert "Extended 2 learners" in response.content.decode()
    assert _due(first.pk) == later and _due(second.pk) == later and _due(third.pk) != later


def test_the_bulk_extension_refuses_nothing_ticked_or_an_earlier_date(
    client_as_admin: Client, world: dict[str, Any]
) -> None:
    package_id = world["package_id"]
    first = world["enrollments"][0]
    before = _due(first.pk)
    url = f"/packages/{package_id}/standing/extend/"
    none = client_as_admin.post(url, {"due_at": _local(before + timedelta(days=5)), "reason": "x"})
    assert none.status_code == 400 and "Tick at least one learner" in none.content.decode()
    early = client_as_admin.post(
        url,
        {"enrollments": [first.pk], "due_at": _local(before - timedelta(days=5)), "reason": "x"},
    )
    text = early.content.decode()
    assert early.status_code == 400 and "choose a later date" in text
    assert f'name="enrollments" value="{first.pk}"' in text  # kept for the retry
    assert _due(first.pk) == before


def test_the_exceptions_page_lists_exemptions_in_force(
    client_as_admin: Client, admin: Any, world: dict[str, Any]
) -> None:
    e = world["enrollments"][1]
    learning.exempt(actor=admin, enrollment_ids=[e.pk], reason="administrative", note="Retired")
    standing = client_as_admin.get(f"/packages/{world['package_id']}/standing/").content.decode()
    assert f"/packages/{world['package_id']}/exceptions/" in standing
    page = client_as_admin.get(
        f"/packages/{world['package_id']}/exceptions/", {"section": "exempt"}
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "Exemptions in force" in text and "pupil1" in text and "Retired" in text


def test_the_exceptions_page_lists_exemptions_about_to_lapse_with_downloads(
    client_as_admin: Client, admin: Any, world: dict[str, Any]
) -> None:
    """Exemptions ending within N days are listed soonest first, paged, and downloadable
    as CSV and XLSX; one ending later, or with no end, is not among them."""
    first, second, third = world["enrollments"]
    soon = timezone.now() + timedelta(days=3)
    learning.exempt(
        actor=admin, enrollment_ids=[first.pk], reason="administrative", note="Leave", ends_at=soon
    )
    learning.exempt(
        actor=admin,
        enrollment_ids=[second.pk],
        reason="administrative",
        ends_at=timezone.now() + timedelta(days=40),
    )
    learning.exempt(actor=admin, enrollment_ids=[third.pk], reason="administrative")
    url = f"/packages/{world['package_id']}/exceptions/"
    page = client_as_admin.get(url, {"section": "lapsing", "within": "30"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Exemptions about to lapse within 30 days" in text
    assert "pupil0" in text and "pupil1" not in text and "pupil2" not in text
    assert timezone.localtime(soon).strftime("%Y-%m-%d %H:%M") in text
    wider = client_as_admin.get(url, {"section": "lapsing", "within": "60"}).content.decode()
    assert wider.index("pupil0") < wider.index("pupil1") and "pupil2" not in wider
    csv = client_as_admin.get(
        f"/packages/{world['package_id']}/exceptions.csv", {"section": "lapsing", "within": "30"}
    )
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Learner,Exempt from,Reason,Note,Since,Valid until")
    assert len(lines) == 2 and lines[1].startswith("pupil0,Whole enrollment,Administrative,Leave")
    xlsx = client_as_admin.get(
        f"/packages/{world['package_id']}/exceptions.xlsx", {"section": "lapsing"}
    )
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content)[:2] == b"PK"


def test_ticked_learners_are_exempted_from_the_standing_page_in_one_go(
    client_as_admin: Client, admin: Any, world: dict[str, Any]
) -> None:
    """The standing page's selection opens the exemption dialog; its post exempts every
    ticked learner (until the date given), audited, or — one refused — none of them."""
    package_id = world["package_id"]
    first, second, third = world["enrollments"]
    url = f"/packages/{package_id}/standing/exempt/"
    dialog = client_as_admin.post(url, {"enrollments": [first.pk, second.pk]})
    text = dialog.content.decode()
    assert dialog.status_code == 200 and "Exempt 2 learners" in text
    assert "Valid until (optional)" in text and 'name="step" value="exempt"' in text
    until = (timezone.now() + timedelta(days=20)).replace(second=0, microsecond=0)
    done = client_as_admin.post(
        url,
        {
            "step": "exempt",
            "enrollments": [first.pk, second.pk],
            "item": f"course:{world['courses'][0].pk}",
            "reason": "equivalent_outside_activity",
            "note": "External certificate",
            "ends_at": _local(until),
            "standing": "not_started",
        },
        follow=True,
    )
    assert "Exempted 2 learners from course" in done.content.decode()
    for e in (first, second):
        (x,) = lifecycle_selectors.enrollment_exemptions(e.pk)
        assert x.ends_at == until and x.course_id == world["courses"][0].pk
    assert not lifecycle_selectors.enrollment_exemptions(third.pk).exists()
    assert AuditEvent.objects.filter(action="enrollment.exempted").count() == 2
    # One closed enrollment among the ticked: nothing is recorded, and the page says why.
    learning.withdraw(actor=admin, enrollment_id=third.pk)
    refused = client_as_admin.post(
        url,
        {"step": "exempt", "enrollments": [first.pk, third.pk], "reason": "administrative"},
    )
    text = refused.content.decode()
    assert refused.status_code == 400 and f"Enrollment {third.pk} is closed" in text
    assert lifecycle_selectors.enrollment_exemptions(first.pk).count() == 1
    nothing = client_as_admin.post(url, {"step": "exempt", "reason": "administrative"})
    assert nothing.status_code == 400 and "Tick at least one learner" in nothing.content.decode()
    past = client_as_admin.post(
        url,
        {
            "step": "exempt",
            "enrollments": [first.pk],
            "reason": "administrative",
            "ends_at": _local(timezone.now() - timedelta(days=1)),
        },
    )
    assert past.status_code == 400 and "must be in the future" in past.content.decode()


@pytest.fixture
def credit(admin: Any, world: dict[str, Any]) -> dict[str, Any]:
    """pupil0 completed an outside course before any equivalence; the package needs
    the first course (and the second, which pupil0 completed too)."""
    outside = make_course()
    learner = world["enrollments"][0].learner
    learning.record_completion(actor=admin, learner_id=learner.pk, course_id=outside.pk)
    learning.record_completion(actor=admin, learner_id=learner.pk, course_id=world["courses"][1].pk)
    return {"outside": outside, "target": world["courses"][0]}


def test_an_equivalence_is_checked_then_confirmed(
    client_as_admin: Client, world: dict[str, Any], credit: dict[str, Any]
) -> None:
    fields = {
        "source_course_id": credit["outside"].pk,
        "target_course_id": credit["target"].pk,
        "retroactive": "on",
    }
    check = client_as_admin.post("/equivalences/new/", {**fields, "step": "check"})
    text = check.content.decode()
    assert check.status_code == 200 and "1 enrollment would become complete" in text
    assert not lifecycle_selectors.equivalences().exists()  # nothing stored by the check
    confirm = client_as_admin.post("/equivalences/new/", {**fields, "step": "confirm"}, follow=True)
    assert "Created the equivalence; 1 enrollment became complete." in confirm.content.decode()
    assert learning_selectors.get_enrollment(world["enrollments"][0].pk).status == "completed"
    eq = lifecycle_selectors.equivalences().get()
    assert eq.retroactive and eq.source_id == credit["outside"].pk


def test_an_equivalence_of_a_course_with_itself_is_refused(
    client_as_admin: Client, credit: dict[str, Any]
) -> None:
    same = credit["target"].pk
    response = client_as_admin.post(
        "/equivalences/new/",
        {"source_course_id": same, "target_course_id": same, "step": "check"},
    )
    text = response.content.decode()
    assert response.status_code == 400 and "There is a problem" in text
    assert "choose a different course" in text and 'href="#id_target_course_id"' in text


def test_applying_retroactively_shows_the_impact_then_ending(
    client_as_admin: Client, admin: Any, world: dict[str, Any], credit: dict[str, Any]
) -> None:
    eq, impact = learning.create_equivalence(
        actor=admin, source_course_id=credit["outside"].pk, target_course_id=credit["target"].pk
    )
    assert impact.would_complete == 0  # the earlier completion does not count
    url = f"/equivalences/{eq.pk}/retroactive/"
    page = client_as_admin.get(url).content.decode()
    assert "1 enrollment would become complete" in page
    applied = client_as_admin.post(url, {"notes": "Agreed"}, follow=True).content.decode()
    assert "Applied retroactively" in applied
    assert learning_selectors.get_enrollment(world["enrollments"][0].pk).status == "completed"
    again = client_as_admin.post(url, {"notes": "Twice"})
    assert again.status_code == 400 and "There is a problem" in again.content.decode()
    ended = client_as_admin.post(f"/equivalences/{eq.pk}/end/", {}, follow=True)
    assert "Ended:" in ended.content.decode()
    assert client_as_admin.get(f"/equivalences/{eq.pk}/other/").status_code == 404
