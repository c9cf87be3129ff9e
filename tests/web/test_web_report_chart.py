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


def test_the_periods_and_versions_are_named_and_escaped() -> None:
    """Each period named by its bucket (a month's name read once per chart serves every
    period of that month), each version's name escaped, in the tooltips and on the axis."""
    weeks = (date(2024, 1, 22), date(2024, 1, 29), date(2024, 2, 5), date(2025, 1, 6))
    series = (
        CompletionSeries(
            version_id=1, package_name="A&B <Co>", version_number=2, counts=(1, 2, 0, 3)
        ),
    )
    drawn = str(completions_chart(CompletionsOverTime(bucket="week", periods=weeks, series=series)))
    for when in ("Jan 22", "Jan 29", "Feb 5", "Jan 6"):
        assert f'text-anchor="middle">{when}</text>' in drawn
    for when in ("Jan 22", "Jan 29", "Jan 6"):
        assert f", week of {when}</title>" in drawn
    assert "week of Feb 5" not in drawn  # no segment of none
    assert "A&amp;B &lt;Co&gt; v2: 2 completions, week of Jan 29</title>" in drawn

    months = (date(2024, 12, 1), date(2025, 1, 1))
    drawn = str(
        completions_chart(
            CompletionsOverTime(bucket="month", periods=months, series=(_series(1, (4, 5)),))
        )
    )
    assert "P01 v1: 4 completions, Dec 2024</title>" in drawn
    assert "P01 v1: 5 completions, Jan 2025</title>" in drawn
    years = (date(2023, 1, 1), date(2024, 1, 1))
    drawn = str(
        completions_chart(
            CompletionsOverTime(bucket="year", periods=years, series=(_series(1, (1, 0)),))
        )
    )
    assert "P01 v1: 1 completion, 2023</title>" in drawn
    assert 'text-anchor="middle">2024</text>' in drawn
