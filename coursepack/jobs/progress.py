"""Progress that readers see while a job's work is still one open transaction."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections

from coursepack.jobs.models import Job
from coursepack.jobs.selectors import live_progress_path

__all__ = ["LiveProgress"]


class LiveProgress:
    """How far a job whose work is one long transaction got, written where readers see
    it before that transaction commits: through a second connection on PostgreSQL;
    to a small file beside the database on SQLite (one host, and a second SQLite
    writer would wait for the transaction's write lock)."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.pk
        self.done = 0
        self._shown = 0.0
        self._side: Any = None

    def add(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self._shown >= 0.5:
            self.flush()

    def flush(self) -> None:
        self._shown = time.monotonic()
        if connection.vendor == "postgresql":
            if self._side is None:
                default = connections[DEFAULT_DB_ALIAS]
                self._side = type(default)(dict(default.settings_dict), alias="live-progress")
            table = connection.ops.quote_name(Job._meta.db_table)
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET done = %s WHERE id = %s", [self.done, self.job_id]
                )
            return
        path = live_progress_path(self.job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps({"done": self.done}), encoding="utf-8")
        os.replace(scratch, path)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
        live_progress_path(self.job_id).unlink(missing_ok=True)
