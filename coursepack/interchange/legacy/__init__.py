"""Migration from the seed's legacy schema: read, reconcile, then write through the services.

The legacy design (the seed's "Migration Path" and "Migration Strategy") has four
tables: ``packages``; ``courses`` with a ``package_id`` pointing at its package;
``user_package_enrollments``; ``user_course_completions``. An optional ``users``
table (id, and any of username, first_name, last_name, email) is used when there
is one. They are read with plain DB-API (``sqlite3`` or ``psycopg``).

A migration has two passes over the legacy rows. The first (``analyse``) writes
nothing: it builds the plan and the reconciliation report — rows read and rows
to write per table, and every anomaly with its rows. The second (``migrate``)
writes, in one transaction, through the services of catalog, packaging,
accounts and learning, and refuses to start while the report has anomalies the
caller did not say how to place. Every object is keyed by its legacy key (course
codes ``legacy-<id>``, usernames ``legacy-<id>``, event external ids
``legacy:user_course_completions:<id>``, packages and groups in ``LegacyKey``),
so a second run finds everything and writes nothing.

The code is split by concept: ``source`` reads the legacy tables, ``mapping``
reads the mapping file, ``plan`` walks the rows and builds the plan and the
``report``, and ``write`` writes the plan.
"""

from coursepack.interchange.legacy.mapping import MappedGroup, Mapping, load_mapping
from coursepack.interchange.legacy.plan import Plan, analyse
from coursepack.interchange.legacy.report import ANOMALIES, Anomaly, Report, write_report
from coursepack.interchange.legacy.source import (
    CHANGE_NOTES,
    MIGRATION_ACTOR,
    LegacySource,
    course_code,
    event_key,
    redacted,
    username,
)
from coursepack.interchange.legacy.write import migrate, migration_actor

__all__ = [
    "ANOMALIES",
    "CHANGE_NOTES",
    "MIGRATION_ACTOR",
    "Anomaly",
    "LegacySource",
    "MappedGroup",
    "Mapping",
    "Plan",
    "Report",
    "analyse",
    "course_code",
    "event_key",
    "load_mapping",
    "migrate",
    "migration_actor",
    "redacted",
    "username",
    "write_report",
]
