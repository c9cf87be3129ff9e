"""How much data a benchmark run generates: the named scales and their checks."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["SCALES", "Scale", "scale_named"]

#: The names of the packages the benchmarks look for (see generate.py).
HISTORY_PACKAGE = "Bench: history"
LOADED_PACKAGE = "Bench: publish, loaded"
EMPTY_PACKAGE = "Bench: publish, empty"
SPECIAL_PACKAGES = (HISTORY_PACKAGE, LOADED_PACKAGE, EMPTY_PACKAGE)


@dataclass(frozen=True)
class Scale:
    """Every count the generator and the benchmarks use.

    ``big`` is the size of the large cases: the enrollments of the history
    package (per-version counts) and of the loaded package (publish), and the
    number of learners bulk-enrolled.
    """

    name: str
    courses: int
    packages: int
    versions: int
    groups: int
    learners: int
    enrollments: int
    events: int
    big: int

    def problems(self) -> list[str]:
        """Return why these counts cannot be generated (empty when they can)."""
        out = []
        regular = self.packages - len(SPECIAL_PACKAGES)
        if self.courses < 12:
            out.append("courses: at least 12")
        if regular < 1:
            out.append(f"packages: at least {len(SPECIAL_PACKAGES) + 1}")
        if self.versions < 2:
            out.append("versions: at least 2")
        if self.groups < 3:
            out.append("groups: at least 3 (one of each kind)")
        if self.learners < 1 or not 1 <= self.big <= self.learners:
            out.append("big: between 1 and the number of learners")
        rest = self.enrollments - 2 * self.big
        if rest < 0:
            out.append("enrollments: at least twice big")
        elif regular >= 1 and rest > self.learners * max(0, regular - 1):
            out.append("enrollments: too many for the learners and packages")
        if self.events < 0:
            out.append("events: 0 or more")
        return out

    def with_counts(self, **counts: Any) -> Scale:
        """Return this scale with the given counts changed (None leaves one as it is)."""
        known = {f.name for f in fields(self)}
        changed = {k: v for k, v in counts.items() if k in known and v is not None}
        return replace(self, **changed) if changed else self

    def describe(self) -> str:
        return (
            f"{self.name}: {self.courses:,} courses, {self.packages:,} packages x ~{self.versions} "
            f"versions, {self.groups:,} groups, {self.learners:,} learners, "
            f"{self.enrollments:,} enrollments, {self.events:,} completion events, "
            f"large cases {self.big:,}"
        )


SCALES: dict[str, Scale] = {
    # The scale.
    "full": Scale("full", 2000, 300, 4, 150, 200_000, 1_000_000, 10_000_000, 100_000),
    # A tenth of it: a quick look at how the numbers move.
    "small": Scale("small", 500, 60, 4, 40, 20_000, 100_000, 1_000_000, 10_000),
    # Seconds: proves the benchmark code runs (make bench-smoke, part of make test).
    "smoke": Scale("smoke", 40, 8, 3, 6, 50, 150, 1_500, 10),
}


def scale_named(name: str) -> Scale:
    """Return the scale called ``name``; raise ValueError for an unknown one."""
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}; choose one of {', '.join(SCALES)}") from None
