"""A real HTTP server on loopback and a bounded load against it.

The server is gunicorn (threads per worker, keep-alive) serving the project's
WSGI application on 127.0.0.1 only; the load is a thread pool of keep-alive
connections that stops after a fixed number of requests or a time limit,
whichever comes first. Nothing here ever talks to another address.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoadResult", "Request", "burst", "run_load", "server"]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None
    expect: int = 200


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        conn.request("GET", "/api/v1/openapi.json")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


@contextmanager
def server(
    *,
    workers: int,
    threads: int,
    log: Path,
    pidfile: Path | None = None,
    # Loading every released tree before the fork (--preload) takes well over a minute
    # at full scale on a busy 2-core machine.
    ready_within: float = 300,
) -> Iterator[int]:
    """Run gunicorn on 127.0.0.1 (a free port) for the ``with`` block; yield the port.

    The server gets its own process group and is stopped (TERM, then KILL) on
    leaving the block, whatever happens inside it. Its process group id is
    written to ``pidfile`` meanwhile, for a caller's trap if this process is killed.
    """
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        # Loaded once before the fork, with every released version's tree cached.
        "--preload",
        "coursepack.bench.warm_wsgi:application",
        f"--bind={HOST}:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    if pidfile is not None:
        pidfile.write_text(str(process.pid))
    try:
        deadline = time.monotonic() + ready_within
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {ready_within:.0f} s")
            time.sleep(0.2)
        yield port
    finally:
        _stop(process)
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def run_load(
    port: int,
    requests: Sequence[Request],
    *,
    concurrency: int,
    max_seconds: float,
    headers: dict[str, str],
) -> LoadResult:
    """Send ``requests`` from ``concurrency`` keep-alive connections; stop at the time limit.

    Each request is sent at most once; a reply other than the expected status
    is an error (its first ones are kept, with the body's start).
    """
    result = LoadResult()
    lock = threading.Lock()
    position = iter(range(len(requests)))
    started = time.perf_counter()
    deadline = started + max_seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                req = requests[index]
                body = json.dumps(req.body).encode() if req.body is not None else None
                sent = {**headers, **({"Content-Type": "application/json"} if body else {})}
                t0 = time.perf_counter()
                try:
                    conn.request(req.method, req.path, body=body, headers=sent)
                    response = conn.getresponse()
                    payload = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=60)
                    with lock:
                        result.errors.append(f"{req.method} {req.path}: {exc!r}")
                    continue
                took = time.perf_counter() - t0
                with lock:
                    if response.status == req.expect:
                        result.latencies.append(took)
                    else:
                        result.errors.append(
                            f"{req.method} {req.path}: {response.status} {payload[:200]!r}"
                        )
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 120)
    result.seconds = time.perf_counter() - started
    return result


def burst(
    port: int,
    requests: Sequence[Request],
    *,
    clients: int,
    each: int,
    headers: dict[str, str],
) -> LoadResult:
    """``clients`` clients released at once, each sending ``each`` requests, every one
    on a new connection (the bursts that reset a small listen queue).

    A reset, a refused connection or any 5xx is an error; other statuses count
    as answered (the point is the server, not the request).
    """
    result = LoadResult()
    lock = threading.Lock()
    barrier = threading.Barrier(clients)
    started = time.perf_counter()

    def client(index: int) -> None:
        barrier.wait(timeout=60)
        for n in range(each):
            req = requests[(index * each + n) % len(requests)]
            body = json.dumps(req.body).encode() if req.body is not None else None
            sent = {**headers, **({"Content-Type": "application/json"} if body else {})}
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
                conn.request(req.method, req.path, body=body, headers=sent)
                response = conn.getresponse()
                response.read()
                conn.close()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    result.errors.append(f"{req.method} {req.path}: {exc!r}")
                continue
            took = time.perf_counter() - t0
            with lock:
                if response.status >= 500:
                    result.errors.append(f"{req.method} {req.path}: {response.status}")
                else:
                    result.latencies.append(took)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    result.seconds = time.perf_counter() - started
    return result
