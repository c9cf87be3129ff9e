"""CSV and XLSX exports of report tables, in constant memory.

The CSV is produced line by line (for a streaming response); the XLSX is written
by openpyxl's write-only workbook, which spools rows to disk instead of holding
the sheet in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import IO

from django.db import connections, router, transaction
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from coursepack.learning.models import Enrollment
from coursepack.reports.tables import Cell, ReportTable

__all__ = [
    "CSV_CONTENT_TYPE",
    "XLSX_CONTENT_TYPE",
    "csv_lines",
    "export_filename",
    "one_moment",
    "reading_one_moment",
    "write_xlsx",
]

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# A spreadsheet runs text that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_filename(kind: str, extension: str, today: date) -> str:
    """Return e.g. ``coursepack-report-packages-2024-04-01.csv``."""
    return f"coursepack-report-{kind}-{today.isoformat()}.{extension}"


# --- CSV ------------------------------------------------------------------------------


class _Line:
    """A file-like object whose ``write`` returns the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(table: ReportTable) -> Iterator[str]:
    """Yield the table as CSV, one line at a time: a byte-order mark (so that
    spreadsheets read UTF-8), the header, then each row.

    Empty cells are "", moments ISO 8601 with their offset; text that a
    spreadsheet would run as a formula is prefixed with an apostrophe.
    """
    writer = csv.writer(_Line())
    yield "\ufeff"
    yield writer.writerow([column.header for column in table.columns])
    for row in table.rows:
        yield writer.writerow([_csv_cell(cell) for cell in row.cells])


# --- XLSX ------------------------------------------------------------------------------

_BOLD = Font(bold=True)
# Characters that no sheet title may contain.
_TITLE_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Cell, *, bold: bool) -> object:
    """A value for ``sheet.append``: plain where openpyxl infers the right type (the
    fast path, for most cells), a styled cell where it must be told."""
    if isinstance(value, datetime):
        # Excel has no time zones: write the wall-clock time the page shows.
        value = value.replace(tzinfo=None)
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        # Text, never a formula or an error code, whatever it looks like.
        if value.startswith("=") or value in ERROR_CODES:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            if bold:
                cell.font = _BOLD
            return cell
    if not bold:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = _BOLD
    return cell


def write_xlsx(tables: Iterable[ReportTable], target: IO[bytes] | str) -> None:
    """Write one sheet per table to ``target`` (a path or a binary file).

    Row by row through a write-only workbook: memory stays constant however many
    rows the tables stream. Header and total rows are bold; the header is frozen.
    """
    workbook = Workbook(write_only=True)
    for table in tables:
        sheet = workbook.create_sheet(title=table.title.translate(_TITLE_FORBIDDEN)[:31])
        for i, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(
                column.width, min(len(column.header) + 2, 40)
            )
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, c.header, bold=True) for c in table.columns])
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, cell, bold=row.total) for cell in row.cells])
    workbook.save(target)


@contextmanager
def reading_one_moment() -> Iterator[None]:
    """Run the reads inside the block in one read transaction on the database the
    reports read from, so that they all see one moment however long they take.

    A repeatable-read, read-only snapshot on PostgreSQL; on SQLite (WAL) a deferred
    read transaction, which sees the database as of its first read and holds no
    write lock (``atomic`` would: the project's SQLite transactions begin IMMEDIATE,
    which would hold every writer off for the whole export). Inside an enclosing
    transaction (a test's) that one is the moment. Nothing may be written on this
    connection inside the block (on SQLite it would take the write lock for the rest
    of it): a job reports its progress through ``jobs.progress.LiveProgress``.
    """
    alias = router.db_for_read(Enrollment)
    connection = connections[alias]
    if connection.in_atomic_block:
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic(using=alias):
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")


def one_moment(lines: Callable[[], Iterator[str]]) -> Iterator[str]:
    """Yield ``lines()`` read at one moment (``reading_one_moment``), however long the
    download takes. Nothing is read until the first line is asked for, so the
    response starts at once."""
    with reading_one_moment():
        yield from lines()
