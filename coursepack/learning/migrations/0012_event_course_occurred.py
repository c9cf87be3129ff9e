# The course table over a date range reads the range's index entries alone (ADR 0036,
# amended): an index on the events by (course, moment) holding what the per-course counts
# read. It replaces the plain index of the course foreign key, so recording an event
# keeps one index entry per course reference, as before.

from django.db import migrations, models


def _course_index_names(schema_editor, model):
    """The indexes on exactly (course_id) of the events: the foreign key's own."""
    return schema_editor._constraint_names(
        model, [model._meta.get_field("course").column], index=True, unique=False, primary_key=False
    )


def drop_course_index(apps, schema_editor):
    # Dropped by its name as found, not by rebuilding the table: on SQLite Django alters
    # a field by copying the table (10,000,000 events at the benchmark's full scale).
    model = apps.get_model("learning", "CompletionEvent")
    for name in _course_index_names(schema_editor, model):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_course_index(apps, schema_editor):
    model = apps.get_model("learning", "CompletionEvent")
    if not _course_index_names(schema_editor, model):
        schema_editor.execute(
            schema_editor._create_index_sql(model, fields=[model._meta.get_field("course")])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("learning", "0011_course_scope_summaries"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="completionevent",
            index=models.Index(
                fields=["course", "occurred_at", "kind", "learner", "id"],
                name="event_course_occurred",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="completionevent",
                    name="course",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="catalog.course",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_course_index, create_course_index),
            ],
        ),
    ]
