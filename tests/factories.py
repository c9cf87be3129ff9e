"""Small builders for tests: plain functions that go through the real services.

Shared by the catalog, packaging, audit and learning tests. Keep it small and
stable: every function takes keyword arguments with sensible defaults and
returns the model instance the service returned.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model

from coursepack.catalog import api as catalog
from coursepack.catalog.models import Course
from coursepack.packaging import api as packaging
from coursepack.packaging.models import CourseGroupVersion, PackageVersion

_serial = itertools.count(1)


def _next() -> int:
    return next(_serial)


def make_admin(*, username: str | None = None, password: str | None = None) -> Any:
    """Return a new staff superuser (the training admin).

    Without ``password`` the account cannot log in with one (and no hashing is
    paid for); use ``client.force_login`` or pass a password.
    """
    User = get_user_model()
    username = username or f"admin{_next()}"
    return User.objects.create_user(
        username=username, password=password, is_staff=True, is_superuser=True
    )


def make_learner(*, username: str | None = None, password: str | None = None) -> Any:
    """Return a new ordinary user (a learner); ``password`` as for make_admin."""
    User = get_user_model()
    username = username or f"learner{_next()}"
    return User.objects.create_user(username=username, password=password)


def make_course(
    *,
    actor: Any = None,
    code: str | None = None,
    name: str | None = None,
    duration_minutes: int = 30,
    retired: bool = False,
) -> Course:
    """Return a new catalog course (active unless ``retired``)."""
    n = _next()
    course = catalog.create_course(
        actor=actor,
        code=code or f"C-{n:04d}",
        name=name or f"Course {n}",
        duration_minutes=duration_minutes,
    )
    if retired:
        course = catalog.retire_course(actor=actor, course_id=course.pk)
    return course


Entry = Course | CourseGroupVersion | tuple[Course | CourseGroupVersion, bool]


def _split(entry: Entry, default_required: bool) -> tuple[Course | CourseGroupVersion, bool]:
    if isinstance(entry, tuple):
        return entry
    return entry, default_required


def make_group(
    *,
    actor: Any = None,
    kind: str = "family",
    items: Sequence[Entry] = (),
    min_count: int | None = None,
    name: str | None = None,
    publish: bool = True,
) -> CourseGroupVersion:
    """Return a group version holding ``items`` (courses or group versions).

    An entry may be ``(thing, required)``; plain entries are not required. Nested
    groups are added by their group id (pinned at their newest published version).
    Published unless ``publish=False``.
    """
    gv = packaging.create_group(
        actor=actor, name=name or f"Group {_next()}", kind=kind, min_count=min_count
    )
    for entry in items:
        thing, required = _split(entry, False)
        if isinstance(thing, Course):
            packaging.add_group_item(
                actor=actor, group_version_id=gv.pk, course_id=thing.pk, required=required
            )
        else:
            packaging.add_group_item(
                actor=actor, group_version_id=gv.pk, group_id=thing.group_id, required=required
            )
    if publish:
        gv = packaging.publish_group_version(actor=actor, group_version_id=gv.pk)
    gv.refresh_from_db()
    return gv


def add_items(*, actor: Any = None, version: PackageVersion, items: Iterable[Entry]) -> None:
    """Append ``items`` to a package draft; plain entries are required."""
    for entry in items:
        thing, required = _split(entry, True)
        if isinstance(thing, Course):
            packaging.add_item(
                actor=actor, version_id=version.pk, course_id=thing.pk, required=required
            )
        else:
            packaging.add_item(
                actor=actor, version_id=version.pk, group_id=thing.group_id, required=required
            )
    version.refresh_from_db()


def make_draft_package(
    *,
    actor: Any = None,
    items: Sequence[Entry] | None = None,
    name: str | None = None,
    category: str = "",
) -> PackageVersion:
    """Return draft v1 of a new package holding ``items`` (one new course by default)."""
    version = packaging.create_package(
        actor=actor, name=name or f"Package {_next()}", category=category
    )
    add_items(
        actor=actor, version=version, items=[make_course(actor=actor)] if items is None else items
    )
    return version


def make_published_package(
    *,
    actor: Any = None,
    items: Sequence[Entry] | None = None,
    name: str | None = None,
    change_notes: str = "Initial release.",
) -> PackageVersion:
    """Return the active v1 of a new package holding ``items`` (one new course by default)."""
    draft = make_draft_package(actor=actor, items=items, name=name)
    packaging.publish_version(actor=actor, version_id=draft.pk, change_notes=change_notes)
    draft.refresh_from_db()
    return draft


def publish_new_version(
    *, actor: Any = None, from_version: PackageVersion, add: Sequence[Entry] = ()
) -> PackageVersion:
    """Copy ``from_version`` to a draft, append ``add``, publish it now; return it."""
    draft = packaging.create_draft_from(actor=actor, version_id=from_version.pk)
    add_items(actor=actor, version=draft, items=add)
    packaging.publish_version(actor=actor, version_id=draft.pk, change_notes="Next release.")
    draft.refresh_from_db()
    return draft
