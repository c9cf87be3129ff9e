"""CPU per API request, measured in process: the number a busy machine does not change.

The HTTP benchmark (``http``) runs a real server under load; on a shared 2-core
machine its latencies measure the other processes as much as Coursepack. Here the
same requests (progress reads, completion writes on random open enrollments) go
through the project's WSGI application in this process, one at a time, with a real
token, and each is timed by ``time.process_time``: the CPU it cost, whatever the
load. With 8 connections on 2 cores a closed loop's latency is about connections /
throughput, so halving this roughly halves the loaded p99 (issue 12, ADR 0035).
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from coursepack.accounts import api as accounts
from coursepack.bench import api_load
from coursepack.bench.measure import Row

if TYPE_CHECKING:
    from coursepack.bench.http_load import Request
    from coursepack.bench.runner import Runner

__all__ = ["http_cpu"]


def _environ(request: Request, token: str) -> dict[str, Any]:
    body = json.dumps(request.body).encode() if request.body is not None else b""
    return {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_ACCEPT": "application/json",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _call(application: Any, request: Request, token: str) -> tuple[int, bytes]:
    status: list[str] = []
    result = application(_environ(request, token), lambda s, h, exc=None: status.append(s))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return int(status[0].split()[0]), body


def http_cpu(runner: Runner) -> list[Row]:
    # Imported here: the WSGI module sets Django up, which the runner has done already.
    from coursepack.packaging import selectors
    from coursepack.wsgi import application

    plan = runner.plan
    count = min(plan.http_writes, 500)
    warm = min(20, count)
    selectors.warm_caches()  # as the server's preload does
    token = accounts.issue_token(actor=runner.admin, name=f"cpu {time.time():.0f}").secret
    reads, writes = api_load._requests(runner, count + warm, count + warm)
    rows = []
    for label, requests in (
        ("API GET progress, CPU per request", reads),
        ("API POST completion, CPU per request", writes),
    ):
        errors: list[str] = []
        for request in requests[:warm]:
            _call(application, request, token)
        samples = []
        for request in requests[warm:]:
            started = time.process_time()
            status, body = _call(application, request, token)
            samples.append(time.process_time() - started)
            if status != request.expect:
                errors.append(f"{request.method} {request.path}: {status} {body[:200]!r}")
        row = Row.of(
            label,
            samples,
            note="in process, one at a time, time.process_time (load-independent)",
        )
        if errors:
            row.error = f"{len(errors)} failed, first: {errors[0]}"
        rows.append(row)
    return rows
