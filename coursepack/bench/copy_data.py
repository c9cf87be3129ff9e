"""Copy a generated scale database from a SQLite file into this (PostgreSQL) database.

Generating the full scale on PostgreSQL takes hours on a small machine (the
generator evaluates every learner); the same rows already generated into SQLite
copy across in minutes. Every table of every installed model is copied column by
column with ``COPY``, foreign keys and triggers held off for the load
(``session_replication_role = replica``), then each table's id sequence is moved
past its highest id and the tables are analysed. Both databases must be migrated
to the same schema; the target must hold no users (a freshly migrated database: the rows its migrations
wrote are replaced by the source's, which the same migrations wrote).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from django.apps import apps
from django.db import connection, transaction

__all__ = ["copy_from_sqlite"]

_BATCH = 50_000


def _tables() -> list[str]:
    found: list[str] = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and meta.db_table not in found:
            found.append(meta.db_table)
    return found


def copy_from_sqlite(path: str, *, say: Callable[[str], None] = print) -> dict[str, int]:
    """Copy every model table's rows from the SQLite file at ``path``; return the rows
    copied per table. Refuses a non-empty target and a non-PostgreSQL one."""
    if connection.vendor != "postgresql":
        raise ValueError("copy_scale_data copies into PostgreSQL only")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copied: dict[str, int] = {}
    tables = _tables()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM auth_user)")
        if cursor.fetchone()[0]:
            raise ValueError("the target has users: copy into a freshly migrated database")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables))
        for table in tables:
            have = {r[1] for r in source.execute(f'PRAGMA table_info("{table}")')}
            if not have:
                say(f"  {table}: not in the source, skipped")
                continue
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s ORDER BY ordinal_position",
                [table],
            )
            columns = [r[0] for r in cursor.fetchall() if r[0] in have]
            started = time.perf_counter()
            names = ", ".join(f'"{c}"' for c in columns)
            rows = source.execute(f'SELECT {names} FROM "{table}"')
            n = 0
            with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                while batch := rows.fetchmany(_BATCH):
                    for row in batch:
                        copy.write_row(row)
                    n += len(batch)
            copied[table] = n
            if "id" in columns and n:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f'(SELECT max(id) FROM "{table}"))',
                    [f'"{table}"'],
                )
            if n:
                say(f"  {table}: {n:,} rows in {time.perf_counter() - started:.1f} s")
    source.close()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return copied
