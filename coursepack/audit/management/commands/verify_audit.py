"""Check the tamper-evident audit chain."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from coursepack.audit.api import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; name the first record that was changed, deleted or reordered."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.intact:
            raise CommandError(
                f"Audit chain broken at record {report.first_bad_id}: {report.reason} "
                f"({report.checked} records before it are intact)."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {report.checked} records verified.")
        )
