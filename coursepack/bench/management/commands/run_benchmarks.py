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
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.bench import rebuild, runner
from coursepack.bench.scales import SCALES, scale_named

_OPERATIONS = tuple(runner.OPERATIONS)


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
            result = rebuild.rebuild_part(options["part"])
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
            generated=bool(set(only) - runner.OWN_DATA),
            manage_py=Path(sys.argv[0]).resolve(),
            log_dir=Path(options["log_dir"] or "/tmp"),
        )
        started = time.perf_counter()
        for name, benchmark in runner.OPERATIONS.items():
            if name in only:
                bench.run(name, functools.partial(benchmark, bench))
        took = time.perf_counter() - started
        env["load after"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        table = runner.table(bench, env, took)
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
