"""Run the scale benchmarks on this database and print one table.

    manage.py run_benchmarks --scale full        # after generate_scale_data --scale full
    manage.py run_benchmarks --scale smoke --json-out results.json

Each operation is shown with its median and p99 and its ratio to a floor
measured in the same run on the same database, with the issue's target and
PASS/MISS. The exit status is non-zero if a benchmark failed with an error
(an exception, a wrong answer, a failed HTTP request) — never because of a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.bench import events, matrix, migration, organisation, reminders, runner
from coursepack.bench.measure import render_table
from coursepack.bench.scales import SCALES, scale_named

_OPERATIONS = (
    "rebuild",
    "completion",
    "counts",
    "lifecycle",
    "reminders",
    "transcript",
    "bulk",
    "publish",
    "migration",
    "matrix",
    "authoring_pages",
    "operations_pages",
    "events",
    "http",
    "load",
    "people_sync",
)


class Command(BaseCommand):
    help = "Benchmark the main operations against floors measured in the same run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", default="full", choices=sorted(SCALES))
        parser.add_argument(
            "--only",
            default=",".join(_OPERATIONS),
            help=f"comma-separated: {','.join(_OPERATIONS)}",
        )
        parser.add_argument("--json-out", help="also write the rows (or a part's result) as JSON")
        parser.add_argument("--markdown-out", help="also write the table to this file")
        parser.add_argument(
            "--log-dir", default=None, help="where the HTTP server logs (default: tmp)"
        )
        # Internal: one part of the rebuild benchmark, run in its own process.
        parser.add_argument("--part", choices=("rebuild", "floor"), help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["part"]:
            result = runner.rebuild_part(options["part"])
            Path(options["json_out"]).write_text(json.dumps(result))
            return
        if settings.DEBUG:
            self.stderr.write(
                "warning: DEBUG is on (set COURSEPACK_DEBUG=0): every query is logged in memory"
            )
        scale = scale_named(options["scale"])
        only = [o.strip() for o in options["only"].split(",") if o.strip()]
        unknown = sorted(set(only) - set(_OPERATIONS))
        if unknown:
            raise CommandError(f"unknown operations: {', '.join(unknown)}")
        env = runner.environment()
        bench = runner.Runner(
            scale,
            runner.plan_for(scale),
            log=self._log,
            # The migration benchmark builds its own legacy database.
            generated=bool(set(only) - {"migration"}),
        )
        started = time.perf_counter()
        manage_py = Path(sys.argv[0]).resolve()
        log_dir = Path(options["log_dir"] or "/tmp")
        steps = {
            "rebuild": lambda: bench.rebuild(manage_py),
            "completion": bench.completion,
            "counts": bench.counts,
            "lifecycle": bench.lifecycle,
            "reminders": lambda: reminders.reminder_rows(bench),
            "transcript": bench.transcript,
            "bulk": bench.bulk_enroll,
            "publish": bench.publish,
            "migration": lambda: migration.migration_rows(scale),
            "matrix": lambda: matrix.matrix_rows(scale),
            "authoring_pages": bench.authoring_pages,
            "operations_pages": bench.operations_pages,
            "events": lambda: events.events_feed(bench),
            "http": lambda: bench.http(log_dir),
            "load": lambda: bench.load(manage_py, log_dir),
            "people_sync": lambda: organisation.people_sync(bench),
        }
        for name in _OPERATIONS:
            if name in only:
                bench.run(name, steps[name])
        took = time.perf_counter() - started
        env["load after"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        title = f"### {env['engine']} — scale {scale.name}"
        notes = [
            f"Scale: {scale.describe()}.",
            f"Machine: {env['cpus']} CPUs, {env['memory']} RAM, Python {env['python']}, "
            f"{env['platform']}; load average {env['load']} before, {env['load after']} after; "
            f"{env['when']}; benchmarks took {took:.0f} s.",
            "median/p99 over n samples; ratio = median / floor's median (rebuild: total / total; "
            "publish: with learners / without); targets on p99 unless said otherwise.",
        ]
        if scale.name != "full":
            notes.append(
                "Not the full scale: the targets are for the full scale, so PASS/MISS here is indicative only."
            )
        table = render_table(title, bench.rows, notes)
        self.stdout.write("\n" + table + "\n")
        if options["markdown_out"]:
            Path(options["markdown_out"]).write_text(table + "\n")
        if options["json_out"]:
            Path(options["json_out"]).write_text(
                json.dumps(
                    {
                        "environment": env,
                        "scale": scale.name,
                        "rows": [r.as_dict() for r in bench.rows],
                    },
                    indent=1,
                    default=str,
                )
            )
        errors = [r for r in bench.rows if r.error]
        if errors:
            raise CommandError(
                f"{len(errors)} benchmark(s) failed: " + "; ".join(r.operation for r in errors)
            )

    def _log(self, message: str) -> None:
        self.stderr.write(message)
