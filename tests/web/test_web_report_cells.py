"""The reports page's helpers written in Python (``report_cells``) write what the
template loops and the earlier helpers they replace wrote, character for character."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from django.http import QueryDict
from django.template import Context, Engine, RequestContext, engines
from django.test import RequestFactory
from django.urls import resolve, reverse, set_script_prefix
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from coursepack.reports.tables import Column, ReportTable, TableRow
from coursepack.web.reports import PlainSelect, ReportFilterForm, TablePage
from coursepack.web.templatetags.report_cells import (
    filter_fields,
    report_cell,
    report_pager,
    report_rows,
    report_table,
    standing_heads,
)

# --- the oracles: the code and templates the helpers replace ----------------------------


def _rows_before(table: ReportTable, empty: str = "Nothing to report for these filters.") -> str:
    """``report_rows`` as it was: each cell by an isinstance chain and an f-string."""
    opens = [
        (column.badge, '<td class="num">' if column.numeric else "<td>") for column in table.columns
    ]
    lines: list[str] = []
    for row in table.rows:
        cells = []
        for (badge, td), value in zip(opens, row.cells, strict=True):
            if badge and value:
                text = html.escape(str(value))
                content = (
                    f'<span class="badge {text}">{html.escape(str(value).capitalize())}</span>'
                )
            elif isinstance(value, str):
                content = html.escape(value)
            else:
                content = report_cell(value)
            cells.append(f"{td}{content}</td>")
        lines.append(('<tr class="total">' if row.total else "<tr>") + "".join(cells) + "</tr>")
    if not lines:
        return format_html('<tr><td class="empty" colspan="{}">{}</td></tr>', len(opens), empty)
    return "\n".join(lines)


# The templates the tags replace (web/_report_table.html, web/_report_pager.html), the
# rows given as ``rows``.
_TABLE_BEFORE = (
    '<table class="data report" data-table="{{ table.kind }}">\n'
    '  <thead><tr>{% for column in table.columns %}<th{% if column.numeric %} class="num"'
    '{% endif %} scope="col">{{ column.header }}</th>{% endfor %}</tr></thead>\n'
    "  <tbody>\n{{ rows }}\n  </tbody>\n</table>\n"
)
_PAGER_BEFORE = (
    "{% load report_cells %}{% if pager.total or pager.count_url and pager.last >= pager.first %}\n"
    '<nav class="pager no-print" aria-label="{{ noun|capfirst }} pages">\n'
    '  <span class="where">{{ noun|capfirst }} {{ pager.first|report_cell }}\N{EN DASH}'
    "{{ pager.last|report_cell }} of {% if pager.count_url %}"
    '<span class="pager-count" hx-get="{{ pager.count_url }}" hx-trigger="load" '
    'hx-swap="innerHTML" aria-live="polite">…</span><noscript> (<a href="{{ pager.count_url }}">'
    "count them</a>)</noscript>{% else %}{{ pager.total|report_cell }}{% endif %}</span>\n"
    '  {% if pager.previous %}<a href="{{ pager.previous }}" rel="prev">\N{LEFTWARDS ARROW} '
    "Previous {{ noun }}</a>{% endif %}\n"
    '  {% if pager.next %}<a href="{{ pager.next }}" rel="next">Next {{ noun }} '
    "\N{RIGHTWARDS ARROW}</a>{% endif %}\n"
    "</nav>\n{% endif %}\n"
)
_FIELDS_BEFORE = (
    "{% for field in form %}\n"
    '    <label for="{{ field.id_for_label }}">{{ field.label }}{{ field }}</label>\n'
    "  {% endfor %}"
)


def _render(source: str, **context: Any) -> str:
    return engines["django"].from_string(source).render(context)


# --- report_rows and report_table --------------------------------------------------------

_ZONE = timezone(timedelta(hours=-5))
_COLUMNS = (
    Column("Name <&>"),
    Column("State", badge=True),
    Column("Count", numeric=True),
    Column("Rate", numeric=True),
    Column("When"),
    Column("Level", numeric=True, badge=True),
    Column("Other"),
)
_VALUES: list[Any] = [
    "plain",
    "",
    "<b>&'\"</b>",
    SafeString("<i>safe</i>"),
    0,
    7,
    999,
    1000,
    -1,
    -1234,
    12_345_678,
    True,
    False,
    0.0,
    16.94,
    -0.05,
    None,
    datetime(2024, 8, 6, 4, 2, 59, tzinfo=UTC),
    datetime(2024, 8, 6, 4, 2, tzinfo=_ZONE),
    datetime(2024, 12, 31, 23, 59),
    datetime(999, 1, 2, 3, 4),
    date(2024, 3, 1),
]


def _table(rows: Iterable[TableRow], columns: tuple[Column, ...] = _COLUMNS) -> ReportTable:
    return ReportTable(kind="learners", title="T", columns=columns, rows=rows)


def _every_value_in_every_column() -> list[TableRow]:
    width = len(_COLUMNS)
    return [
        TableRow(
            cells=tuple(_VALUES[(i + j) % len(_VALUES)] for j in range(width)), total=i % 5 == 0
        )
        for i in range(len(_VALUES) * 2)
    ]


def test_report_rows_write_every_kind_of_cell_as_before() -> None:
    rows = _every_value_in_every_column()
    assert str(report_rows(_table(rows))) == _rows_before(_table(rows))
    # Twice: the writers kept for each type (subclasses given the general path) agree.
    assert str(report_rows(_table(rows))) == _rows_before(_table(rows))


def test_report_rows_of_no_rows_say_so() -> None:
    assert str(report_rows(_table([]), "None <here>")) == _rows_before(_table([]), "None <here>")
    assert str(report_rows(_table([]))) == _rows_before(_table([]))


def test_report_rows_refuse_a_row_of_another_width() -> None:
    with pytest.raises(ValueError):
        report_rows(_table([TableRow(cells=("a", "b"))]))


def test_report_rows_read_a_stream_once() -> None:
    rows = _every_value_in_every_column()
    streamed = _table(iter(rows))
    assert str(report_rows(streamed)) == _rows_before(_table(rows))


@pytest.mark.parametrize("empty", [None, "Nothing & none."])
@pytest.mark.parametrize("n_rows", [0, 3])
def test_report_table_writes_the_table_template(empty: str | None, n_rows: int) -> None:
    table = _table(_every_value_in_every_column()[:n_rows])
    rows = report_rows(table, empty) if empty else report_rows(table)
    assert str(report_table(table, empty)) == _render(_TABLE_BEFORE, table=table, rows=rows)


# --- report_pager ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pager",
    [
        TablePage(1, 1, 1, 1, 1, None, None),
        TablePage(1, 404, 40_350, 1, 100, None, "?page=2&amp;x=<1>#report-learners"),
        TablePage(3, 404, 40_350, 201, 300, "?page=2", "?page=4"),
        TablePage(1, None, None, 1, 100, None, "?page=2", count_url="/count/?a=1&b=2"),
        TablePage(2, None, None, 101, 150, "?page=1", None, count_url="/count/"),
        TablePage(1, 0, 0, 1, 0, None, None),
        TablePage(1, None, None, 1, 0, None, None, count_url="/count/"),
        TablePage(1, 1, 0, 0, 0, None, None),
    ],
)
@pytest.mark.parametrize("noun", ["learners", "packages", "<odd> & nouns"])
def test_report_pager_writes_the_pager_template(pager: TablePage, noun: str) -> None:
    assert str(report_pager(pager, noun)) == _render(_PAGER_BEFORE, pager=pager, noun=noun)


# --- the filter form ---------------------------------------------------------------------

_PACKAGES = [(1, "Safety & <Health>"), (2, 'The "quoted" one'), (30, "Plain"), (31, "Plain")]
_VERSIONS = [(11, 1), (12, 2)]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "package_id=2&version_id=12",
        "from=2024-01-01&to=2025-01-01&as_of=2024-06-01T10:00",
        "from=nonsense&package_id=99",
        "from=2025-01-01&to=2024-01-01",
        'known_at="><script>&package_id=abc',
    ],
)
def test_filter_fields_write_the_form_loop(query: str) -> None:
    def form() -> ReportFilterForm:
        made = ReportFilterForm(QueryDict(query), packages=_PACKAGES, versions=_VERSIONS)
        made.report_filters()
        return made

    assert str(filter_fields(form())) == _render(_FIELDS_BEFORE, form=form())


def _select_before(choices: list[tuple[Any, Any]], value: Any) -> str:
    """``PlainSelect.render`` as it was: every option written on every render."""
    widget = PlainSelect(choices=choices)
    chosen = {str(v) for v in widget.format_value(value)}
    options = "\n".join(
        f'<option value="{html.escape(str(key))}"'
        f"{' selected' if str(key) in chosen else ''}>{html.escape(str(label))}</option>"
        for key, label in choices
    )
    return str(format_html('<select name="p">\n{}\n</select>', mark_safe(options)))


@pytest.mark.parametrize(
    "choices",
    [
        [("", "All"), *_PACKAGES],
        [("", "All"), (1, "Safety & <Health> renamed"), (30, "Plain")],
        [("", "All"), (True, "Safety & <Health>"), (2, 'The "quoted" one')],
        [("", "All"), (1.0, "Safety & <Health>"), (2, 'The "quoted" one')],
        [("", "All"), (1, 1), (2, True)],
        [("", "<All>"), ("a&b", "A & B"), ('"q"', "Q")],
        [],
    ],
)
@pytest.mark.parametrize("value", [None, "", 1, "1", 30, "a&b", '"q"', [1, 30], 99])
def test_plain_select_writes_its_options_as_before(choices: list[Any], value: Any) -> None:
    """Whatever lists were written before it (options kept per list of choices)."""
    for _ in range(2):
        assert str(PlainSelect(choices=choices).render("p", value)) == _select_before(
            choices, value
        )


# --- the rest ------------------------------------------------------------------------------


def test_standing_heads_write_the_loop() -> None:
    labels = (("current", "Current"), ("due", "Due <soon> & 'now'"))
    loop = '{% for key, label in labels %}<th class="num" scope="col">{{ label }}</th>{% endfor %}'
    assert str(standing_heads(labels)) == _render(loop, labels=labels)


@pytest.mark.parametrize(
    ("viewname", "args"),
    [("web:reports", ""), ("web:report-csv", " 'learners'"), ("web:report-csv", " kind")],
)
@pytest.mark.parametrize("prefix", ["/", "/under/"])
def test_report_url_is_the_url_tag(viewname: str, args: str, prefix: str) -> None:
    """For the script prefix in use (a URL kept under one prefix is not given under
    another), with the request's current app."""
    request = RequestFactory().get("/reports/")
    request.resolver_match = resolve("/reports/")
    engine = Engine.get_default()
    ours = engine.from_string(f"{{% load report_cells %}}{{% report_url '{viewname}'{args} %}}")
    theirs = engine.from_string(f"{{% url '{viewname}'{args} %}}")
    set_script_prefix(prefix)
    try:
        for kind in ("learners", "a b&c"):
            context = {"kind": kind}
            expected = theirs.render(Context(context))
            assert ours.render(Context(context)) == expected
            assert ours.render(RequestContext(request, context)) == expected
            assert expected.startswith(prefix)
    finally:
        set_script_prefix("/")
    assert reverse("web:reports") == "/reports/"
