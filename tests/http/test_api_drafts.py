"""Draft edits carry a version tag: GET gives an ETag, a stale If-Match gets 412 and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, where

from coursepack.packaging.models import CourseGroupVersion, PackageVersion
from tests.factories import make_course, make_draft_package, make_group, make_published_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _row(model: Any, pk: int) -> dict[str, Any]:
    return model.objects.filter(pk=pk).values().get()  # type: ignore[no-any-return]


def test_a_draft_has_an_etag_and_a_published_version_has_none(admin: Caller) -> None:
    """GET of a draft carries ETag "<revision>"; a published version is immutable: no ETag."""
    draft = make_draft_package()
    published = make_published_package()

    response = admin.call("GET", f"/versions/{draft.pk}")

    assert response.status_code == 200
    assert response["ETag"] == f'"{response.json()["revision"]}"'
    assert not admin.call("GET", f"/versions/{published.pk}").has_header("ETag")


def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(admin: Caller) -> None:
    """Two admins edit the same draft: the second edit, made on the old tag, is refused."""
    draft = make_draft_package(name="Draft")
    tag = admin.call("GET", f"/versions/{draft.pk}")["ETag"]
    first = admin.call("PATCH", f"/versions/{draft.pk}", {"name": "First"}, {"If-Match": tag})
    assert first.status_code == 200
    assert first["ETag"] != tag
    before = _row(PackageVersion, draft.pk)

    stale = admin.call("PATCH", f"/versions/{draft.pk}", {"name": "Second"}, {"If-Match": tag})

    assert stale.status_code == 412
    assert problem(stale)["code"] == "stale_revision"
    assert _row(PackageVersion, draft.pk) == before
    assert before["name"] == "First"


def test_an_edit_with_the_current_tag_succeeds_and_returns_the_next_tag(admin: Caller) -> None:
    """Each edit made with the current ETag is applied; the response carries the new one,
    which is the one GET returns, and which the next edit must use."""
    course = make_course()
    draft = make_draft_package()
    tag = admin.call("GET", f"/versions/{draft.pk}")["ETag"]

    added = admin.call(
        "POST", f"/versions/{draft.pk}/items", {"course_id": course.pk}, {"If-Match": tag}
    )
    assert added.status_code == 201
    new_tag = added["ETag"]
    assert new_tag != tag
    assert admin.call("GET", f"/versions/{draft.pk}")["ETag"] == new_tag
    item = next(i for i in added.json()["items"] if i["course_id"] == course.pk)

    moved = admin.call(
        "PATCH",
        f"/versions/{draft.pk}/items/{item['id']}",
        {"position": 1, "required": False},
        {"If-Match": new_tag},
    )
    assert moved.status_code == 200
    assert moved.json()["items"][0] == {**item, "position": 1, "required": False}
    assert moved["ETag"] not in (tag, new_tag)

    # The tag before the move no longer works for removing the item.
    removed = admin.call(
        "DELETE", f"/versions/{draft.pk}/items/{item['id']}", headers={"If-Match": new_tag}
    )
    assert removed.status_code == 412
    assert len(admin.call("GET", f"/versions/{draft.pk}").json()["items"]) == 2


def test_publishing_with_a_stale_tag_publishes_nothing(admin: Caller) -> None:
    """A publish made on an outdated view of the draft is refused: the draft stays a draft."""
    draft = make_draft_package()
    tag = admin.call("GET", f"/versions/{draft.pk}")["ETag"]
    admin.call("PATCH", f"/versions/{draft.pk}", {"description": "Changed meanwhile"})

    response = admin.call("POST", f"/versions/{draft.pk}/publish", {}, {"If-Match": tag})

    assert response.status_code == 412
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_without_if_match_or_with_a_star_the_edit_applies(admin: Caller) -> None:
    """If-Match is optional (last write wins); "*" matches any revision."""
    draft = make_draft_package()

    assert admin.call("PATCH", f"/versions/{draft.pk}", {"name": "A"}).status_code == 200
    starred = admin.call("PATCH", f"/versions/{draft.pk}", {"name": "B"}, {"If-Match": "*"})
    assert starred.status_code == 200
    assert starred.json()["name"] == "B"


@pytest.mark.parametrize("if_match", ["abc", '"12a"', "", '"1", "2"'])
def test_an_if_match_that_is_no_etag_of_ours_is_invalid_input(admin: Caller, if_match: str) -> None:
    """A malformed If-Match is 422 naming the header, not a silent overwrite."""
    draft = make_draft_package(name="Kept")

    response = admin.call("PATCH", f"/versions/{draft.pk}", {"name": "X"}, {"If-Match": if_match})

    assert response.status_code == 422
    assert [where(e) for e in problem(response)["errors"]] == ["If-Match"]
    draft.refresh_from_db()
    assert draft.name == "Kept"


def test_group_drafts_carry_tags_too(admin: Caller) -> None:
    """The same rules for group drafts: ETag on GET, 412 on a stale edit, a new tag after."""
    c1, c2 = make_course(), make_course()
    gv = make_group(items=[c1], publish=False)
    tag = admin.call("GET", f"/group-versions/{gv.pk}")["ETag"]
    assert tag == f'"{gv.revision}"'

    added = admin.call(
        "POST", f"/group-versions/{gv.pk}/items", {"course_id": c2.pk}, {"If-Match": tag}
    )
    assert added.status_code == 201
    before = _row(CourseGroupVersion, gv.pk)

    stale = admin.call("PATCH", f"/group-versions/{gv.pk}", {"name": "Late"}, {"If-Match": tag})

    assert stale.status_code == 412
    assert problem(stale)["code"] == "stale_revision"
    assert _row(CourseGroupVersion, gv.pk) == before
    published = admin.call(
        "POST", f"/group-versions/{gv.pk}/publish", {}, {"If-Match": added["ETag"]}
    )
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert not admin.call("GET", f"/group-versions/{gv.pk}").has_header("ETag")


def test_a_weak_if_match_never_matches(admin: Caller) -> None:
    """If-Match compares strongly: W/"<current revision>" is 412 and the draft is unchanged."""
    draft = make_draft_package(name="Kept")
    tag = admin.call("GET", f"/versions/{draft.pk}")["ETag"]

    weak = admin.call("PATCH", f"/versions/{draft.pk}", {"name": "X"}, {"If-Match": f"W/{tag}"})

    assert weak.status_code == 412
    assert problem(weak)["code"] == "stale_revision"
    draft.refresh_from_db()
    assert draft.name == "Kept"
    strong = admin.call("PATCH", f"/versions/{draft.pk}", {"name": "X"}, {"If-Match": tag})
    assert strong.status_code == 200
