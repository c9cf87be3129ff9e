"""Import a package file (JSON or YAML) as a draft.

    manage.py import_package security.yaml --as admin
    manage.py import_package security.json --as admin --into 12 --create-courses

Creates a new package whose draft v1 is the file's (last) version, or with
``--into`` the next draft of an existing package. Published versions are never
changed. Courses are matched by code; missing ones are listed unless
``--create-courses``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.errors import DomainError
from coursepack.interchange import package_files


class Command(BaseCommand):
    help = "Import a package file as a draft (a new package, or --into an existing one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--as", dest="actor", required=True, help="username the audit log names as the actor"
        )
        parser.add_argument("--into", type=int, help="id of the package to make a new draft of")
        parser.add_argument(
            "--create-courses", action="store_true", help="create courses missing from the catalog"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = get_user_model().objects.filter(username=options["actor"]).first()
        if actor is None:
            raise CommandError(f"There is no user {options['actor']!r}.")
        try:
            document = package_files.loads(options["file"].read_text(encoding="utf-8"))
            outcome = package_files.import_package(
                actor=actor,
                document=document,
                create_courses=options["create_courses"],
                into_package_id=options["into"],
            )
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from None
        except DomainError as error:
            raise CommandError(str(error)) from None
        draft = outcome.draft
        self.stdout.write(
            f"Draft v{draft.version_number} of package {draft.package_id} ({draft.name!r}): "
            f"{draft.items.count()} items"
        )
        for label, values in (
            ("created courses", outcome.created_courses),
            ("created groups", outcome.created_groups),
            ("new group versions", outcome.new_group_versions),
            ("reused groups", outcome.reused_groups),
        ):
            if values:
                self.stdout.write(f"  {label}: {', '.join(values)}")
