"""Build the small legacy database of docs/migration.md (the seed's example).

    manage.py build_legacy_example --to var/legacy-example.sqlite3 --mapping var/legacy-groups.yaml

``--to`` may also be the URL of an empty PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from coursepack.interchange import legacy_example


class Command(BaseCommand):
    help = "Write the seed's example as a legacy database (and its mapping file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", required=True, help="SQLite file to create, or a PostgreSQL URL"
        )
        parser.add_argument(
            "--mapping", type=Path, help="where to write the example's mapping file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = legacy_example.write_legacy(options["to"], legacy_example.example())
        for table, n in counts.items():
            self.stdout.write(f"{table}: {n} rows")
        if options["mapping"] is not None:
            options["mapping"].parent.mkdir(parents=True, exist_ok=True)
            options["mapping"].write_text(legacy_example.example_mapping(), encoding="utf-8")
            self.stdout.write(f"mapping: {options['mapping']}")
