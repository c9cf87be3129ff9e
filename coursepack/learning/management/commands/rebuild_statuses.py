"""Recompute every enrollment's stored status from the completion events.

    manage.py rebuild_statuses            # fix drifted enrollments, report them
    manage.py rebuild_statuses --check    # only report; exit status 1 if any drifted

Stored statuses are a cache of the requirement engine; this is how to prove (or
restore) that the cache agrees with the events. It works through the
learners in batches (each fix in its own transaction), with a progress bar of
enrollments on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from coursepack.audit import api as audit
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment

#: How many drifted enrollment ids the report lists before it only counts them.
_LISTED = 50


def _advance(bar: tqdm[Any], n: int) -> None:
    bar.update(n)


class Command(BaseCommand):
    help = (
        "Recompute every enrollment's stored status, progress and completion date from "
        "the completion events, and report the enrollments that had drifted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="report drift without fixing it; exit with status 1 if there is any",
        )
        parser.add_argument(
            "--learners-per-batch",
            type=int,
            default=400,
            help="learners whose enrollments and events are read at once (default: 400)",
        )
        parser.add_argument(
            "--actor",
            help="the Coursepack user running this, for the audit log (default: the OS user)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            actor = audit.operator(options["actor"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        if options["learners_per_batch"] < 1:
            raise CommandError("--learners-per-batch must be 1 or more.")
        check: bool = options["check"]
        # tqdm rewrites its line with "\r": give it the raw stream, not Django's
        # OutputWrapper, which would end every write with a newline.
        stream = options.get("stderr") or sys.stderr
        with tqdm(
            total=Enrollment.objects.count(),
            unit="enrollment",
            desc="Checking" if check else "Rebuilding",
            file=stream,
            disable=options["no_progress"],
        ) as bar:
            report = learning.rebuild_statuses(
                actor=actor,
                fix=not check,
                learners_per_batch=options["learners_per_batch"],
                progress=lambda n: _advance(bar, n),
            )
        drifted = report.drifted
        self.stdout.write(f"Checked {report.checked} enrollment(s); {len(drifted)} drifted.")
        summary = report.summary_keys_drifted
        self.stdout.write(
            f"Summary rows: {summary} key(s) drifted"
            + ("." if not summary else (" (not fixed)." if check else "; rebuilt."))
        )
        if check and summary and not drifted:
            raise CommandError(
                f"{summary} summary key(s) have drifted from the enrollments; "
                "run rebuild_statuses without --check to rebuild them.",
                returncode=1,
            )
        if drifted:
            listed = ", ".join(map(str, drifted[:_LISTED]))
            more = f" and {len(drifted) - _LISTED} more" if len(drifted) > _LISTED else ""
            self.stdout.write(f"Drifted enrollments: {listed}{more}.")
            if check:
                raise CommandError(
                    f"{len(drifted)} enrollment(s) have drifted from their events; "
                    "run rebuild_statuses without --check to fix them.",
                    returncode=1,
                )
            self.stdout.write(f"Fixed {len(drifted)} enrollment(s).")
