"""Migrate a legacy database (the seed's schema) into Coursepack.

    manage.py import_legacy --from legacy.sqlite3 --mapping groups.yaml --dry-run
    manage.py import_legacy --from postgresql://user@host/legacy --mapping groups.yaml
    manage.py import_legacy --from legacy.sqlite3 --skip-orphans --report var/migration

A dry run writes nothing and prints the plan and the reconciliation report. A
real run writes the same report as Markdown and JSON (``--report`` prefix), then
migrates everything in one transaction — or nothing, if anything fails. Running
it again writes nothing. Progress bars go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from coursepack.errors import DomainError
from coursepack.interchange import legacy


class Command(BaseCommand):
    help = (
        "Migrate the legacy tables (packages, courses, enrollments, completions) into Coursepack."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            required=True,
            help="the legacy database: a SQLite file (or sqlite:///path) or a postgresql:// URL",
        )
        parser.add_argument(
            "--mapping", type=Path, help="YAML file naming the implicit groups (see docs)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="write nothing; print the plan and the report"
        )
        parser.add_argument(
            "--skip-orphans",
            action="store_true",
            help="leave out rows that point at nothing (unknown users, packages, courses)",
        )
        parser.add_argument(
            "--report",
            type=Path,
            default=Path("legacy-migration-report"),
            help="where to write the report: PREFIX.md and PREFIX.json "
            "(default: legacy-migration-report)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        bars: dict[str, tqdm[Any]] = {}
        quiet = options["no_progress"]

        def progress(what: str, n: int) -> None:
            if quiet:
                return
            bar = bars.get(what)
            if bar is None:
                bar = bars[what] = tqdm(desc=what, unit=" rows", disable=None)
            bar.update(n)

        def close_bars() -> None:
            for bar in bars.values():
                bar.close()
            bars.clear()

        try:
            with legacy.LegacySource(options["source"]) as source:
                mapping = legacy.load_mapping(options["mapping"])
                plan = legacy.analyse(
                    source,
                    mapping=mapping,
                    dry_run=options["dry_run"],
                    skip_orphans=options["skip_orphans"],
                    progress=progress,
                )
                close_bars()
                report = plan.report
                if options["dry_run"]:
                    self.stdout.write(plan.describe())
                    self.stdout.write(report.to_markdown())
                    return
                # Written first, so that a refused or failed run leaves its report too.
                self._write(report, options["report"], quiet=True)
                try:
                    legacy.migrate(source, plan, progress=progress)
                except DomainError:
                    self.stderr.write(self._written(options["report"]))
                    raise
                finally:
                    close_bars()
                self._write(report, options["report"])
                self.stdout.write(report.to_markdown())
        except DomainError as error:
            raise CommandError(str(error)) from None

    def _written(self, prefix: Path) -> str:
        return f"Report written to {prefix}.md and {prefix}.json"

    def _write(self, report: legacy.Report, prefix: Path, *, quiet: bool = False) -> None:
        legacy.write_report(report, prefix)
        if not quiet:
            self.stderr.write(self._written(prefix))
