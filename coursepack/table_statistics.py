"""The planner's statistics of tables a transaction fills, on PostgreSQL.

A bulk write into young tables inside one transaction (the legacy migration, a
people sync's chunk) leaves the planner without statistics of the rows it wrote:
autovacuum cannot see them before the commit, and statistics sampled earlier may
describe a table of a few rows. The reads that follow in the same transaction are
then planned as scans of every row, once per row or chunk. ``ANALYZE`` in the same
transaction counts its own new rows. SQLite plans by its indexes without statistics:
nothing to do there.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

__all__ = ["Resampler", "refresh_statistics"]


def refresh_statistics(tables: Iterable[str]) -> None:
    """On PostgreSQL, sample ``tables`` for the planner now, in the caller's transaction."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(tables))


class Resampler:
    """Refresh the statistics of ``tables`` whenever the first of them has doubled
    since it was last sampled (from ``at_least`` rows), as a transaction fills it:
    a few ``ANALYZE`` s in a load of millions, none in a load small beside the table.
    PostgreSQL only (see :func:`refresh_statistics`)."""

    def __init__(self, tables: tuple[str, ...], *, at_least: int = 50_000) -> None:
        self.tables = tables
        self.rows: int | None = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
                    [tables[0]],
                )
                self.rows = int(cursor.fetchone()[0])
        self.sampled = max(self.rows or 0, at_least // 2)

    def wrote(self, total: int) -> None:
        """Say that ``total`` rows have been written so far; sample if that doubled it."""
        if self.rows is None or self.rows + total < 2 * self.sampled:
            return
        refresh_statistics(self.tables)
        self.sampled = self.rows + total
