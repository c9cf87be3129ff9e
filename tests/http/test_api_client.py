"""The generated Python client (``make client``) is made without warnings and works.

``scripts/client.sh`` exports the schema, validates it (openapi-spec-validator)
and generates the client (openapi-python-client), failing on any warning. The
client it writes then runs an HR system's nightly sync against a live server:
users upserted by external id, and completions read from the events feed by
cursor while another thread records more — each read once, none missed.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from coursepack.accounts import api as accounts
from tests.factories import make_admin, make_course, make_published_package

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Generate the client into a temporary folder (as `make client` does) and import it."""
    out = tmp_path_factory.mktemp("client")
    run = subprocess.run(
        [str(ROOT / "scripts" / "client.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(out / "coursepack-client"))
    try:
        yield importlib.import_module("coursepack_client")
    finally:
        sys.path.remove(str(out / "coursepack-client"))
        for name in [m for m in sys.modules if m.startswith("coursepack_client")]:
            del sys.modules[name]


def _op(tag: str, name: str) -> Any:
    return importlib.import_module(f"coursepack_client.api.{tag}.{name}")


def _models() -> Any:
    return importlib.import_module("coursepack_client.models")


def _upsert(client: Any, person: dict[str, str]) -> tuple[int, bool]:
    """Find a user by external id, or create them: (id, created)."""
    found = _op("accounts", "get_user_by_external_id").sync_detailed(
        client=client, external_id=person["external_id"]
    )
    if found.status_code == 200:
        return found.parsed.id, False
    assert found.status_code == 404, found.content
    created = _op("accounts", "create_user").sync_detailed(
        client=client,
        body=_models().UserIn.from_dict(person),
        idempotency_key=f"hr-create-{person['external_id']}",
    )
    assert created.status_code == 201, created.content
    assert created.headers["Location"] == f"/api/v1/users/{created.parsed.id}"
    return created.parsed.id, True


@pytest.mark.django_db(transaction=True)
def test_a_nightly_sync_through_the_generated_client(live_server: Any, client_package: Any) -> None:
    """Users upserted by external id twice make each user once; completions recorded by
    another thread while the feed is read by cursor are each read exactly once."""
    admin = make_admin(username="hr-sync")
    secret = accounts.issue_token(actor=admin, name="nightly").secret
    courses = [make_course(actor=admin) for _ in range(3)]
    package = make_published_package(actor=admin, items=courses)
    client = client_package.AuthenticatedClient(base_url=live_server.url, token=secret)
    people = [
        {"username": f"emp{n}", "external_id": f"E-{n}", "first_name": f"Emp {n}"} for n in range(4)
    ]

    # Two nightly runs: the second finds everyone.
    first = [_upsert(client, p) for p in people]
    second = [_upsert(client, p) for p in people]
    assert [created for _, created in first] == [True] * 4
    assert [created for _, created in second] == [False] * 4
    assert [i for i, _ in first] == [i for i, _ in second]
    learners = [i for i, _ in first]
    for learner in learners:
        enrolled = _op("enrollments", "enroll").sync_detailed(
            client=client,
            body=_models().EnrollIn.from_dict(
                {"learner_id": learner, "package_id": package.package_id}
            ),
        )
        assert enrolled.status_code == 201, enrolled.content

    recorded: list[int] = []

    def write() -> None:
        writer = client_package.AuthenticatedClient(base_url=live_server.url, token=secret)
        for round_ in range(3):
            for learner in learners:
                answer = _op("completions", "record_completion").sync_detailed(
                    client=writer,
                    body=_models().CompletionIn.from_dict(
                        {"learner_id": learner, "course_id": courses[round_].pk, "kind": "passed"}
                    ),
                )
                assert answer.status_code == 201, answer.content
                recorded.append(answer.parsed.event.id)

    writer = threading.Thread(target=write)
    writer.start()
    seen: list[int] = []
    after = ""
    while True:
        done = not writer.is_alive()
        page = _op("events", "list_events").sync_detailed(
            client=client, after=after, types="completion.recorded", limit=3
        )
        assert page.status_code == 200, page.content
        for event in page.parsed.items:
            seen.append(int(event.subject.id))
        after = page.parsed.next_ or after
        if done and not page.parsed.items:
            break
    writer.join()

    assert len(recorded) == 12
    assert sorted(seen) == sorted(recorded)
    assert len(set(seen)) == len(seen)


@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_replays_through_the_generated_client(
    live_server: Any, client_package: Any, tmp_path: Path
) -> None:
    """docs/api.md's ```sh blocks, run with `curl` sending every request through the
    generated client's operation (tests/http/client_curl.py): all succeed, each answer
    parses into the client's models, and the learner ends up complete."""
    from django.core.management import call_command

    from coursepack.learning.models import CompletionEvent, Enrollment
    from tests.http.test_api_walkthrough import DOC, sh_blocks

    generated = Path(client_package.__file__).parents[1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).with_name("client_curl.py")}" "$@"\n'
    )
    (bin_dir / "curl").chmod(0o755)
    make_admin(username="admin")
    out = io.StringIO()
    call_command("issue_token", "admin", "walkthrough", stdout=out, stderr=io.StringIO())
    log = tmp_path / "operations.log"
    script = "\n".join(
        [
            "set -euo pipefail",
            "trap 'echo \"walkthrough step failed: $BASH_COMMAND\" >&2' ERR",
            *sh_blocks(DOC.read_text()),
        ]
    )

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "BASE": live_server.url,
            "TOKEN": out.getvalue().strip(),
            "COURSEPACK_CLIENT": str(generated),
            "COURSEPACK_OPENAPI": str(generated.parent / "openapi.json"),
            "COURSEPACK_CLIENT_LOG": str(log),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stderr == ""
    called = log.read_text().split()
    assert {"create_course", "create_group", "publish", "enroll", "record_completion"} <= set(
        called
    )
    assert len(called) >= 20
    assert "HTTP 200" in result.stdout  # the retried completion ...
    assert CompletionEvent.objects.count() == 2  # ... recorded nothing
    enrollment = Enrollment.objects.get()
    assert (enrollment.learner.username, enrollment.status) == ("sam.lee", "completed")
