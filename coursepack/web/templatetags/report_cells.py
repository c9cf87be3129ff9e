"""Template helpers of the reports page.

Its tables, pagers, filter fields and links are written here in Python, the same HTML
character for character as the template loops, includes and ``{% url %}`` tags they
replace (tests/web/test_web_report_cells.py holds them equal): the template language
spends ~1 µs per variable node and ~0.1 ms per ``reverse``, and these made most of the
page's rendering (issue 19).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from html import escape as _escape
from operator import call
from typing import TYPE_CHECKING, Any

from django import template
from django.forms import Form
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from coursepack.reports.rows import PackageRow
from coursepack.reports.tables import ReportTable
from coursepack.web.links import ID, link
from coursepack.web.templatetags.list_rows import esc

if TYPE_CHECKING:
    from coursepack.web.reports import TablePage

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


def _cell_text(value: object) -> str:
    """A cell's text in the page: texts escaped, anything else as ``report_cell`` shows it
    (numbers, moments, none: digits, signs and "—", nothing to escape)."""
    return _escape(value) if isinstance(value, str) else report_cell(value)


_Writer = Callable[[Any], str]


class _IntCells(dict[int, str]):
    """``<td…>1,234</td>`` per int: the first thousand written once (most counts on a
    page are small; grouping the thousands costs more than the rest of a cell)."""

    def __init__(self, td: str) -> None:
        super().__init__({n: f"{td}{n}</td>" for n in range(1000)})
        self.td = td

    def __missing__(self, n: int) -> str:
        return f"{self.td}{n:,}</td>"


class _Writers(dict[type, _Writer]):
    """The function writing a whole cell, ``<td…>text</td>``, per exact type of its value,
    for one kind of column. A type not listed (a subclass of ``str``, say) is given
    ``fallback`` the first time it is met: ``report_rows``' general path."""

    def __init__(self, writers: dict[type, _Writer], fallback: _Writer) -> None:
        super().__init__(writers)
        self.fallback = fallback

    def __missing__(self, kind: type) -> _Writer:
        self[kind] = self.fallback
        return self.fallback


def _writers(td: str) -> _Writers:
    """The cell writers of a column whose cells open with ``td``: each writes what
    ``report_cell`` shows, texts escaped by ``html.escape`` (what Django's ``escape``
    calls, without its lazy-string wrapper)."""

    def text(value: str) -> str:
        # html.escape(value), inlined: two texts a learner row.
        return (
            td
            + value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            .replace("'", "&#x27;")
            + "</td>"
        )

    def moment(value: datetime) -> str:
        if value.year >= 1000:
            # strftime("%Y-%m-%d %H:%M") in a third of the time (%Y is not padded below 1000).
            return "%s%d-%02d-%02d %02d:%02d</td>" % (  # noqa: UP031 (the fastest here)
                td,
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
            )
        return f"{td}{value.strftime('%Y-%m-%d %H:%M')}</td>"

    def other(value: object) -> str:
        return f"{td}{_cell_text(value)}</td>"

    return _Writers(
        {
            str: text,
            int: _IntCells(td).__getitem__,
            float: f"{td}{{:.1f}}</td>".format,
            type(None): {None: f"{td}—</td>"}.__getitem__,
            bool: {True: f"{td}yes</td>", False: f"{td}no</td>"}.__getitem__,
            datetime: moment,
        },
        other,
    )


class _TextCells(dict[str, str]):
    """A cell per text, written once by ``write``: a badge column's texts are a handful
    (a version's states). Kept up to 256 texts."""

    def __init__(self, write: _Writer) -> None:
        super().__init__()
        self.write = write

    def __missing__(self, text: str) -> str:
        cell = self.write(text)
        if len(self) < 256:
            self[text] = cell
        return cell


def _badge_writers(td: str) -> _Writers:
    """The cell writers of a badge column: a value shown as a badge, none as any other column."""
    plain = _writers(td)

    def badge(value: object) -> str:
        if value:
            text = _escape(str(value))
            return f'{td}<span class="badge {text}">{_escape(str(value).capitalize())}</span></td>'
        return plain[type(value)](value)

    return _Writers({str: _TextCells(badge).__getitem__}, badge)


_CELLS = {
    # (numeric, badge): the writers of that kind of column.
    (False, False): _writers("<td>"),
    (True, False): _writers('<td class="num">'),
    (False, True): _badge_writers("<td>"),
    (True, True): _badge_writers('<td class="num">'),
}


def report_rows(
    table: ReportTable, empty: str = "Nothing to report for these filters."
) -> SafeString:
    """Return the ``<tr>`` rows of a report table.

    Built here rather than by template tags per cell: a report may hold thousands
    of cells, and this is many times faster to render.
    """
    # Each column's writers chosen once (``_CELLS``); each cell written by its column's
    # writer for its type, all in C calls but the texts' and moments'
    # (``map(call, …)``): ~2,000 cells a page.
    writers = [_CELLS[column.numeric, column.badge].__getitem__ for column in table.columns]
    width = len(writers)
    parts: list[str] = []
    add, extend = parts.append, parts.extend
    for row in table.rows:
        cells = row.cells
        if len(cells) != width:
            raise ValueError(f"a row of {len(cells)} cells in a table of {width} columns")
        add('<tr class="total">' if row.total else "<tr>")
        extend(map(call, map(call, writers, map(type, cells)), cells))
        add("</tr>\n")
    if not parts:
        return format_html('<tr><td class="empty" colspan="{}">{}</td></tr>', width, empty)
    # Safe: every text in it went through html.escape(); the rows' last newline dropped.
    return mark_safe("".join(parts)[:-1])


@register.simple_tag
def report_table(table: ReportTable, empty: str | None = None) -> SafeString:
    """Return a report table, ``<table>`` to ``</table>`` and a newline: its headers and
    its rows (``report_rows``; ``empty``, if given, says there are none)."""
    heads = "".join(
        f'<th class="num" scope="col">{esc(column.header)}</th>'
        if column.numeric
        else f'<th scope="col">{esc(column.header)}</th>'
        for column in table.columns
    )
    rows = report_rows(table, empty) if empty else report_rows(table)
    # Safe: the texts went through esc(), the rows are safe.
    return mark_safe(
        f'<table class="data report" data-table="{esc(table.kind)}">\n'
        f"  <thead><tr>{heads}</tr></thead>\n  <tbody>\n{rows}\n  </tbody>\n</table>\n"
    )


@register.simple_tag
def report_pager(pager: TablePage, noun: str) -> SafeString:
    """Return the pager below a paged table (and a newline; only that when there is no
    row to page): where the page is, of how many (or a link fetching the count, which
    follows the page), and the links to the previous and next pages."""
    if not (pager.total or (pager.count_url and pager.last >= pager.first)):
        return mark_safe("\n")
    # The noun, and as ``capfirst`` writes it.
    noun, title = esc(noun), esc(noun[:1].upper() + noun[1:])
    if pager.count_url:
        url = esc(pager.count_url)
        of = (
            f'<span class="pager-count" hx-get="{url}" hx-trigger="load" hx-swap="innerHTML" '
            f'aria-live="polite">…</span><noscript> (<a href="{url}">count them</a>)</noscript>'
        )
    else:
        of = esc(report_cell(pager.total))
    previous = (
        f'<a href="{esc(pager.previous)}" rel="prev">← Previous {noun}</a>'
        if pager.previous
        else ""
    )
    following = f'<a href="{esc(pager.next)}" rel="next">Next {noun} →</a>' if pager.next else ""
    # Safe: every text in it went through esc().
    return mark_safe(
        f'\n<nav class="pager no-print" aria-label="{title} pages">\n'
        f'  <span class="where">{title} {esc(report_cell(pager.first))}\N{EN DASH}'
        f"{esc(report_cell(pager.last))} of {of}</span>\n"
        f"  {previous}\n  {following}\n</nav>\n\n"
    )


# The URLs the page reversed (and its row links, ``web.links``), per everything
# ``reverse`` reads: the resolver of the URLconf in use (a new one after
# ``clear_url_caches``), the script prefix, the language, the current app, the route and
# its arguments. Emptied past _URLS_KEPT entries.
_URLS: dict[tuple[Any, ...], Any] = {}
_URLS_KEPT = 1024
# Where the resolver, script prefix and language are kept for the rest of a render.
_URL_SETTINGS = "report_cells.url_settings"


def _url_settings(context: Any) -> tuple[Any, ...]:
    """The resolver, script prefix and language ``reverse`` reads, looked up once per
    render (each is a context-local lookup of ~5-10 µs; the page does not switch
    language while it renders)."""
    found: tuple[Any, ...] | None = context.render_context.get(_URL_SETTINGS)
    if found is None:
        found = (get_resolver(get_urlconf()), get_script_prefix(), get_language())
        context.render_context[_URL_SETTINGS] = found
    return found


def _kept(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """``_URLS[key]``, made by ``make()`` the first time."""
    found = _URLS.get(key)
    if found is None:
        found = make()
        if len(_URLS) >= _URLS_KEPT:
            _URLS.clear()
        _URLS[key] = found
    return found


@register.simple_tag(takes_context=True)
def report_url(context: Any, viewname: str, *args: Hashable) -> str:
    """``{% url viewname *args %}``, reversed once for the same route, arguments and
    request settings: ``reverse`` takes ~0.1 ms a link, and the page has seven."""
    # The current app as ``{% url %}`` finds it.
    try:
        current_app = context.request.current_app
    except AttributeError:
        try:
            current_app = context.request.resolver_match.namespace
        except AttributeError:
            current_app = None
    url: str = _kept(
        (*_url_settings(context), current_app, viewname, args),
        lambda: reverse(viewname, args=args, current_app=current_app),
    )
    return url


@register.simple_tag
def filter_fields(form: Form) -> SafeString:
    """Return the filter form's fields, each in its label, as the loop
    ``{% for field in form %}`` of reports.html wrote them, whitespace included (its
    variable nodes took ~0.25 ms a report page)."""
    # Safe: every text in it went through esc(); the widgets are SafeStrings.
    return mark_safe(
        "".join(
            f'\n    <label for="{esc(field.id_for_label)}">'
            f"{esc(field.label)}{esc(field)}</label>\n  "
            for field in form
        )
    )


@register.simple_tag
def standing_heads(labels: tuple[tuple[str, str], ...]) -> SafeString:
    """Return the standing section's column headers, one per (key, label): a template
    loop took ~0.1 ms for six."""
    # Safe: every label went through esc().
    return mark_safe(
        "".join(f'<th class="num" scope="col">{esc(label)}</th>' for _key, label in labels)
    )


@register.simple_tag(takes_context=True)
def standing_rows(
    context: Any, standing: list[tuple[PackageRow, list[tuple[str, str, int]]]], within: int
) -> SafeString:
    """Return the ``<tr>`` rows of the standing section: per package, each count linked
    to the package's standing page showing those learners.

    Built here for the reason ``report_rows`` is: the URL built once (``web.links``),
    and kept (``_URLS``).
    """
    lines: list[str] = []
    standing_page = _kept(
        (*_url_settings(context), "web.links", "web:standing"),
        lambda: link("web:standing", ID),
    )
    for package, counts in standing:
        page = standing_page(package.package_id)
        name = _escape(package.name)
        cells = "".join(
            f'<td class="num"><a href="{page}?standing={_escape(key)}&amp;within={within}" '
            f'aria-label="{_escape(label)} in {name}: {n}">{n}</a></td>'
            for key, label, n in counts
        )
        lines.append(f'<tr><th scope="row">{name}</th>{cells}</tr>')
    # Safe: every text in it went through html.escape() or is a number or a reversed URL.
    return mark_safe("\n".join(lines))
