"""Time the report selectors one by one on the database DATABASE_URL names.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 COURSEPACK_DEBUG=0 \
        .tools/bin/uv run --frozen --no-sync python scripts/time_report_reads.py [--exact] [--repeat 3]

Each read is timed ``--repeat`` times in one process and the best is printed, with the
path it took (summary rows or exact). ``--exact`` also times the exact aggregate the
summary rows replace (the events or enrollments themselves), for comparison. Reads
only: it writes nothing. Not a benchmark (``make bench`` is); docs/benchmarks.md says
where its numbers were taken.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coursepack.settings")

import django

django.setup()

from coursepack.bench.scales import HISTORY_PACKAGE  # noqa: E402
from coursepack.packaging.models import Package, PackageVersion  # noqa: E402
from coursepack.reports import exact, selectors  # noqa: E402
from coursepack.reports.scope import ReportFilters  # noqa: E402


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, found = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        found = fn()
        best = min(best, time.perf_counter() - started)
    return best, found


def _size(found: Any) -> str:
    if isinstance(found, int):
        return f"= {found:,}"
    if hasattr(found, "series"):
        return f"{len(found.periods)} {found.bucket}s x {len(found.series)} versions"
    return f"{len(found):,} rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exact", action="store_true", help="also time the exact aggregates")
    parser.add_argument("--skip", action="append", default=[], help="skip reads naming this")
    args = parser.parse_args()
    package = Package.objects.get(name=HISTORY_PACKAGE)
    version = (
        PackageVersion.objects.filter(package=package)
        .exclude(status="draft")
        .order_by("-version_number")
        .first()
    )
    assert version is not None
    year = ReportFilters(
        start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2025, 1, 1, tzinfo=UTC)
    )
    one = ReportFilters(package_id=package.pk)
    its_version = ReportFilters(package_id=package.pk, version_id=version.pk)
    reads: list[tuple[str, Callable[[], Any]]] = [
        (
            "package_report, all packages, no range",
            lambda: selectors.package_report(ReportFilters()),
        ),
        ("package_report, history package", lambda: selectors.package_report(one)),
        ("package_report, all packages, 2024", lambda: selectors.package_report(year)),
        (
            "completions_over_time, all, all time",
            lambda: selectors.completions_over_time(ReportFilters()),
        ),
        ("completions_over_time, all, 2024", lambda: selectors.completions_over_time(year)),
        ("completions_over_time, history package", lambda: selectors.completions_over_time(one)),
        ("course_report, all", lambda: selectors.course_report(ReportFilters())),
        ("course_report, history package", lambda: selectors.course_report(one)),
        (
            "course_report, history package, latest version",
            lambda: selectors.course_report(its_version),
        ),
        ("course_report, all, 2024", lambda: selectors.course_report(year)),
        (
            "learner_rows, first 100, all",
            lambda: list(selectors.learner_rows(ReportFilters(), limit=100)),
        ),
        ("learner_count, all", lambda: selectors.learner_count(ReportFilters())),
        ("learner_rows, first 100, 2024", lambda: list(selectors.learner_rows(year, limit=100))),
        ("learner_count, 2024", lambda: selectors.learner_count(year)),
    ]
    if args.exact:
        courses = selectors._report_course_ids(one)
        reads += [
            ("exact: course counts, history package", lambda: exact.course_counts(one, courses)),
            (
                "exact: completions chart, all time",
                lambda: exact.period_counts(ReportFilters(), UTC),
            ),
        ]
    print(f"{date.today()}  history package {package.pk}, version {version.pk}")
    for label, fn in reads:
        if any(word in label for word in args.skip):
            continue
        seconds, found = _best(fn, args.repeat)
        print(f"{label:52} {seconds * 1000:10.1f} ms  {_size(found)}", flush=True)


if __name__ == "__main__":
    main()
