# A learner's events are found by the (learner, course) index alone: the plain index of
# the learner foreign key is a prefix of it, and with both, PostgreSQL chose the plain
# one for "these learners' events on these courses" and read every event of each learner
# to keep a package's few (a report on a timeline, ADR 0039). Dropping it also leaves
# recording an event one index entry lighter.

from django.conf import settings
from django.db import migrations, models


def _learner_index_names(schema_editor, model):
    """The indexes on exactly (learner_id) of the events: the foreign key's own."""
    return schema_editor._constraint_names(
        model,
        [model._meta.get_field("learner").column],
        index=True,
        unique=False,
        primary_key=False,
    )


def drop_learner_index(apps, schema_editor):
    # Dropped by its name as found, not by rebuilding the table: on SQLite Django alters
    # a field by copying the table (10,000,000 events at the benchmark's full scale).
    model = apps.get_model("learning", "CompletionEvent")
    for name in _learner_index_names(schema_editor, model):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_learner_index(apps, schema_editor):
    model = apps.get_model("learning", "CompletionEvent")
    if not _learner_index_names(schema_editor, model):
        schema_editor.execute(
            schema_editor._create_index_sql(model, fields=[model._meta.get_field("learner")])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0013_enrollment_version_statistics"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="completionevent",
                    name="learner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="completion_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_learner_index, create_learner_index),
            ],
        ),
    ]
