"""Benchmark: rebuild every stored status, in processes of their own (the peak memory
of the rebuild's process is one of the measurements).

``run_benchmarks --part rebuild|floor`` runs :func:`rebuild_part` in a fresh process;
:func:`rebuild` starts those processes and compares their timings.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coursepack.bench.measure import GIB, Row, ratio
from coursepack.learning import api as learning
from coursepack.learning import selectors as learning_selectors

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["rebuild", "rebuild_part"]


def _rss_peak_bytes() -> int:
    # ru_maxrss is in KiB on Linux.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def rebuild_part(part: str) -> dict[str, Any]:
    """Run the rebuild (``part="rebuild"``) or its floor (``"floor"``); return the timings.

    The rebuild is ``learning.api.rebuild_statuses`` itself, timed batch by batch
    through its progress callback. The floor reads the same rows, batch by batch,
    with the same queries, and evaluates nothing.
    """
    baseline = _rss_peak_bytes()
    chunks: list[float] = []
    last = time.perf_counter()
    started = last

    def tick(_: int) -> None:
        nonlocal last
        now = time.perf_counter()
        chunks.append(now - last)
        last = now

    drifted = checked = 0
    if part == "rebuild":
        report = learning.rebuild_statuses(actor=None, fix=True, progress=tick)
        drifted, checked = len(report.drifted), report.checked
    else:
        checked = _read_like_rebuild(tick)
    return {
        "part": part,
        "chunks": chunks,
        "total": time.perf_counter() - started,
        "checked": checked,
        "drifted": drifted,
        "rss_before": baseline,
        "rss_peak": _rss_peak_bytes(),
    }


def _read_like_rebuild(tick: Callable[[int], None]) -> int:
    """Read every enrollment and its learner's events, batch by batch, exactly as the
    rebuild does (``learning.selectors.status_batches``), and evaluate nothing."""
    checked = 0
    for enrollments, _events, _moves in learning_selectors.status_batches(
        learning.LEARNERS_PER_BATCH
    ):
        checked += len(enrollments)
        tick(len(enrollments))
    return checked


def rebuild(runner: Runner) -> list[Row]:
    results = {}
    # A first, untimed read brings the tables into the page caches, so that
    # neither timed pass pays for a cold cache the other does not.
    for part in ("floor", "rebuild", "floor"):
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            subprocess.run(
                [
                    sys.executable,
                    str(runner.manage_py),
                    "run_benchmarks",
                    "--part",
                    part,
                    "--json-out",
                    out.name,
                ],
                check=True,
            )
            results[part] = json.loads(Path(out.name).read_text())
    rebuild, floor = results["rebuild"], results["floor"]
    if rebuild["drifted"]:
        raise RuntimeError(
            f"the rebuild found {rebuild['drifted']} drifted enrollment(s): "
            "the generated cache (or a benchmark's write) was not exact"
        )
    op = Row.of(
        f"rebuild all stored statuses, per batch of {learning.LEARNERS_PER_BATCH} learners",
        rebuild["chunks"],
        note=f"{rebuild['checked']:,} enrollments, total {rebuild['total']:.1f} s, 0 drifted",
    )
    base = Row.of(
        "read the same rows, no evaluation, per batch",
        floor["chunks"],
        floor=True,
        note=f"total {floor['total']:.1f} s",
    )
    op.ratio = ratio(rebuild["total"], floor["total"])
    op.target, op.passed = "<=2x floor (totals)", op.ratio is not None and op.ratio <= 2
    memory = Row(
        operation="peak memory of the rebuild (process max RSS)",
        n=1,
        median=float(rebuild["rss_peak"]),
        unit="B",
        note=f"{rebuild['rss_before'] / 2**20:,.0f} MiB before it started",
        target="<=1 GiB",
        passed=rebuild["rss_peak"] <= GIB,
    )
    op.extra = {"rebuild": rebuild, "floor": floor}
    return [op, base, memory]
