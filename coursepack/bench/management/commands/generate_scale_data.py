"""Generate benchmark data: courses, groups, packages, learners, enrollments, events.

    manage.py generate_scale_data                       # the issue's scale (full)
    manage.py generate_scale_data --scale small         # a tenth of it
    manage.py generate_scale_data --scale smoke --learners 80 --seed 7

Deterministic: the same seed and counts give the same data and ids. Run it on an
empty (migrated) database; progress bars go to stderr.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.bench.generate import generate
from coursepack.bench.scales import SCALES, scale_named

_COUNTS = ("courses", "packages", "versions", "groups", "learners", "enrollments", "events", "big")


class Command(BaseCommand):
    help = "Generate deterministic benchmark data at a given scale (bulk inserts, progress bars)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", default="full", choices=sorted(SCALES))
        parser.add_argument("--seed", type=int, default=1)
        for name in _COUNTS:
            parser.add_argument(
                f"--{name}", type=int, default=None, help=f"override the scale's {name}"
            )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        scale = scale_named(options["scale"]).with_counts(**{n: options[n] for n in _COUNTS})
        self.stdout.write(f"Generating {scale.describe()}; seed {options['seed']}")
        started = time.perf_counter()
        try:
            report = generate(
                scale,
                seed=options["seed"],
                show_progress=not options["no_progress"],
                on_phase=lambda name, took: self.stdout.write(f"  {name}: {took:.1f} s"),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for name, count in report.counts.items():
            self.stdout.write(f"  {name:>24}: {count:,}")
        self.stdout.write(f"Done in {time.perf_counter() - started:.1f} s.")
