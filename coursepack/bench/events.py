"""Benchmark: reading the whole events feed by cursor, against streaming the same rows in SQL.

Generated completions bypass the services (generate.py), so they have no audit
records and the feed would be empty of them. Inside a transaction that is rolled
back, the benchmark first writes one ``completion.recorded`` record per
completion event (as ``learning.record_completion`` would), then reads them all:

- the operation: ``coursepack.http.events.feed_page`` page after page (1,000
  events a page, cursor from each page's ``next``), i.e. the selector and the
  API's dicts with their cursors — what ``GET /api/v1/events`` computes before
  JSON encoding;
- the floor: one hand-written ``SELECT … ORDER BY id`` streamed through a chunked
  (server-side on PostgreSQL) cursor, building the same dict per row (without
  a per-event cursor, and timestamps as the driver returns them).

Target (issue 17): the feed at most 2x the floor.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from django.db import connection, transaction

from coursepack.bench.measure import Row
from coursepack.http.events import feed_page
from coursepack.integrations.selectors import FEED_PAGE_MAX

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["events_feed"]

_TYPE = "completion.recorded"

_FACTS = {
    "sqlite": (
        "json_object('learner', learner_id, 'course', course_id, 'kind', kind, "
        "'occurred_at', occurred_at, 'source', source, 'external_id', external_id)",
        "CAST(id AS TEXT)",
    ),
    "postgresql": (
        "json_build_object('learner', learner_id, 'course', course_id, 'kind', kind, "
        "'occurred_at', occurred_at, 'source', source, 'external_id', external_id)::jsonb",
        "CAST(id AS varchar)",
    ),
}

_AUDIT_ROWS = (
    "INSERT INTO audit_auditevent (occurred_at, actor_id, actor_label, action, target_type, "
    "target_id, target_label, package_id, before, after, notes, prev_hash, hash, hash_scheme, "
    "row_hash) SELECT recorded_at, NULL, 'bench-admin', %s, 'learning.completionevent', {id}, "
    "'completion', NULL, NULL, {facts}, '', '', '', 'sha256', '' "
    "FROM learning_completionevent ORDER BY id"
)

_STREAM = (
    "SELECT id, action, occurred_at, actor_label, target_type, target_id, target_label, "
    "package_id, before, after, notes FROM audit_auditevent WHERE action = %s ORDER BY id"
)


def _read_feed() -> int:
    count, after = 0, None
    while True:
        page = feed_page(after, FEED_PAGE_MAX, _TYPE)
        count += len(page["items"])
        after = page["next"]
        if not page["more"]:
            return count


def _stream_sql() -> int:
    # What a hand-written feed would send per row: the same keys, JSON decoded.
    count = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(_STREAM, [_TYPE])
        while rows := cursor.fetchmany(FEED_PAGE_MAX):
            for pk, action, at, actor, kind, target, label, package, before, after, notes in rows:
                item = {
                    "id": pk,
                    "type": action,
                    "occurred_at": at,
                    "actor": actor,
                    "subject": {"type": kind, "id": target, "label": label},
                    "package_id": package,
                    "before": json.loads(before) if isinstance(before, str) else before,
                    "data": json.loads(after) if isinstance(after, str) else after,
                    "notes": notes,
                }
                count += item["data"] is not None
    return count


def events_feed(runner: Runner) -> list[Row]:
    """Time reading every completion event of the feed by cursor, and the SQL floor."""
    facts, id_text = _FACTS[connection.vendor]
    samples = 3
    times: list[float] = []
    floor: list[float] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_AUDIT_ROWS.format(id=id_text, facts=facts), [_TYPE])
        total = _stream_sql()
        got = _read_feed()
        if got != total:
            raise RuntimeError(f"the feed gave {got} completion events, the SQL {total}")
        for index in range(samples + 1):
            for fn, into in ((_read_feed, times), (_stream_sql, floor)):
                started = time.perf_counter()
                fn()
                if index:  # the first round warms caches up
                    into.append(time.perf_counter() - started)
        transaction.set_rollback(True)
    op = Row.of(
        "events feed: every completion event, by cursor (1,000 a page)",
        times,
        note=f"{total:,} completion events; integrations.selectors + the API's dicts",
    )
    base = Row.of("the same rows streamed by hand-written SQL", floor, floor=True)
    op.ratio = (op.median / base.median) if op.median and base.median else None
    op.target = "<=2x SQL"
    op.passed = op.ratio is not None and op.ratio <= 2
    runner.log(f"   events feed: {total:,} events, ratio {op.ratio}")
    return [op, base]
