"""Check the tamper-evident audit chain (and, given one, against a signed checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.audit.api import checkpoint_is_authentic, verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit log's keyed hash chain and the rows it vouches for; name the first "
        "record that was changed, deleted or reordered, or whose row was changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint", type=Path, help="a file written by manage.py audit_checkpoint"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = None
        if options["checkpoint"]:
            try:
                checkpoint = json.loads(options["checkpoint"].read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read the checkpoint: {exc}") from exc
            if not checkpoint_is_authentic(checkpoint):
                raise CommandError(
                    "The checkpoint's signature does not match: it was altered, or signed "
                    "with another audit key."
                )
        report = verify_chain(checkpoint=checkpoint)
        if not report.intact:
            where = f"at record {report.first_bad_id}" if report.first_bad_id else ""
            raise CommandError(
                f"Audit chain broken {where}: {report.reason} "
                f"({report.checked} records before it are intact)."
            )
        extra = f"; {report.rows_checked} bound rows match their records"
        if report.unkeyed:
            extra += f"; {report.unkeyed} records predate keying (unkeyed SHA-256)"
        if report.loaded_without_records:
            rows = ", ".join(f"{n:,} {label}" for label, n in report.loaded_without_records)
            records = ", ".join(str(pk) for pk in report.declared_by)
            extra += (
                f"; rows loaded without records of their own, as declared by record(s) "
                f"{records} (generated benchmark data): {rows}"
            )
        if checkpoint:
            extra += f"; passes through checkpoint record {checkpoint['last_event_id']}"
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {report.checked} records verified{extra}.")
        )
