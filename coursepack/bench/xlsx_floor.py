"""The floor both XLSX benchmarks compare with: bare openpyxl writing the cells of the
whole organisation's report tables in write-only mode (``bench/reports.py`` times the
inline download against it, ``bench/exports.py`` the export job)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from coursepack.reports import tables
from coursepack.reports.scope import ReportFilters

__all__ = ["Sheets", "bare_xlsx", "organisation_sheets"]

#: Per sheet: its title, its header and its rows of cells.
Sheets = list[tuple[str, list[str], list[list[Any]]]]


def organisation_sheets() -> Sheets:
    """Return the whole organisation's report tables as the XLSX writes them, read once
    (untimed) so that the floor times only the writing."""
    return [
        (table.title, [c.header for c in table.columns], [list(r.cells) for r in table.rows])
        for table in (tables.report_table(kind, ReportFilters()) for kind in tables.TABLE_KINDS)
    ]


def _plain(cell: Any) -> Any:
    """A cell as bare openpyxl takes it (no time zone on a moment)."""
    return cell.replace(tzinfo=None) if isinstance(cell, datetime) else cell


def bare_xlsx(sheets: Sheets) -> int:
    """Write ``sheets`` with bare openpyxl in write-only mode; return the file's size."""
    book = Workbook(write_only=True)
    for title, header, body in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(header)
        for line in body:
            sheet.append([_plain(c) for c in line])
    out = io.BytesIO()
    book.save(out)
    return out.tell()
