"""Copy generated benchmark data from a SQLite file into this PostgreSQL database.

    manage.py migrate
    manage.py copy_scale_data --from /path/to/generated.sqlite3

Both databases must be migrated to the same schema, and this one empty: the full
scale's rows (generated once into SQLite with ``generate_scale_data``) copy across
in minutes instead of generating them again on PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.bench.copy_data import copy_from_sqlite


class Command(BaseCommand):
    help = "Copy generated benchmark data from a SQLite file into this PostgreSQL database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, help="the SQLite file")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            copied = copy_from_sqlite(options["source"], say=self.stdout.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        total = sum(copied.values())
        self.stdout.write(f"Copied {total:,} rows in {time.perf_counter() - started:.1f} s.")
