"""Template helpers of the reports page."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from coursepack.reports.rows import PackageRow
from coursepack.reports.tables import ReportTable

register = template.Library()


@register.filter
def report_cell(value: object) -> str:
    """Show one report cell: grouped thousands, one decimal, moments to the minute, "—" for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


@register.simple_tag
def report_rows(
    table: ReportTable, empty: str = "Nothing to report for these filters."
) -> SafeString:
    """Return the ``<tr>`` rows of a report table.

    Built here rather than by template tags per cell: a report may hold thousands
    of cells, and this is many times faster to render.
    """
    columns = table.columns
    lines: list[str] = []
    for row in table.rows:
        cells = []
        for column, value in zip(columns, row.cells, strict=True):
            if column.badge and value:
                text = escape(value)
                content = f'<span class="badge {text}">{escape(str(value).capitalize())}</span>'
            else:
                content = escape(report_cell(value))
            cells.append(
                f'<td class="num">{content}</td>' if column.numeric else f"<td>{content}</td>"
            )
        lines.append(('<tr class="total">' if row.total else "<tr>") + "".join(cells) + "</tr>")
    if not lines:
        return format_html('<tr><td class="empty" colspan="{}">{}</td></tr>', len(columns), empty)
    # Safe: every text in it went through escape().
    return mark_safe("\n".join(lines))


@register.simple_tag
def standing_rows(
    standing: list[tuple[PackageRow, list[tuple[str, str, int]]]], within: int
) -> SafeString:
    """Return the ``<tr>`` rows of the standing section: per package, each count linked
    to the package's standing page showing those learners.

    Built here for the reason ``report_rows`` is: one URL per package, not per cell.
    """
    lines: list[str] = []
    for package, counts in standing:
        page = reverse("web:standing", args=[package.package_id])
        name = escape(package.name)
        cells = "".join(
            f'<td class="num"><a href="{page}?standing={escape(key)}&amp;within={within}" '
            f'aria-label="{escape(label)} in {name}: {n}">{n}</a></td>'
            for key, label, n in counts
        )
        lines.append(f'<tr><th scope="row">{name}</th>{cells}</tr>')
    # Safe: every text in it went through escape() or is a number or a reversed URL.
    return mark_safe("\n".join(lines))
