"""Write a package as a file (JSON or YAML), one version or its whole history.

manage.py export_package 12 > security.json
manage.py export_package 12 --version 2 --format yaml --output security-v2.yaml
manage.py export_package 12 --history --format yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.errors import DomainError
from coursepack.interchange import package_files


class Command(BaseCommand):
    help = "Export a package as a file that follows docs/schema/package.schema.json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("package_id", type=int)
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--number", type=int, help="version number (default: the active one)")
        which.add_argument("--history", action="store_true", help="every version, oldest first")
        parser.add_argument("--format", choices=["json", "yaml"], default="json")
        parser.add_argument("--output", type=Path, help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = package_files.export_package(
                package_id=options["package_id"],
                version_number=options["number"],
                history=options["history"],
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        text = package_files.dumps(document, options["format"])
        if options["output"] is None:
            self.stdout.write(text, ending="")
        else:
            options["output"].write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {options['output']}")
