"""`make run`'s server (gunicorn + whitenoise, DEBUG off), probed over real sockets."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Account, Role

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT_CLIENTS = 50
REQUESTS_EACH = 6


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def admin_token() -> str:
    admin = User.objects.create_user("ops-admin", password="a long enough passphrase")
    Account.objects.create(user=admin, role=Role.ADMIN)
    return accounts.issue_token(actor=admin, name="server test").secret


def test_static_files_are_served_with_debug_off_and_errors_show_no_url_list(
    serve: Callable[..., Any], admin_token: str
) -> None:
    served = serve()
    status, headers, body = _get(served.url + "/static/web/coursepack.css")
    assert status == 200 and b"{" in body
    assert "no-store" not in headers.get("Cache-Control", "")
    status, _, body = _get(served.url + "/static/admin/css/base.css")
    assert status == 200
    status, _, body = _get(served.url + "/no-such-page/")
    assert status == 404
    assert b"URLconf" not in body and b"api/v1/" not in body
    status, headers, body = _get(served.url + "/api/v1/no-such-thing")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    host = urlsplit(served.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.request(
        "PATCH", "/api/v1/tokens", body=b"{}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    response = conn.getresponse()
    problem = json.loads(response.read())
    conn.close()
    assert response.status == 405 and problem["code"] == "method_not_allowed"
    assert response.getheader("Content-Type") == "application/problem+json"
    status, headers, body = _get(
        served.url + "/api/v1/packages", Authorization=f"Bearer {admin_token}"
    )
    assert status == 200
    assert "no-store" in headers["Cache-Control"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_fifty_concurrent_clients_get_no_reset_and_no_server_error(
    serve: Callable[..., Any], admin_token: str
) -> None:
    # Fifty writers at once queue for one lock; on a loaded machine the last waits
    # seconds. Past the lock timeout the answer would be a 503 by design.
    served = serve(COURSEPACK_DB_LOCK_TIMEOUT="30")
    host = urlsplit(served.url)
    failures: list[str] = []
    timings: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CONCURRENT_CLIENTS)

    def client(index: int) -> None:
        barrier.wait(timeout=30)
        for n in range(REQUESTS_EACH):
            # A new connection each time: the bursts that reset runserver's queue.
            # Each client's first request is a write: 50 writers at once, queued.
            if n == 0:
                method, path = "POST", "/api/v1/courses"
                body = json.dumps({"code": f"LOAD-{index}", "name": f"Load {index}"})
            else:
                method, path, body = "GET", ("/api/v1/packages" if n % 2 else "/login/"), None
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
                conn.request(
                    method,
                    path,
                    body=body,
                    headers={
                        "Authorization": f"Bearer {admin_token}",
                        "Content-Type": "application/json",
                    },
                )
                response = conn.getresponse()
                response.read()
                conn.close()
            except OSError as exc:
                with lock:
                    failures.append(f"{method} {path}: {exc!r}")
                continue
            with lock:
                timings.append(time.perf_counter() - start)
                if response.status >= 500 or (method == "POST" and response.status != 201):
                    failures.append(f"{method} {path}: {response.status}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENT_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert failures == []
    assert len(timings) == CONCURRENT_CLIENTS * REQUESTS_EACH
    p99 = statistics.quantiles(timings, n=100)[98]
    print(f"{len(timings)} requests from {CONCURRENT_CLIENTS} clients: p99 {p99 * 1000:.0f} ms")
