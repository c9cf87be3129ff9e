"""The course catalog's write path: create, update, retire, reactivate, delete."""

from __future__ import annotations

from typing import Any

import pytest

from coursepack.audit.models import AuditEvent
from coursepack.catalog import api as catalog
from coursepack.catalog.errors import CourseCodeTaken, CourseInUse, CourseNotFound, CourseRetired
from coursepack.catalog.models import Course, CourseStatus
from coursepack.errors import InvalidInput
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_draft_package, make_group, make_published_package

pytestmark = pytest.mark.django_db


def _catalog_state() -> list[tuple[Any, ...]]:
    return list(
        Course.objects.order_by("pk").values_list(
            "pk", "code", "name", "description", "duration_minutes", "status", "updated_at"
        )
    )


# --- create --------------------------------------------------------------------


def test_create_course_stores_the_fields_and_records_who_did_it(admin: Any) -> None:
    """A new course is active, keeps its fields (stripped) and is on the audit record."""
    course = catalog.create_course(
        actor=admin,
        code="  SEC-101 ",
        name=" Cybersecurity Essentials ",
        description="Basics.",
        duration_minutes=45,
    )

    course.refresh_from_db()
    assert (course.code, course.name, course.description, course.duration_minutes) == (
        "SEC-101",
        "Cybersecurity Essentials",
        "Basics.",
        45,
    )
    assert course.status == CourseStatus.ACTIVE
    assert course.created_by == admin
    assert course.created_at == course.updated_at
    event = AuditEvent.objects.get(action="course.created", target_id=str(course.pk))
    assert event.actor == admin
    assert event.after is not None and event.after["code"] == "SEC-101"


def test_create_course_refuses_a_code_that_is_taken(admin: Any) -> None:
    """A second course with the same code is refused with CourseCodeTaken; nothing is added."""
    catalog.create_course(actor=admin, code="SEC-101", name="First")
    before = _catalog_state()

    with pytest.raises(CourseCodeTaken) as exc:
        catalog.create_course(actor=admin, code="SEC-101", name="Second")

    assert "SEC-101" in exc.value.message and "choose another code" in exc.value.message
    assert _catalog_state() == before


def test_create_course_refuses_a_taken_code_given_with_surrounding_spaces(admin: Any) -> None:
    """Codes are compared after stripping, so " SEC-101" is the same code as "SEC-101"."""
    catalog.create_course(actor=admin, code="SEC-101", name="First")

    with pytest.raises(CourseCodeTaken):
        catalog.create_course(actor=admin, code=" SEC-101 ", name="Second")


def test_create_course_lists_every_field_problem_at_once(admin: Any) -> None:
    """Missing code and name and a negative duration are all reported in one InvalidInput."""
    with pytest.raises(InvalidInput) as exc:
        catalog.create_course(actor=admin, code="  ", name="", duration_minutes=-5)

    fields = sorted(p.split(":")[0] for p in exc.value.problems)
    assert fields == ["code", "duration_minutes", "name"]
    assert Course.objects.count() == 0


@pytest.mark.parametrize("field", ["code", "name", "description"])
def test_create_course_refuses_nul_bytes(admin: Any, field: str) -> None:
    """A NUL character in any text field is refused (PostgreSQL could not store it)."""
    values = {"code": "SEC-1", "name": "Name", "description": "Text"}
    values[field] = values[field] + "\x00evil"

    with pytest.raises(InvalidInput) as exc:
        catalog.create_course(actor=admin, **values)

    assert exc.value.problems == [f"{field}: must not contain NUL characters"]
    assert Course.objects.count() == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"code": "X" * 65}, "code"),
        ({"name": "N" * 256}, "name"),
        ({"duration_minutes": 1.5}, "duration_minutes"),
        ({"duration_minutes": True}, "duration_minutes"),
        ({"name": 42}, "name"),
    ],
)
def test_create_course_refuses_malformed_values(
    admin: Any, values: dict[str, Any], field: str
) -> None:
    """Too long texts, non-integer durations and non-text names are refused, naming the field."""
    arguments: dict[str, Any] = {"code": "SEC-1", "name": "Name", **values}

    with pytest.raises(InvalidInput) as exc:
        catalog.create_course(actor=admin, **arguments)

    assert [p.split(":")[0] for p in exc.value.problems] == [field]
    assert Course.objects.count() == 0


# --- update --------------------------------------------------------------------


def test_update_course_changes_only_the_given_fields_and_audits_before_and_after(
    admin: Any,
) -> None:
    """Name, description and duration change; the code stays; the log has both snapshots."""
    course = catalog.create_course(
        actor=admin, code="SEC-1", name="Old", description="Keep me", duration_minutes=10
    )

    catalog.update_course(
        actor=admin, course_id=course.pk, name="New", duration_minutes=20, notes="Renamed"
    )

    course.refresh_from_db()
    assert (course.code, course.name, course.description, course.duration_minutes) == (
        "SEC-1",
        "New",
        "Keep me",
        20,
    )
    event = AuditEvent.objects.get(action="course.updated")
    assert event.before is not None and event.after is not None
    assert (event.before["name"], event.after["name"]) == ("Old", "New")
    assert event.notes == "Renamed"


def test_update_course_refuses_bad_input_and_changes_nothing(admin: Any) -> None:
    """An empty name and a NUL in the description are both listed; the course is unchanged."""
    course = make_course(actor=admin)
    before = _catalog_state()

    with pytest.raises(InvalidInput) as exc:
        catalog.update_course(actor=admin, course_id=course.pk, name="", description="a\x00b")

    assert sorted(p.split(":")[0] for p in exc.value.problems) == ["description", "name"]
    assert _catalog_state() == before


def test_update_of_an_unknown_course_raises_course_not_found(admin: Any) -> None:
    """Updating a course id that does not exist raises CourseNotFound."""
    with pytest.raises(CourseNotFound):
        catalog.update_course(actor=admin, course_id=999_999, name="X")


# --- retire / reactivate ---------------------------------------------------------


def test_retire_and_reactivate_course_switch_status_and_audit_each_change(admin: Any) -> None:
    """Retire then reactivate: the status follows, and each change is one audit event."""
    course = make_course(actor=admin)

    retired = catalog.retire_course(actor=admin, course_id=course.pk, notes="Outdated")
    assert retired.status == CourseStatus.RETIRED
    again = catalog.retire_course(actor=admin, course_id=course.pk)
    assert again.status == CourseStatus.RETIRED
    active = catalog.reactivate_course(actor=admin, course_id=course.pk)

    assert active.status == CourseStatus.ACTIVE
    actions = list(
        AuditEvent.objects.filter(
            target_id=str(course.pk), target_type="catalog.course"
        ).values_list("action", flat=True)
    )
    # Retiring an already retired course is a no-op and writes nothing.
    assert actions == ["course.created", "course.retired", "course.reactivated"]


def test_a_retired_course_cannot_be_added_to_a_package_draft(admin: Any) -> None:
    """Adding a retired course to a draft raises CourseRetired saying to reactivate it."""
    course = make_course(actor=admin, retired=True)
    draft = make_draft_package(actor=admin)
    items_before = list(draft.items.values_list("pk", flat=True))

    with pytest.raises(CourseRetired) as exc:
        packaging.add_item(actor=admin, version_id=draft.pk, course_id=course.pk)

    assert "reactivate" in exc.value.message
    assert list(draft.items.values_list("pk", flat=True)) == items_before


def test_a_retired_course_cannot_be_added_to_a_group_draft(admin: Any) -> None:
    """Adding a retired course to a group draft raises CourseRetired too."""
    course = make_course(actor=admin, retired=True)
    group = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)

    with pytest.raises(CourseRetired):
        packaging.add_group_item(actor=admin, group_version_id=group.pk, course_id=course.pk)

    assert group.items.count() == 1


def test_a_reactivated_course_can_be_added_to_a_draft_again(admin: Any) -> None:
    """After reactivation the course is accepted by drafts."""
    course = make_course(actor=admin, retired=True)
    catalog.reactivate_course(actor=admin, course_id=course.pk)
    draft = make_draft_package(actor=admin)

    packaging.add_item(actor=admin, version_id=draft.pk, course_id=course.pk)

    assert draft.items.filter(course=course).exists()


def test_a_course_retired_after_publishing_stays_in_the_published_version(admin: Any) -> None:
    """Retiring a course never changes a published version that uses it."""
    course = make_course(actor=admin)
    version = make_published_package(actor=admin, items=[course])

    catalog.retire_course(actor=admin, course_id=course.pk)

    assert list(version.items.values_list("course_id", flat=True)) == [course.pk]


# --- delete --------------------------------------------------------------------


def test_an_unused_course_can_be_deleted_and_the_deletion_is_audited(admin: Any) -> None:
    """A course nothing refers to is deleted; the log keeps its last snapshot."""
    course = make_course(actor=admin, code="GONE-1")

    catalog.delete_course(actor=admin, course_id=course.pk, notes="Created by mistake")

    assert not Course.objects.filter(pk=course.pk).exists()
    event = AuditEvent.objects.get(action="course.deleted")
    assert event.before is not None and event.before["code"] == "GONE-1"
    assert event.notes == "Created by mistake"


def test_a_course_used_by_a_published_version_cannot_be_deleted(admin: Any) -> None:
    """Deleting a course a published version uses raises CourseInUse saying to retire it."""
    course = make_course(actor=admin)
    make_published_package(actor=admin, items=[course])
    before = _catalog_state()

    with pytest.raises(CourseInUse) as exc:
        catalog.delete_course(actor=admin, course_id=course.pk)

    assert "published package version" in exc.value.message
    assert "retire it instead" in exc.value.message
    assert _catalog_state() == before


def test_a_course_used_by_an_archived_version_only_cannot_be_deleted(admin: Any) -> None:
    """A course that only an archived version still uses is kept too."""
    course = make_course(actor=admin)
    v1 = make_published_package(actor=admin, items=[course, make_course(actor=admin)])
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.remove_item(
        actor=admin, version_id=draft.pk, item_id=draft.items.get(course=course).pk
    )
    packaging.publish_version(actor=admin, version_id=draft.pk)

    with pytest.raises(CourseInUse):
        catalog.delete_course(actor=admin, course_id=course.pk)


def test_a_course_inside_a_published_group_cannot_be_deleted(admin: Any) -> None:
    """A course a published group version contains raises CourseInUse."""
    course = make_course(actor=admin)
    make_group(actor=admin, items=[course])

    with pytest.raises(CourseInUse) as exc:
        catalog.delete_course(actor=admin, course_id=course.pk)

    assert "published group version" in exc.value.message


def test_a_course_in_a_draft_cannot_be_deleted_until_removed(admin: Any) -> None:
    """A course a draft still holds raises CourseInUse; once removed it can be deleted."""
    course = make_course(actor=admin)
    draft = make_draft_package(actor=admin, items=[course])

    with pytest.raises(CourseInUse) as exc:
        catalog.delete_course(actor=admin, course_id=course.pk)
    assert "a package draft" in exc.value.message

    packaging.remove_item(actor=admin, version_id=draft.pk, item_id=draft.items.get().pk)
    catalog.delete_course(actor=admin, course_id=course.pk)
    assert not Course.objects.filter(pk=course.pk).exists()


def test_delete_of_an_unknown_course_raises_course_not_found(admin: Any) -> None:
    """Deleting a course id that does not exist raises CourseNotFound."""
    with pytest.raises(CourseNotFound):
        catalog.delete_course(actor=admin, course_id=999_999)


@pytest.mark.parametrize("minutes", [2**31, 2**63])
def test_a_duration_beyond_the_storable_range_is_refused_on_create_and_update(
    admin: Any, minutes: int
) -> None:
    """Both engines refuse the same durations, with InvalidInput rather than a database error."""
    course = make_course(actor=admin)
    before = _catalog_state()

    with pytest.raises(InvalidInput) as created:
        catalog.create_course(actor=admin, code="BIG-1", name="Big", duration_minutes=minutes)
    with pytest.raises(InvalidInput) as updated:
        catalog.update_course(actor=admin, course_id=course.pk, duration_minutes=minutes)

    assert [p.split(":")[0] for p in created.value.problems] == ["duration_minutes"]
    assert [p.split(":")[0] for p in updated.value.problems] == ["duration_minutes"]
    assert _catalog_state() == before


def test_create_courses_adds_the_missing_ones_with_an_audit_record_each(admin: Any) -> None:
    """Bulk creation adds only codes the catalog lacks, audits each course it creates,
    returns every code's id, and a second call creates nothing."""
    existing = make_course(actor=admin, code="BULK-1")
    audited = AuditEvent.objects.count()

    ids = catalog.create_courses(
        actor=admin,
        courses=[
            catalog.NewCourse(code="BULK-1", name="Already there"),
            catalog.NewCourse(code=" BULK-2 ", name="Second", description="two"),
            catalog.NewCourse(code="BULK-3", name="Third", duration_minutes=15),
        ],
    )

    assert ids[" BULK-2 "] == Course.objects.get(code="BULK-2").pk
    assert ids["BULK-1"] == existing.pk
    third = Course.objects.get(pk=ids["BULK-3"])
    assert (third.name, third.duration_minutes, third.created_by) == ("Third", 15, admin)
    assert Course.objects.get(pk=existing.pk).name == existing.name
    newest = AuditEvent.objects.filter(action="course.created").order_by("-pk")
    assert list(newest.values_list("target_id", flat=True)[:2]) == [
        str(ids["BULK-3"]),
        str(ids[" BULK-2 "]),
    ]
    assert AuditEvent.objects.count() == audited + 2
    assert catalog.create_courses(
        actor=admin, courses=[catalog.NewCourse(code="BULK-3", name="Third")]
    ) == {"BULK-3": ids["BULK-3"]}
    assert AuditEvent.objects.count() == audited + 2


def test_create_courses_checks_every_course_before_writing_any(admin: Any) -> None:
    """One invalid course refuses the whole call, naming each problem; nothing is written."""
    before = _catalog_state()
    with pytest.raises(InvalidInput) as refused:
        catalog.create_courses(
            actor=admin,
            courses=[
                catalog.NewCourse(code="OK-1", name="Fine"),
                catalog.NewCourse(code="BAD\x00", name=""),
                catalog.NewCourse(code="OK-2", name="Fine", duration_minutes=-1),
            ],
        )
    assert len(refused.value.problems) == 3
    assert _catalog_state() == before
