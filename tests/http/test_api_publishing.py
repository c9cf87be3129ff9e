"""Publishing over the API: the impact preview, in-flight policies, scheduling, the log, diffs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, where
from django.utils import timezone

from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_group, make_learner, make_published_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _three_learners_on_v1(admin: Caller) -> tuple[Any, Any, dict[str, int]]:
    """v1 = [a, b]; learners: one not started, one in progress (a done), one complete."""
    a, b = make_course(code="A"), make_course(code="B")
    v1 = make_published_package(items=[a, b])
    enrollments = {}
    for status, done in (("not_started", []), ("in_progress", [a]), ("completed", [a, b])):
        learner = make_learner()
        enrollments[status] = learning.enroll(
            actor=admin.user, learner_id=learner.pk, package_id=v1.package_id
        ).pk
        for course in done:
            learning.record_completion(actor=admin.user, learner_id=learner.pk, course_id=course.pk)
    draft = packaging.create_draft_from(actor=admin.user, version_id=v1.pk)
    return v1, draft, enrollments


def test_the_preview_says_what_each_policy_would_do_and_changes_nothing(admin: Caller) -> None:
    """Adding a course to v2: the preview counts enrollments per status and, per policy,
    how many would move (none would gain completion; the completed learner is never moved)."""
    v1, draft, _ = _three_learners_on_v1(admin)
    packaging.add_item(actor=admin.user, version_id=draft.pk, course_id=make_course().pk)

    response = admin.call("GET", f"/versions/{draft.pk}/publish-preview")

    assert response.status_code == 200
    preview = response.json()
    assert preview["current_version_id"] == v1.pk
    assert preview["open_enrollments"] == 3
    assert preview["by_status"] == {"not_started": 1, "in_progress": 1, "completed": 1}
    assert preview["problems"] == []
    moves = {p["policy"]: p["moves"] for p in preview["policies"]}
    assert moves == {"keep": 0, "move_not_started": 1, "move_in_progress": 2}
    assert all(p["gain_completion"] == 0 for p in preview["policies"])
    assert set(Enrollment.objects.values_list("version_id", flat=True)) == {v1.pk}


def test_the_preview_of_an_unpublishable_draft_lists_its_problems(admin: Caller) -> None:
    """An empty draft: the preview lists why publishing would be refused."""
    created = admin.call("POST", "/packages", {"name": "Empty"}).json()

    preview = admin.call("GET", f"/versions/{created['draft_version_id']}/publish-preview").json()

    assert preview["problems"]
    assert preview["current_version_id"] is None


@pytest.mark.parametrize(
    ("policy", "moved"),
    [
        ("keep", set()),
        ("move_not_started", {"not_started"}),
        ("move_in_progress", {"not_started", "in_progress"}),
    ],
)
def test_publishing_moves_the_enrollments_the_policy_names(
    admin: Caller, policy: str, moved: set[str]
) -> None:
    """The chosen in-flight policy moves exactly the enrollments it names to the new version;
    the publish log records it."""
    v1, draft, enrollments = _three_learners_on_v1(admin)

    response = admin.call(
        "POST",
        f"/versions/{draft.pk}/publish",
        {"change_notes": "v2", "inflight_policy": policy},
    )

    assert response.status_code == 200, response.content
    outcome = response.json()
    assert outcome["previous_version_id"] == v1.pk
    assert outcome["scheduled"] is False
    assert outcome["moved_enrollments"] == len(moved)
    assert outcome["version"]["status"] == "active"
    on = {s: Enrollment.objects.get(pk=pk).version_id for s, pk in enrollments.items()}
    assert {s for s, v in on.items() if v == draft.pk} == moved
    log = admin.call("GET", f"/packages/{v1.package_id}/publish-log").json()["items"]
    last = log[-1]
    assert (last["version_id"], last["inflight_policy"], last["moved_enrollments"]) == (
        draft.pk,
        policy,
        len(moved),
    )
    assert last["change_notes"] == "v2"
    assert last["actor"] == admin.user.username


def test_a_future_effective_date_schedules_the_version(admin: Caller) -> None:
    """With effective_from in the future the version is scheduled; v1 stays active until then.
    Moving learners to a version not yet in effect is refused (422, nothing published)."""
    v1, draft, _ = _three_learners_on_v1(admin)
    when = (timezone.now() + timedelta(days=7)).isoformat()

    refused = admin.call(
        "POST",
        f"/versions/{draft.pk}/publish",
        {"effective_from": when, "inflight_policy": "move_not_started"},
    )
    assert refused.status_code == 422
    assert where(problem(refused)["errors"][0]) == "/inflight_policy"

    response = admin.call("POST", f"/versions/{draft.pk}/publish", {"effective_from": when})

    assert response.status_code == 200
    assert response.json()["scheduled"] is True
    assert response.json()["version"]["status"] == "scheduled"
    assert admin.call("GET", f"/packages/{v1.package_id}").json()["active_version_id"] == v1.pk
    states = {
        v["id"]: v["status"]
        for v in admin.call("GET", f"/packages/{v1.package_id}/versions").json()["items"]
    }
    assert states == {draft.pk: "scheduled", v1.pk: "active"}


def test_the_diff_says_what_changed_between_two_versions(admin: Caller) -> None:
    """Added, removed, made optional, and a group re-pinned to its newer version."""
    a, b, c, d = (make_course(code=code) for code in ("A", "B", "C", "D"))
    group = make_group(items=[c], name="Family")
    v1 = make_published_package(items=[a, b, group])
    group_v2 = packaging.new_group_draft(actor=admin.user, group_id=group.group_id)
    packaging.add_group_item(actor=admin.user, group_version_id=group_v2.pk, course_id=d.pk)
    packaging.publish_group_version(actor=admin.user, group_version_id=group_v2.pk)
    draft = admin.call("POST", f"/versions/{v1.pk}/drafts", {}).json()
    items = {i["course_code"] or i["name"]: i for i in draft["items"]}
    assert items["Family"]["newer_group_version_id"] == group_v2.pk
    v2 = draft["id"]
    admin.call("DELETE", f"/versions/{v2}/items/{items['B']['id']}")
    admin.call("PATCH", f"/versions/{v2}/items/{items['A']['id']}", {"required": False})
    admin.call("POST", f"/versions/{v2}/items", {"course_id": d.pk})
    repinned = admin.call(
        "POST", f"/versions/{v2}/items/{items['Family']['id']}/use-latest-group-version"
    )
    assert repinned.status_code == 200

    response = admin.call("GET", f"/versions/{v2}/diff?against={v1.pk}")

    assert response.status_code == 200
    diff = response.json()
    assert (diff["old_version_id"], diff["new_version_id"]) == (v1.pk, v2)
    assert (diff["old_version_number"], diff["new_version_number"]) == (1, 2)
    assert [i["id"] for i in diff["items"]["added"]] == [d.pk]
    assert [i["id"] for i in diff["items"]["removed"]] == [b.pk]
    modified = {m["name"]: m for m in diff["items"]["modified"]}
    assert modified[a.name]["required"] == {"old": True, "new": False}
    family = modified["Family"]["group"]
    assert family["version_number"] == {"old": 1, "new": 2}
    assert [i["id"] for i in family["items"]["added"]] == [d.pk]
    assert diff["summary"]
    missing = admin.call("GET", f"/versions/{v2}/diff?against=999999")
    assert missing.status_code == 404
