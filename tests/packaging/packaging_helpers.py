"""Helpers of the packaging tests (beside tests/factories.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coursepack.packaging import api as packaging
from coursepack.packaging.models import (
    CourseGroupVersion,
    Package,
    PackageVersion,
    PackageVersionItem,
    PublishRecord,
)
from tests.factories import make_course, make_group, make_published_package, publish_new_version


def versions_state() -> list[tuple[Any, ...]]:
    """Return every version, item, publish record and package row: compare before/after."""
    versions = list(
        PackageVersion.objects.order_by("pk").values_list(
            "pk",
            "package_id",
            "version_number",
            "name",
            "description",
            "status",
            "revision",
            "published_at",
            "effective_from",
            "archived_at",
            "change_notes",
        )
    )
    items = list(
        PackageVersionItem.objects.order_by("pk").values_list(
            "pk", "version_id", "position", "course_id", "group_id", "group_version_id", "required"
        )
    )
    packages = list(
        Package.objects.order_by("pk").values_list("pk", "name", "status", "updated_at")
    )
    records = list(PublishRecord.objects.order_by("pk").values_list("pk", "version_id", "action"))
    return [*versions, *items, *packages, *records]


@dataclass
class History:
    """A package with v1 archived, v2 active and v3 a draft (a copy of v2)."""

    archived: PackageVersion
    published: PackageVersion
    draft: PackageVersion
    group: CourseGroupVersion

    @property
    def package_id(self) -> int:
        return self.published.package_id

    def by_state(self, state: str) -> PackageVersion:
        return {"draft": self.draft, "published": self.published, "archived": self.archived}[state]


def make_history(actor: Any) -> History:
    """Build, through the services, a package with an archived, an active and a draft version."""
    group = make_group(
        actor=actor,
        kind="family",
        name="Language",
        items=[make_course(actor=actor, name="English"), make_course(actor=actor, name="Spanish")],
    )
    v1 = make_published_package(
        actor=actor,
        name="Cyber",
        items=[group, make_course(actor=actor), (make_course(actor=actor), False)],
    )
    v2 = publish_new_version(actor=actor, from_version=v1, add=[make_course(actor=actor)])
    v3 = packaging.create_draft_from(actor=actor, version_id=v2.pk)
    for version in (v1, v2, v3):
        version.refresh_from_db()
    return History(archived=v1, published=v2, draft=v3, group=group)
