"""The web pages' sessions: Django's database sessions, read by one statement
written once (ADR 0035, amended).

Every request of a signed-in browser loads its session before anything else. Django's
store compiles ``Session.objects.get(session_key=…, expire_date__gt=now)`` for it on
each request; this store sends the same SQL text, built once per database vendor,
with the same parameters. Everything else (creating, saving, rotating, deleting
sessions) is Django's own. Always the primary's row: a session signed out must be
gone at once, so the router never sends sessions to the replica.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

_SQL: dict[str, str] = {}


class SessionStore(db.SessionStore):
    """Django's database session store with its read written once."""

    def _get_session_from_db(self) -> Any:
        key = self.session_key
        if key is None:
            # An invalid key (too short, none) is None already: no row can match.
            return None
        model = self.model
        sql = _SQL.get(connection.vendor)
        if sql is None:
            q = connection.ops.quote_name
            meta = model._meta
            sql = _SQL[connection.vendor] = (
                f"SELECT {q('session_data')} FROM {q(meta.db_table)} "
                f"WHERE {q('session_key')} = %s AND {q('expire_date')} > %s"
            )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        # What load() reads of the row; the model's other fields are not needed.
        return model(session_key=key, session_data=row[0])
