"""Give packages and course groups a natural key (issue 17): unique, never changed.

Existing rows get a key derived from their name (a group's from its newest
version's), made unique by a numeric suffix, in id order.
"""

from django.db import migrations, models
from django.utils.text import slugify


def _derive(name: str, taken: set[str], fallback: str) -> str:
    base = slugify(name)[:90].strip("-") or fallback
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    taken.add(key)
    return key


def fill_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    Package = apps.get_model("packaging", "Package")
    CourseGroup = apps.get_model("packaging", "CourseGroup")
    CourseGroupVersion = apps.get_model("packaging", "CourseGroupVersion")
    taken: set[str] = set()
    packages = list(Package.objects.order_by("id").only("id", "name"))
    for package in packages:
        package.key = _derive(package.name, taken, "package")
    Package.objects.bulk_update(packages, ["key"], batch_size=500)
    names: dict[int, str] = {}
    for group_id, name in CourseGroupVersion.objects.order_by(
        "group_id", "version_number"
    ).values_list("group_id", "name"):
        names[group_id] = name
    taken = set()
    groups = list(CourseGroup.objects.order_by("id").only("id"))
    for group in groups:
        group.key = _derive(names.get(group.pk, ""), taken, "group")
    CourseGroup.objects.bulk_update(groups, ["key"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("packaging", "0002_lifecycle"),
    ]

    operations = [
        migrations.AddField(
            model_name="package",
            name="key",
            field=models.SlugField(max_length=100, null=True, db_index=False),
        ),
        migrations.AddField(
            model_name="coursegroup",
            name="key",
            field=models.SlugField(max_length=100, null=True, db_index=False),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="package",
            name="key",
            field=models.SlugField(max_length=100, unique=True),
        ),
        migrations.AlterField(
            model_name="coursegroup",
            name="key",
            field=models.SlugField(max_length=100, unique=True),
        ),
    ]
