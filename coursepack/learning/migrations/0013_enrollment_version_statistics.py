# PostgreSQL only: the planner is told that an enrollment's version decides its package
# (extended statistics: functional dependencies). Without them it multiplies the two
# conditions' selectivities as if independent: for the latest version of the benchmark's
# largest package it expected 3,938 enrollments where there are 40,350, so the report's
# one-version learners page ("the first 100 learners by username with an enrollment in
# this version") was planned in parallel, and starting a parallel worker took ~6 ms
# where the serial walk takes 0.4 ms (ADR 0036, amended). SQLite keeps no such
# statistics; nothing is done there.

from django.db import migrations

_CREATE = (
    "CREATE STATISTICS IF NOT EXISTS enrollment_version_package (dependencies, ndistinct) "
    "ON package_id, version_id FROM learning_enrollment"
)
_DROP = "DROP STATISTICS IF EXISTS enrollment_version_package"


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_CREATE)
    # The statistics are gathered by ANALYZE (a sample of the table: seconds at the
    # benchmark's full scale), not by CREATE STATISTICS.
    schema_editor.execute("ANALYZE learning_enrollment")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_DROP)


class Migration(migrations.Migration):
    dependencies = [("learning", "0012_event_course_occurred")]

    operations = [migrations.RunPython(create_statistics, drop_statistics, elidable=False)]
