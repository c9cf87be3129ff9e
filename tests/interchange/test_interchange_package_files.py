"""Packages as files: schema, round trips, readable diffs, import as a draft."""

from __future__ import annotations

import difflib
import itertools
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coursepack.catalog.models import Course
from coursepack.interchange import package_files
from coursepack.interchange.errors import PackageFileInvalid
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import DraftAlreadyExists
from coursepack.packaging.models import CourseGroupVersion, PackageVersion
from tests.factories import make_course, make_group, make_published_package

pytestmark = pytest.mark.django_db

_names = itertools.count(1)

# A group: (kind, min_count, items); an item: (("course", index) | ("group", index), required).
GroupShape = tuple[str, int | None, list[tuple[tuple[str, int], bool]]]


@st.composite
def package_shapes(
    draw: st.DrawFn,
) -> tuple[int, list[GroupShape], list[tuple[tuple[str, int], bool]]]:
    """Draw a package: how many courses, its groups (each may nest an earlier one), its items."""
    n_courses = draw(st.integers(1, 5))
    groups: list[GroupShape] = []
    for g in range(draw(st.integers(0, 3))):
        courses = draw(st.lists(st.integers(0, n_courses - 1), min_size=1, unique=True))
        children = draw(st.lists(st.integers(0, g - 1), max_size=1, unique=True)) if g else []
        refs = draw(
            st.permutations([("course", c) for c in courses] + [("group", k) for k in children])
        )
        kind = draw(st.sampled_from(["family", "series", "choice"]))
        flags = [draw(st.booleans()) if kind == "choice" else False for _ in refs]
        min_count = None
        if kind == "choice":
            min_count = draw(st.none() | st.integers(max(1, sum(flags)), len(refs)))
        groups.append((kind, min_count, list(zip(refs, flags, strict=True))))
    refs = [("course", c) for c in draw(st.lists(st.integers(0, n_courses - 1), unique=True))]
    refs += (
        [("group", g) for g in draw(st.lists(st.integers(0, len(groups) - 1), unique=True))]
        if groups
        else []
    )
    refs = draw(st.permutations(refs))
    items = [(ref, draw(st.booleans())) for ref in refs]
    return n_courses, groups, items


def _build(
    admin: Any, shape: tuple[int, list[GroupShape], list[tuple[tuple[str, int], bool]]]
) -> PackageVersion:
    n_courses, group_shapes, items = shape
    serial = next(_names)
    courses = [make_course(actor=admin, name=f"Course {serial}.{i}") for i in range(n_courses)]
    groups: list[CourseGroupVersion] = []
    for g, (kind, min_count, entries) in enumerate(group_shapes):
        gv = packaging.create_group(
            actor=admin, name=f"Group {serial}.{g}", kind=kind, min_count=min_count
        )
        for (what, index), required in entries:
            target = (
                {"course_id": courses[index].pk}
                if what == "course"
                else {"group_id": groups[index].group_id}
            )
            packaging.add_group_item(
                actor=admin, group_version_id=gv.pk, required=required, **target
            )
        groups.append(packaging.publish_group_version(actor=admin, group_version_id=gv.pk))
    draft = packaging.create_package(actor=admin, name=f"Package {serial}", category="Compliance")
    for (what, index), required in items:
        target = (
            {"course_id": courses[index].pk}
            if what == "course"
            else {"group_id": groups[index].group_id}
        )
        packaging.add_item(actor=admin, version_id=draft.pk, required=required, **target)
    if not packaging.publish_problems(draft.pk):
        packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="First")
    return draft


# Each example builds its own uniquely named package; the shared admin only acts.
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=package_shapes(), fmt=st.sampled_from(["json", "yaml"]))
def test_export_import_export_is_identical(admin: Any, shape: Any, fmt: str) -> None:
    """Any package exported, imported (as a draft) and exported again gives the very
    same file, in JSON and in YAML; the file follows the published schema."""
    version = _build(admin, shape)
    text = package_files.dumps(package_files.export_package(package_id=version.package_id), fmt)
    document = package_files.loads(text)
    package_files.validate(document)

    assert package_files.dumps(document, fmt) == text
    # Imported where its key is free (as into another installation): a new package
    document["package"]["key"] = f"{document['package']['key']}-copy"
    expected = package_files.dumps(document, fmt)

    outcome = package_files.import_package(actor=admin, document=document)

    assert outcome.draft.status == "draft"
    assert outcome.draft.package_id != version.package_id
    assert outcome.created_groups == outcome.new_group_versions == []
    again = package_files.dumps(
        package_files.export_package(package_id=outcome.draft.package_id), fmt
    )
    assert again == expected


def test_a_file_whose_key_names_a_package_here_is_its_next_draft(admin: Any) -> None:
    """A package kept as a file in version control comes back as the next draft of the
    package with its key; while that package has a draft, the import is refused."""
    a, b = (make_course(actor=admin, code=f"KEY-{n}") for n in (1, 2))
    v1 = make_published_package(actor=admin, items=[a], name="Fire safety")
    document = package_files.export_package(package_id=v1.package_id)
    document["versions"][-1]["items"].append({"course": "KEY-2", "required": True})
    document["courses"].append(
        {
            "code": "KEY-2",
            "name": b.name,
            "description": b.description,
            "duration_minutes": b.duration_minutes,
        }
    )

    outcome = package_files.import_package(actor=admin, document=document)

    assert outcome.draft.package_id == v1.package_id
    assert outcome.draft.version_number == 2
    assert [i.course_id for i in outcome.draft.items.order_by("position")] == [a.pk, b.pk]
    with pytest.raises(DraftAlreadyExists):
        package_files.import_package(actor=admin, document=document)
    assert PackageVersion.objects.filter(package_id=v1.package_id).count() == 2


def test_history_file_lists_every_version_and_two_versions_diff_readably(admin: Any) -> None:
    """A history export has every version, oldest first, with its publish record; two
    single-version files of one package differ only in the lines that changed."""
    a, b, c = (make_course(actor=admin, code=f"SEC-{n}") for n in (1, 2, 3))
    languages = make_group(actor=admin, name="Language Choice", items=[a, b])
    v1 = make_published_package(actor=admin, items=[c, languages], name="Security")
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    item = draft.items.get(course=c)
    packaging.set_item_required(actor=admin, version_id=draft.pk, item_id=item.pk, required=False)
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Made SEC-3 optional")

    history = package_files.export_package(package_id=v1.package_id, history=True)

    assert [(v["number"], v["status"], v["change_notes"]) for v in history["versions"]] == [
        (1, "archived", "Initial release."),
        (2, "published", "Made SEC-3 optional"),
    ]
    assert [g["key"] for g in history["groups"]] == ["Language Choice v1"]
    old = package_files.dumps(
        package_files.export_package(package_id=v1.package_id, version_number=1), "yaml"
    )
    new = package_files.dumps(
        package_files.export_package(package_id=v1.package_id, version_number=2), "yaml"
    )
    changed = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-    required: true", "+    required: false"]


def test_import_lists_missing_courses_or_creates_them(admin: Any) -> None:
    """Courses are matched by code: missing ones are listed, or created when asked; the
    new package's draft holds the file's last version and nothing is published."""
    document = {
        "format": package_files.FORMAT,
        "package": {"name": "Moved", "description": "", "category": ""},
        "courses": [
            {"code": "NEW-1", "name": "New one", "description": "", "duration_minutes": 15},
            {"code": "NEW-2", "name": "New two", "description": "", "duration_minutes": 0},
        ],
        "groups": [
            {
                "key": "Pick one v3",
                "name": "Pick one",
                "description": "",
                "kind": "family",
                "min_count": None,
                "items": [
                    {"course": "NEW-1", "required": False},
                    {"course": "NEW-2", "required": False},
                ],
            }
        ],
        "versions": [
            {
                "name": "Moved",
                "description": "",
                "items": [{"group": "Pick one v3", "required": True}],
            }
        ],
    }
    with pytest.raises(PackageFileInvalid) as refused:
        package_files.import_package(actor=admin, document=document)
    assert refused.value.problems == ["NEW-1: New one", "NEW-2: New two"]
    assert not Course.objects.filter(code__startswith="NEW-").exists()

    outcome = package_files.import_package(actor=admin, document=document, create_courses=True)

    assert outcome.created_courses == ["NEW-1", "NEW-2"]
    assert outcome.created_groups == ["Pick one v3"]
    assert Course.objects.get(code="NEW-1").duration_minutes == 15
    assert outcome.draft.status == "draft"
    assert (
        not PackageVersion.objects.filter(package_id=outcome.draft.package_id)
        .exclude(status="draft")
        .exists()
    )


def test_import_into_a_package_makes_its_next_draft_and_leaves_history_alone(admin: Any) -> None:
    """Importing into a package creates draft v(n+1) with the file's content; the
    published versions are untouched; a second import while that draft exists is refused."""
    a, b = make_course(actor=admin), make_course(actor=admin)
    v1 = make_published_package(actor=admin, items=[a], name="Target")
    source = make_published_package(actor=admin, items=[a, b], name="Source")
    document = package_files.export_package(package_id=source.package_id)
    before = list(PackageVersion.objects.filter(pk=v1.pk).values())

    outcome = package_files.import_package(
        actor=admin, document=document, into_package_id=v1.package_id
    )

    assert (outcome.draft.package_id, outcome.draft.version_number) == (v1.package_id, 2)
    assert [i.course_id for i in outcome.draft.items.order_by("position")] == [a.pk, b.pk]
    assert list(PackageVersion.objects.filter(pk=v1.pk).values()) == before
    with pytest.raises(DraftAlreadyExists):
        package_files.import_package(actor=admin, document=document, into_package_id=v1.package_id)


def test_a_changed_group_in_a_file_becomes_a_new_version_of_that_group(admin: Any) -> None:
    """A file whose group has the name of an existing group but other content publishes
    a new version of that group; the existing version is not changed."""
    a, b = make_course(actor=admin), make_course(actor=admin)
    group = make_group(actor=admin, name="Shared", items=[a, b])
    version = make_published_package(actor=admin, items=[group])
    document = package_files.export_package(package_id=version.package_id)
    document["groups"][0]["kind"] = "series"

    outcome = package_files.import_package(actor=admin, document=document)

    assert outcome.new_group_versions == ["Shared v1"]
    group.refresh_from_db()
    assert (group.kind, group.status) == ("family", "published")
    newest = CourseGroupVersion.objects.filter(group_id=group.group_id).order_by("-version_number")[
        0
    ]
    assert (newest.version_number, newest.kind) == (2, "series")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("versions"), "'versions' is a required property"),
        (lambda d: d["versions"][0]["items"].append({"course": "X"}), "versions/0/items/1"),
        (lambda d: d["package"].update(name="a\x00b"), "package/name"),
        (
            lambda d: d["versions"][0]["items"].append({"course": "NOPE", "required": True}),
            "course 'NOPE' is not in courses",
        ),
    ],
)
def test_invalid_files_are_refused_with_every_problem_named(
    admin: Any, change: Any, expected: str
) -> None:
    """A file that breaks the schema or does not hold together is refused, saying where."""
    version = make_published_package(actor=admin)
    document = package_files.export_package(package_id=version.package_id)
    change(document)
    with pytest.raises(PackageFileInvalid) as refused:
        package_files.import_package(actor=admin, document=document)
    assert any(expected in p for p in refused.value.problems), refused.value.problems


def test_commands_export_and_import_files(admin: Any, tmp_path: Path) -> None:
    """export_package writes JSON or YAML; import_package reads either and reports the draft."""
    version = make_published_package(actor=admin, name="On disk")
    out = tmp_path / "p.yaml"
    call_command(
        "export_package",
        str(version.package_id),
        "--format",
        "yaml",
        "--output",
        str(out),
        stderr=StringIO(),
    )
    stdout = StringIO()
    call_command("import_package", str(out), "--as", admin.username, stdout=stdout)
    # The file names its package by key: it comes back as that package's next draft
    assert f"Draft v2 of package {version.package_id} " in stdout.getvalue()
    printed = StringIO()
    call_command("export_package", str(version.package_id), "--history", stdout=printed)
    assert json.loads(printed.getvalue())["versions"][0]["number"] == 1
    with pytest.raises(CommandError, match="no version 9"):
        call_command("export_package", str(version.package_id), "--number", "9", stdout=StringIO())
