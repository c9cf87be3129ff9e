"""The operations pages through Django's test client: who may open which, the CSV
dry run's refusals, withdrawing, a refused completion shown in an error summary,
an expired confirmation, and My training for a learner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from tests.factories import make_course, make_group, make_published_package

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world() -> dict[str, Any]:
    admin = accounts.create_user(actor=None, username="ada", role=Role.ADMIN)
    auditor = accounts.create_user(actor=admin, username="aud", role=Role.AUDITOR)
    first, second, third = (make_course(actor=admin) for _ in range(3))
    series = make_group(actor=admin, items=[first, second], kind="series")
    version = make_published_package(actor=admin, items=[series, third], name="Onboarding")
    learners = [accounts.create_user(actor=admin, username=f"pupil{n}") for n in range(3)]
    enrollment = learning.enroll(
        actor=admin, learner_id=learners[0].pk, package_id=version.package_id
    )
    return {
        "admin": admin,
        "auditor": auditor,
        "learners": learners,
        "version": version,
        "enrollment": enrollment,
        "courses": (first, second, third),
    }


def test_each_role_opens_only_its_pages(world: dict[str, Any]) -> None:
    """Admins enrol and manage people; auditors read enrollments and progress but
    change nothing; a learner sees their own progress and My training, and anyone
    else's enrollment is "not found"."""
    e = world["enrollment"]
    admin, auditor = _client(world["admin"]), _client(world["auditor"])
    owner, stranger = _client(world["learners"][0]), _client(world["learners"][1])
    admin_pages = ["/enrol/", "/people/", f"/people/{world['learners'][1].pk}/", "/people/new/"]
    for url in admin_pages:
        assert admin.get(url).status_code == 200, url
        assert auditor.get(url).status_code == 403, url
        assert owner.get(url).status_code == 403, url
    for url in (f"/versions/{world['version'].pk}/enrollments/", f"/enrollments/{e.pk}/"):
        assert auditor.get(url).status_code == 200, url
    assert "Record a completion" not in auditor.get(f"/enrollments/{e.pk}/").content.decode()
    assert owner.get(f"/enrollments/{e.pk}/").status_code == 200
    assert stranger.get(f"/enrollments/{e.pk}/").status_code == 404
    assert owner.get(f"/versions/{world['version'].pk}/enrollments/").status_code == 403
    assert auditor.post(f"/enrollments/{e.pk}/withdraw/").status_code == 403
    assert Client().get("/my-training/").status_code == 302


def test_a_pasted_list_says_line_by_line_what_would_happen(world: dict[str, Any]) -> None:
    """Unknown, staff, already enrolled and repeated names are refused in the dry
    run; nothing is written until the confirmation, which enrols the others."""
    admin = _client(world["admin"])
    package_id = world["version"].package_id
    pasted = "pupil1, PUPIL2\npupil0 ghost\naud pupil1"
    page = admin.post("/enrol/", {"package": package_id, "usernames": pasted})
    text = page.content.decode()
    assert page.status_code == 200
    assert "2 learners</strong> would be enrolled" in text
    for expected in (
        "Nobody has the username “ghost”.",
        "pupil0 is already enrolled in this package.",
        "aud is an admin or auditor, not a learner.",
        "Listed twice: already on pasted name 1.",
    ):
        assert expected in text
    assert Enrollment.objects.filter(package_id=package_id).count() == 1
    key = page.context["key"]
    done = admin.post("/enrol/confirm/", {"key": key})
    assert done.status_code == 302
    assert Enrollment.objects.filter(package_id=package_id).count() == 3
    again = admin.post("/enrol/confirm/", {"key": key})
    assert again.status_code == 409
    assert Enrollment.objects.filter(package_id=package_id).count() == 3


def test_a_file_that_is_not_utf8_text_is_refused_with_what_to_do(world: dict[str, Any]) -> None:
    admin = _client(world["admin"])
    upload = SimpleUploadedFile("list.csv", "username\nzoë\n".encode("latin-1"))
    page = admin.post("/enrol/", {"package": world["version"].package_id, "csv_file": upload})
    assert page.status_code == 400
    assert "save it as “CSV UTF-8”" in page.content.decode()


def test_a_completion_in_the_future_is_refused_beside_its_field(world: dict[str, Any]) -> None:
    e = world["enrollment"]
    admin = _client(world["admin"])
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = admin.post(
        f"/enrollments/{e.pk}/record/",
        {
            "course": world["courses"][0].pk,
            "kind": "completed",
            "occurred_at": tomorrow,
            "source": "manual",
        },
    )
    text = page.content.decode()
    assert page.status_code == 400
    assert "There is a problem" in text
    assert 'href="#id_occurred_at"' in text and "cannot be in the future" in text


def test_withdrawing_keeps_the_record_and_says_so(world: dict[str, Any]) -> None:
    e = world["enrollment"]
    admin = _client(world["admin"])
    assert "Withdraw" in admin.get(f"/enrollments/{e.pk}/withdraw/").content.decode()
    done = admin.post(f"/enrollments/{e.pk}/withdraw/", {"notes": "Moved to another site"})
    assert done.status_code == 302
    e.refresh_from_db()
    assert e.withdrawn_at is not None
    page = admin.get(done["Location"]).content.decode()
    assert "Withdrew pupil0 from Onboarding." in page


def test_my_training_says_what_to_do_next_and_what_is_locked(world: dict[str, Any]) -> None:
    """The series' second course is locked until the first is done; then it unlocks."""
    learner = world["learners"][0]
    first, second, _ = world["courses"]
    page = _client(learner).get("/my-training/").content.decode()
    assert "What to do next" in page
    assert f'{second.name} <span class="meta">— unlocks when you complete {first.name}' in page
    learning.record_completion(actor=world["admin"], learner_id=learner.pk, course_id=first.pk)
    page = _client(learner).get("/my-training/").content.decode()
    assert "Locked for now" not in page
    # The series (one required item) is half done: the next step names its second course.
    assert "0 of 2 required done" in page
    assert f"Complete {second.name}" in page


def test_changing_a_role_on_the_people_page_is_refused_for_the_last_admin(
    world: dict[str, Any],
) -> None:
    admin = _client(world["admin"])
    page = admin.post(f"/people/{world['admin'].pk}/role/", {"role": "learner"})
    assert page.status_code == 400
    assert "You cannot take away your own admin role" in page.content.decode()
    assert accounts.role_of(world["admin"]) == Role.ADMIN
    other = world["learners"][2]
    done = admin.post(f"/people/{other.pk}/role/", {"role": "auditor"})
    assert done.status_code == 302
    assert accounts.role_of(other) == Role.AUDITOR


def test_a_void_needs_a_reason(world: dict[str, Any]) -> None:
    learner = world["learners"][0]
    event = learning.record_completion(
        actor=world["admin"], learner_id=learner.pk, course_id=world["courses"][2].pk
    ).event
    admin = _client(world["admin"])
    refused = admin.post(f"/events/{event.pk}/void/", {"reason": "  "})
    assert refused.status_code == 400
    done = admin.post(
        f"/events/{event.pk}/void/",
        {"reason": "Wrong course", "next": f"/enrollments/{world['enrollment'].pk}/"},
    )
    assert done.status_code == 302 and done["Location"] == f"/enrollments/{world['enrollment'].pk}/"


def test_the_learner_search_works_as_a_plain_form_and_as_a_fragment(
    world: dict[str, Any],
) -> None:
    """GET /enrol/?q= lists matching learners (already enrolled ones disabled), keeping
    those ticked; /enrol/search/ returns the same list alone, for htmx to swap in."""
    admin = _client(world["admin"])
    package_id = world["version"].package_id
    ticked = world["learners"][2]
    page = admin.get(
        "/enrol/", {"package": package_id, "q": "pupil", "learners": [ticked.pk]}
    ).content.decode()
    assert f'value="{ticked.pk}" checked' in page
    assert "pupil0 · already enrolled" in page
    assert "aud" not in page.split('id="candidates"')[1].split("</fieldset>")[0]
    fragment = admin.get("/enrol/search/", {"package": package_id, "q": "pupil1"})
    text = fragment.content.decode()
    assert text.lstrip().startswith('<fieldset class="candidates" id="candidates"')
    assert "pupil1" in text and "pupil2" not in text
