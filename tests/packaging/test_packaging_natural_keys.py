"""Packaging migration 0003 gives existing packages and groups keys derived from their
names: unique (a numeric suffix), a fallback for a name with no letters or digits, a
group's from its newest version's name."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from coursepack.packaging import api as packaging
from coursepack.packaging.models import CourseGroup, Package
from tests.factories import make_draft_package

pytestmark = pytest.mark.django_db

migration = importlib.import_module("coursepack.packaging.migrations.0003_natural_keys")


def test_existing_rows_get_unique_keys_from_their_names() -> None:
    packages = [
        make_draft_package(name=n).package_id for n in ("Fire safety", "Fire  Safety!", "§§")
    ]
    group = packaging.create_group(actor=None, name="First aid", kind="family")
    packaging.update_group_draft(actor=None, group_version_id=group.pk, name="First aid 2027")
    # As before the migration: keys not yet derived (placeholders, unique meanwhile).
    for n, pk in enumerate(packages):
        Package.objects.filter(pk=pk).update(key=f"placeholder-{n}")
    CourseGroup.objects.update(key="placeholder")

    migration.fill_keys(apps, None)

    keys = dict(Package.objects.values_list("pk", "key"))
    assert [keys[pk] for pk in packages] == ["fire-safety", "fire-safety-2", "package"]
    assert CourseGroup.objects.get().key == "first-aid-2027"
