"""The seed's business-rules table, cell by cell.

    Action                Draft   Published   Archived
    Edit content          yes     no          no
    Delete                yes     no          no
    Publish               yes     -           no
    Enroll users          no      yes         no
    View history          yes     yes         yes
    Clone to new version  no      yes         yes

Every refused cell raises a typed error whose message says what to do instead,
and leaves the database exactly as it was. A scheduled version (published with
a future effective date) behaves like a published one that is not yet active.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from packaging_helpers import History, make_history, versions_state

from coursepack.learning import api as learning
from coursepack.learning.errors import NoActiveVersion, VersionNotEnrollable
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    CannotCloneDraft,
    DraftAlreadyExists,
    PackageRetired,
    VersionNotDraft,
)
from coursepack.packaging.models import PackageVersion
from tests.factories import make_course, make_draft_package, make_learner, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(admin: Any) -> History:
    return make_history(admin)


EditAction = Callable[[Any, PackageVersion], object]


def _course_item(version: PackageVersion) -> Any:
    return version.items.filter(course__isnull=False).order_by("position").first()


def _group_item(version: PackageVersion) -> Any:
    return version.items.get(group__isnull=False)


EDITS: dict[str, EditAction] = {
    "update_draft": lambda admin, v: packaging.update_draft(
        actor=admin, version_id=v.pk, name="Renamed", description="Changed"
    ),
    "add_item": lambda admin, v: packaging.add_item(
        actor=admin, version_id=v.pk, course_id=make_course(actor=admin).pk
    ),
    "remove_item": lambda admin, v: packaging.remove_item(
        actor=admin, version_id=v.pk, item_id=_course_item(v).pk
    ),
    "move_item": lambda admin, v: packaging.move_item(
        actor=admin, version_id=v.pk, item_id=_course_item(v).pk, position=3
    ),
    "set_item_required": lambda admin, v: packaging.set_item_required(
        actor=admin, version_id=v.pk, item_id=_course_item(v).pk, required=False
    ),
    "use_latest_group_version": lambda admin, v: packaging.use_latest_group_version(
        actor=admin, version_id=v.pk, item_id=_group_item(v).pk
    ),
}


# --- Edit content ----------------------------------------------------------------------


def test_edit_content_of_a_draft_is_allowed(admin: Any, history: History) -> None:
    """Draft + edit: every kind of edit succeeds and bumps the draft's revision by one."""
    for name, edit in EDITS.items():
        revision = history.draft.revision

        edit(admin, history.draft)

        history.draft.refresh_from_db()
        assert history.draft.revision == revision + 1, name


@pytest.mark.parametrize("state", ["published", "archived"])
def test_edit_content_of_a_released_version_is_refused(
    admin: Any, history: History, state: str
) -> None:
    """Published/archived + edit: VersionNotDraft, saying to edit a new version; nothing changes."""
    version = history.by_state(state)
    before = versions_state()

    for name, edit in EDITS.items():
        with pytest.raises(VersionNotDraft) as exc:
            edit(admin, version)

        assert "Create a new version from it and edit that draft instead" in exc.value.message, name
        assert versions_state() == before, name


# --- Delete -----------------------------------------------------------------------------


def test_delete_of_a_draft_is_allowed(admin: Any, history: History) -> None:
    """Draft + delete: the draft and its items are gone; the released versions stay."""
    packaging.discard_draft(actor=admin, version_id=history.draft.pk, notes="Not needed")

    assert list(
        PackageVersion.objects.filter(package_id=history.package_id)
        .order_by("version_number")
        .values_list("version_number", "status")
    ) == [(1, "archived"), (2, "published")]


@pytest.mark.parametrize("state", ["published", "archived"])
def test_delete_of_a_released_version_is_refused(admin: Any, history: History, state: str) -> None:
    """Published/archived + delete: VersionNotDraft, saying to retire the package instead."""
    before = versions_state()

    with pytest.raises(VersionNotDraft) as exc:
        packaging.discard_draft(actor=admin, version_id=history.by_state(state).pk)

    assert "Retire the package" in exc.value.message
    assert versions_state() == before


# --- Publish ----------------------------------------------------------------------------


def test_publish_of_a_draft_is_allowed(admin: Any, history: History) -> None:
    """Draft + publish: v3 becomes active, v2 archived, v1 stays archived."""
    packaging.publish_version(actor=admin, version_id=history.draft.pk, change_notes="v3")

    assert list(
        PackageVersion.objects.filter(package_id=history.package_id)
        .order_by("version_number")
        .values_list("status", flat=True)
    ) == ["archived", "archived", "published"]


@pytest.mark.parametrize("state", ["published", "archived"])
def test_publish_of_a_released_version_is_refused(admin: Any, history: History, state: str) -> None:
    """Published/archived + publish: VersionNotDraft, saying to create a new version instead."""
    before = versions_state()

    with pytest.raises(VersionNotDraft) as exc:
        packaging.publish_version(actor=admin, version_id=history.by_state(state).pk)

    assert "only a draft can be published" in exc.value.message
    assert "Create a new version from it" in exc.value.message
    assert versions_state() == before


# --- Enroll users -----------------------------------------------------------------------


def test_enroll_in_the_published_version_is_allowed(admin: Any, history: History) -> None:
    """Published + enrol: the learner is enrolled and pinned to the active version."""
    learner = make_learner()

    enrollment = learning.enroll(
        actor=admin,
        learner_id=learner.pk,
        package_id=history.package_id,
        version_id=history.published.pk,
    )

    assert enrollment.version_id == history.published.pk
    assert Enrollment.objects.get(learner=learner).version_id == history.published.pk


@pytest.mark.parametrize("state", ["draft", "archived"])
def test_enroll_in_a_draft_or_archived_version_is_refused(
    admin: Any, history: History, state: str
) -> None:
    """Draft/archived + enrol: VersionNotEnrollable naming the active version; nobody enrolled."""
    learner = make_learner()
    before = versions_state()

    with pytest.raises(VersionNotEnrollable) as exc:
        learning.enroll(
            actor=admin,
            learner_id=learner.pk,
            package_id=history.package_id,
            version_id=history.by_state(state).pk,
        )

    assert state in exc.value.message
    assert "only enrol in the active version, 2" in exc.value.message
    assert not Enrollment.objects.exists()
    assert versions_state() == before


def test_enroll_in_a_package_that_has_only_a_draft_is_refused(admin: Any) -> None:
    """A package never published has nothing to enrol in: NoActiveVersion says to publish."""
    draft = make_draft_package(actor=admin)

    with pytest.raises(NoActiveVersion) as exc:
        learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=draft.package_id)

    assert "publish a version" in exc.value.message
    assert not Enrollment.objects.exists()


def test_enroll_naming_the_draft_of_a_never_published_package_is_version_not_enrollable(
    admin: Any,
) -> None:
    """Draft + enrol with version_id, on a package with no active version: VersionNotEnrollable."""
    draft = make_draft_package(actor=admin)

    with pytest.raises(VersionNotEnrollable) as exc:
        learning.enroll(
            actor=admin,
            learner_id=make_learner().pk,
            package_id=draft.package_id,
            version_id=draft.pk,
        )

    assert "Version 1 is draft; publish it" in exc.value.message
    assert not Enrollment.objects.exists()


def test_enroll_without_a_version_gets_the_active_one(admin: Any, history: History) -> None:
    """New enrollments get the active version, never the draft or the archived one."""
    enrollment = learning.enroll(
        actor=admin, learner_id=make_learner().pk, package_id=history.package_id
    )

    assert enrollment.version_id == history.published.pk


# --- View history -----------------------------------------------------------------------


def test_history_of_every_version_can_be_viewed(admin: Any, history: History) -> None:
    """Draft/published/archived + view: listed in the history, readable, and diffable."""
    listed = list(
        PackageVersion.objects.filter(package_id=history.package_id)
        .order_by("version_number")
        .values_list("version_number", "status")
    )
    assert listed == [(1, "archived"), (2, "published"), (3, "draft")]

    for state in ("draft", "published", "archived"):
        version = history.by_state(state)
        assert selectors.get_version(version.pk).status == state
        tree = selectors.requirement_tree(version.pk)
        assert len(tree.items) == version.items.count()
        for other in (history.draft, history.published, history.archived):
            diff = selectors.diff_versions(other.pk, version.pk)
            assert diff.new_version_number == version.version_number
            assert diff.is_empty == (other.items.count() == version.items.count())


# --- Clone to new version -------------------------------------------------------------


def test_clone_of_a_draft_is_refused(admin: Any, history: History) -> None:
    """Draft + clone: CannotCloneDraft, saying to edit the draft instead."""
    before = versions_state()

    with pytest.raises(CannotCloneDraft) as exc:
        packaging.create_draft_from(actor=admin, version_id=history.draft.pk)

    assert "edit it instead" in exc.value.message
    assert versions_state() == before


@pytest.mark.parametrize("state", ["published", "archived"])
def test_clone_of_a_released_version_is_allowed(admin: Any, history: History, state: str) -> None:
    """Published/archived + clone: the new draft (v3 again, numbers stay gapless) copies the items."""
    packaging.discard_draft(actor=admin, version_id=history.draft.pk)
    source = history.by_state(state)

    draft = packaging.create_draft_from(actor=admin, version_id=source.pk)

    assert (draft.version_number, draft.status, draft.based_on_id) == (3, "draft", source.pk)
    columns = ("position", "course_id", "group_id", "group_version_id", "required")
    assert list(draft.items.order_by("position").values_list(*columns)) == list(
        source.items.order_by("position").values_list(*columns)
    )


def test_clone_while_a_draft_exists_is_refused(admin: Any, history: History) -> None:
    """A package has at most one draft: DraftAlreadyExists says to edit or discard it."""
    before = versions_state()

    with pytest.raises(DraftAlreadyExists) as exc:
        packaging.create_draft_from(actor=admin, version_id=history.published.pk)

    assert "edit or discard it first" in exc.value.message
    assert versions_state() == before


# --- Scheduled versions behave as released ones ---------------------------------------


def test_a_scheduled_version_is_released_but_not_enrollable(admin: Any, history: History) -> None:
    """Scheduled: no edit, delete or publish; no enrollment yet; it may be cloned."""
    packaging.publish_version(
        actor=admin, version_id=history.draft.pk, effective_at=timezone.now() + timedelta(days=7)
    )
    scheduled = PackageVersion.objects.get(pk=history.draft.pk)
    assert scheduled.status == "scheduled"
    before = versions_state()

    for edit in EDITS.values():
        with pytest.raises(VersionNotDraft):
            edit(admin, scheduled)
    with pytest.raises(VersionNotDraft):
        packaging.discard_draft(actor=admin, version_id=scheduled.pk)
    with pytest.raises(VersionNotDraft):
        packaging.publish_version(actor=admin, version_id=scheduled.pk)
    with pytest.raises(VersionNotEnrollable) as exc:
        learning.enroll(
            actor=admin,
            learner_id=make_learner().pk,
            package_id=history.package_id,
            version_id=scheduled.pk,
        )
    assert "scheduled" in exc.value.message
    assert versions_state() == before

    clone = packaging.create_draft_from(actor=admin, version_id=scheduled.pk)
    assert (clone.version_number, clone.based_on_id) == (4, scheduled.pk)


# --- A retired package ------------------------------------------------------------------


def test_a_retired_package_takes_no_publish_clone_or_enrollment(
    admin: Any, history: History
) -> None:
    """Retired: publish and clone raise PackageRetired, enrol VersionNotEnrollable; history kept."""
    packaging.retire_package(actor=admin, package_id=history.package_id, notes="Superseded")
    before = versions_state()

    with pytest.raises(PackageRetired) as exc:
        packaging.publish_version(actor=admin, version_id=history.draft.pk)
    assert "Reinstate it first" in exc.value.message
    with pytest.raises(PackageRetired):
        packaging.create_draft_from(actor=admin, version_id=history.archived.pk)
    with pytest.raises(VersionNotEnrollable):
        learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=history.package_id)
    assert versions_state() == before

    packaging.reinstate_package(actor=admin, package_id=history.package_id)
    packaging.publish_version(actor=admin, version_id=history.draft.pk)
    assert PackageVersion.objects.get(pk=history.draft.pk).status == "published"


def test_enroll_naming_another_packages_version_is_version_not_found(
    admin: Any, history: History
) -> None:
    """A version id of a different package is a version this package does not have."""
    from coursepack.packaging.errors import VersionNotFound

    other = make_published_package(actor=admin)

    with pytest.raises(VersionNotFound) as exc:
        learning.enroll(
            actor=admin,
            learner_id=make_learner().pk,
            package_id=history.package_id,
            version_id=other.pk,
        )

    assert "has no version with id" in exc.value.message
    assert not Enrollment.objects.filter(package_id=history.package_id, version=other).exists()
