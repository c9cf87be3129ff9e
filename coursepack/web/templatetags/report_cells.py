"""Template helpers of the reports page."""

from __future__ import annotations

from datetime import datetime
from html import escape as _escape

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from coursepack.reports.rows import PackageRow
from coursepack.reports.tables import ReportTable
from coursepack.web.links import ID, link

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
    # Each cell opened by its column once; texts escaped by ``html.escape``, which is what
    # Django's ``escape`` calls, without its lazy-string wrapper (~2,000 cells a page).
    opens = [
        (column.badge, '<td class="num">' if column.numeric else "<td>") for column in table.columns
    ]
    lines: list[str] = []
    for row in table.rows:
        cells = []
        for (badge, td), value in zip(opens, row.cells, strict=True):
            if badge and value:
                text = _escape(str(value))
                content = f'<span class="badge {text}">{_escape(str(value).capitalize())}</span>'
            elif isinstance(value, str):
                content = _escape(value)
            else:
                # Numbers, moments, none: digits, signs and "—", nothing to escape.
                content = report_cell(value)
            cells.append(f"{td}{content}</td>")
        lines.append(('<tr class="total">' if row.total else "<tr>") + "".join(cells) + "</tr>")
    if not lines:
        return format_html('<tr><td class="empty" colspan="{}">{}</td></tr>', len(opens), empty)
    # Safe: every text in it went through html.escape().
    return mark_safe("\n".join(lines))


@register.simple_tag
def standing_rows(
    standing: list[tuple[PackageRow, list[tuple[str, str, int]]]], within: int
) -> SafeString:
    """Return the ``<tr>`` rows of the standing section: per package, each count linked
    to the package's standing page showing those learners.

    Built here for the reason ``report_rows`` is: the URL built once (``web.links``).
    """
    lines: list[str] = []
    standing_page = link("web:standing", ID)
    for package, counts in standing:
        page = standing_page(package.package_id)
        name = escape(package.name)
        cells = "".join(
            f'<td class="num"><a href="{page}?standing={escape(key)}&amp;within={within}" '
            f'aria-label="{escape(label)} in {name}: {n}">{n}</a></td>'
            for key, label, n in counts
        )
        lines.append(f'<tr><th scope="row">{name}</th>{cells}</tr>')
    # Safe: every text in it went through escape() or is a number or a reversed URL.
    return mark_safe("\n".join(lines))
