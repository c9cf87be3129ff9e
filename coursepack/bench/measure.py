"""The benchmark table: rows of timings, their floors and targets, and how they print;
and the small timing helpers every benchmark module shares."""

from __future__ import annotations

import importlib
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction

__all__ = [
    "GIB",
    "MS",
    "Row",
    "optional",
    "p99",
    "paired",
    "percentile",
    "ratio",
    "render_table",
    "rolled_back",
    "timed",
]

MS = 0.001
GIB = 2**30


def timed(fn: Callable[[], Any]) -> float:
    """Return how long ``fn()`` took, in seconds."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def paired(
    op: Callable[[], Any], floor: Callable[[], Any], *, samples: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Time ``op`` and ``floor`` alternately, ``warmup + samples`` times each; return the
    timings of both after the warm-up (alternating, so that both see the same caches)."""
    times: list[float] = []
    floor_times: list[float] = []
    for index in range(samples + warmup):
        took_op, took_floor = timed(op), timed(floor)
        if index >= warmup:
            times.append(took_op)
            floor_times.append(took_floor)
    return times, floor_times


def ratio(value: float | None, floor: float | None) -> float | None:
    """Return ``value / floor``, or None when either is missing (or the floor is 0)."""
    if value is None or not floor:
        return None
    return value / floor


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``samples`` (0 < fraction <= 1)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a transaction that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def optional(module: str, name: str) -> Any:
    """Return ``module.name`` if another part of the project provides it, else None."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def p99(samples: Sequence[float]) -> float:
    """Return the 99th percentile (nearest rank): the largest sample below 100 samples."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class Row:
    """One line of the table: an operation, or (``floor=True``) the floor it is compared with.

    ``unit`` says how ``median``/``p99`` read: seconds ("s"), bytes ("B") or
    requests per second ("req/s", with latencies in ``median``/``p99``).
    """

    operation: str
    n: int = 0
    median: float | None = None
    p99: float | None = None
    unit: str = "s"
    ratio: float | None = None
    target: str = ""
    # True, False, or None when there is no target or nothing was measured.
    passed: bool | None = None
    floor: bool = False
    rate: float | None = None
    note: str = ""
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, operation: str, samples: Sequence[float], **kwargs: Any) -> Row:
        return cls(
            operation=operation,
            n=len(samples),
            median=statistics.median(samples) if samples else None,
            p99=p99(samples) if samples else None,
            **kwargs,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1000:.2f} ms"
    return f"{value * 1_000_000:.0f} µs"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "B":
        return f"{value / 2**20:,.0f} MiB"
    return _seconds(value)


def _verdict(row: Row) -> str:
    if row.error:
        return "ERROR"
    if row.passed is None:
        return ""
    return "PASS" if row.passed else "MISS"


def render_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    """Return the rows as one plain-text table (also valid Markdown) under ``title``."""
    header = ("operation", "n", "median", "p99", "req/s", "ratio", "target", "result")
    lines = []
    for row in rows:
        name = f"↳ floor: {row.operation}" if row.floor else row.operation
        if row.note:
            name += f" ({row.note})"
        lines.append(
            (
                name,
                f"{row.n:,}" if row.n else "",
                _value(row.median, row.unit),
                _value(row.p99, row.unit) if row.unit != "B" else "",
                f"{row.rate:,.0f}" if row.rate is not None else "",
                f"{row.ratio:.2f}x" if row.ratio is not None else "",
                row.target,
                _verdict(row),
            )
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [title, "", fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(line) for line in lines]
    errors = [f"- {r.operation}: {r.error}" for r in rows if r.error]
    if errors:
        out += ["", "Errors:", *errors]
    if notes:
        out += ["", *notes]
    return "\n".join(out)
