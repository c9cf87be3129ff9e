"""Reads from a PostgreSQL streaming replica, where a view asks for it (ADR 0021).

``DATABASE_REPLICA_URL`` adds a database alias "replica". Nothing reads from it
by default: a view or API operation opts in with ``reads_from_replica`` (report,
export and transcript reads), and only while it runs does the router send reads
there. Writes always go to the primary, and so do reads inside a write
transaction and reads of identities and permissions (users, accounts, tokens,
sessions): a token issued a moment ago must authenticate even if the replica has
not caught up.

Read-your-writes: a successful write request sets a short-lived cookie
(``READ_PRIMARY_COOKIE``, ``REPLICA_READ_YOUR_WRITES_SECONDS``); while it lasts
that browser's (or API client's, if it keeps cookies) reads stay on the primary,
so a person who just recorded something sees it on the next page.

Pages that read from the replica say so when it lags more than
``REPLICA_LAG_NOTICE_SECONDS`` (``request.cp_replica_notice``); every such
response carries ``Coursepack-Read-From: replica`` and the lag in
``Coursepack-Replica-Lag`` (seconds).
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dj_database_url
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.http import HttpRequest

__all__ = [
    "READ_PRIMARY_COOKIE",
    "REPLICA",
    "ReadYourWritesMiddleware",
    "ReplicaRouter",
    "configured",
    "reads_from_replica",
    "replica_database",
    "replica_lag_seconds",
    "replica_reads",
]

#: The alias of the replica in ``settings.DATABASES``.
REPLICA = "replica"
#: Set after a write: while present, this client's reads stay on the primary.
READ_PRIMARY_COOKIE = "cp_read_primary"

#: Apps whose rows are always read from the primary: who someone is and what they
#: may do must never lag (a new token, a role just revoked).
_PRIMARY_ONLY_APPS = frozenset(
    {"auth", "accounts", "organisation", "sessions", "axes", "contenttypes"}
)

_reading = contextvars.ContextVar("coursepack_replica_reads", default=False)


def replica_database(url: str, *, primary_engine: str) -> dj_database_url.DBConfig:
    """Return the ``DATABASES`` entry of ``DATABASE_REPLICA_URL``; refuse it unless both
    the primary and the replica are PostgreSQL."""
    if primary_engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL is set, but the primary database is not PostgreSQL. Read "
            "replicas are a PostgreSQL feature (streaming replication); SQLite has one file "
            "and no replica. Unset DATABASE_REPLICA_URL, or move to PostgreSQL "
            "(docs/deploy.md)."
        )
    replica = dj_database_url.parse(url, conn_max_age=60)
    if replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL must be a postgres:// URL of a streaming replica of the "
            "primary (DATABASE_URL)."
        )
    # Never created, flushed or migrated by the test runner: it is a copy of the primary.
    replica["TEST"] = {"MIRROR": "default"}
    return replica


def configured() -> bool:
    """Whether a replica is configured (``DATABASE_REPLICA_URL``)."""
    return REPLICA in settings.DATABASES


@contextmanager
def replica_reads() -> Iterator[None]:
    """Send this block's reads (except identities and permissions) to the replica, if
    one is configured. Writes still go to the primary."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


class ReplicaRouter:
    """Route reads to the replica inside ``replica_reads``; everything else to the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if (
            _reading.get()
            and configured()
            and model._meta.app_label not in _PRIMARY_ONLY_APPS
            # A read inside a write transaction must see the primary (and its own writes).
            and not connections["default"].in_atomic_block
        ):
            return REPLICA
        return None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the same rows as the primary.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db != REPLICA


_lag_cache: dict[str, tuple[float, float | None]] = {}

_LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
  ELSE EXTRACT(EPOCH FROM now() - COALESCE(pg_last_xact_replay_timestamp(),
                                           pg_postmaster_start_time()))
END
"""


def replica_lag_seconds(*, max_age: float = 1.0) -> float | None:
    """Return how far the replica's replay is behind what it has received, in seconds
    (0 when it has replayed everything), or None without a replica or if it cannot be
    asked. Asked at most once per ``max_age`` seconds per process."""
    if not configured():
        return None
    now = time.monotonic()
    cached = _lag_cache.get(REPLICA)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(_LAG_SQL)
            row = cursor.fetchone()
        lag: float | None = max(0.0, float(row[0])) if row and row[0] is not None else None
    except Exception:  # a replica that cannot answer must not break the page
        lag = None
    _lag_cache[REPLICA] = (now, lag)
    return lag


def _wants_primary(request: HttpRequest) -> bool:
    until = request.COOKIES.get(READ_PRIMARY_COOKIE, "")
    try:
        return float(until) > time.time()
    except ValueError:
        return False


def _notice(lag: float | None) -> str:
    threshold = float(getattr(settings, "REPLICA_LAG_NOTICE_SECONDS", 30))
    if lag is None:
        return (
            "These figures are read from a replica whose delay could not be measured: "
            "the newest changes may be missing."
        )
    if lag > threshold:
        return (
            f"These figures are read from a replica that is {lag:.0f} s behind: changes "
            "made in that time are not shown yet."
        )
    return ""


def _streamed(response: Any) -> None:
    """Keep a streamed response's reads on the replica while it is being sent."""
    content = response.streaming_content

    def each() -> Iterator[Any]:
        iterator = iter(content)
        while True:
            token = _reading.set(True)
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            finally:
                _reading.reset(token)
            yield chunk

    response.streaming_content = each()


def reads_from_replica(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a report, export or transcript view (or, with ninja's ``decorate_view``, an
    API operation) with its reads on the replica, unless this client wrote recently
    (read-your-writes) or no replica is configured."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not configured() or _wants_primary(request):
            response = view(request, *args, **kwargs)
            if configured() and hasattr(response, "__setitem__"):
                response["Coursepack-Read-From"] = "primary"
            return response
        lag = replica_lag_seconds()
        request.cp_replica_notice = _notice(lag)  # type: ignore[attr-defined]
        with replica_reads():
            response = view(request, *args, **kwargs)
        if getattr(response, "streaming", False):
            _streamed(response)
        if hasattr(response, "__setitem__"):
            response["Coursepack-Read-From"] = "replica"
            if lag is not None:
                response["Coursepack-Replica-Lag"] = f"{lag:.1f}"
        return response

    return wrapped


class ReadYourWritesMiddleware:
    """After a successful write request, keep this client's reads on the primary for
    ``REPLICA_READ_YOUR_WRITES_SECONDS`` (a cookie), so they see their own change."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        if (
            configured()
            and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and response.status_code < 400
        ):
            seconds = float(getattr(settings, "REPLICA_READ_YOUR_WRITES_SECONDS", 30))
            response.set_cookie(
                READ_PRIMARY_COOKIE,
                f"{time.time() + seconds:.0f}",
                max_age=int(seconds),
                httponly=True,
                samesite="Lax",
                secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
            )
        return response
