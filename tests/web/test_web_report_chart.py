"""The report page's chart draws the same SVG whether it is given every version or the
versions it shows on their own with the others added up (ADR 0036, the chart folded by
the database)."""

from __future__ import annotations

from datetime import date

from coursepack.reports.rows import CompletionSeries, CompletionsOverTime
from coursepack.web.report_chart import MAX_SERIES, SHOWN_VERSIONS, completions_chart


def _series(version_id: int, counts: tuple[int, ...]) -> CompletionSeries:
    return CompletionSeries(
        version_id=version_id, package_name=f"P{version_id:02d}", version_number=1, counts=counts
    )


def test_a_folded_chart_is_drawn_as_the_whole_one() -> None:
    periods = (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))
    # More versions than the chart colours; equal totals among them (3 and 5), so the
    # order among equals decides which are drawn.
    every = tuple(
        _series(i, counts)
        for i, counts in enumerate(
            [
                (1, 0, 2),
                (5, 0, 0),
                (0, 3, 0),
                (2, 2, 1),
                (0, 0, 3),
                (4, 1, 0),
                (1, 1, 1),
                (0, 5, 0),
                (3, 0, 0),
                (0, 0, 1),
            ],
            start=1,
        )
    )
    assert len(every) > MAX_SERIES
    whole = CompletionsOverTime(bucket="month", periods=periods, series=every)
    ranked = sorted(every, key=lambda s: -s.total)[:SHOWN_VERSIONS]
    kept = {s.version_id for s in ranked}
    rest = [s.counts for s in every if s.version_id not in kept]
    folded = CompletionsOverTime(
        bucket="month",
        periods=periods,
        series=tuple(s for s in every if s.version_id in kept),
        other=tuple(sum(column) for column in zip(*rest, strict=True)),
        other_versions=len(rest),
    )
    assert folded.totals() == whole.totals()
    drawn = str(completions_chart(folded))
    assert drawn == str(completions_chart(whole))
    assert f"Other versions ({len(rest)})" in drawn
