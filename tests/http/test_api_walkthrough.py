"""docs/api.md's walkthrough works: its ```sh blocks, run as written with bash and curl.

The test sets BASE (the live server) and TOKEN (made by ``manage.py issue_token``,
as the page says), runs every block in one shell in order, and checks that each
command succeeded (curl -f fails on any 4xx/5xx) and that the learner's final
progress is complete.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from coursepack.learning.models import CompletionEvent, Enrollment
from tests.factories import make_admin

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def sh_blocks(text: str) -> list[str]:
    """Return the bodies of the ```sh code blocks of a Markdown text, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_the_doc_has_a_walkthrough() -> None:
    """The page has the blocks this test runs (a renamed fence would silently skip them)."""
    blocks = sh_blocks(DOC.read_text())
    assert len(blocks) >= 10
    assert all("curl " in b or "field()" in b for b in blocks)


def test_issue_token_prints_only_a_working_token(db: None) -> None:
    """manage.py issue_token USERNAME NAME: the token alone on stdout; unknown user: an error."""
    from django.core.management.base import CommandError
    from django.test import Client

    make_admin(username="ops")
    out, err = io.StringIO(), io.StringIO()

    call_command("issue_token", "ops", "nightly sync", stdout=out, stderr=err)

    token = out.getvalue().strip()
    assert re.fullmatch(r"cp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    assert "shown only now" in err.getvalue()
    me = Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/me")
    assert me.json()["username"] == "ops"
    with pytest.raises(CommandError, match="no active user"):
        call_command("issue_token", "nobody", "x", stdout=io.StringIO())


def test_the_walkthrough_runs_as_written(live_server: Any, tmp_path: Path) -> None:
    """Every ```sh block of docs/api.md, in one bash, against a live server: all succeed,
    the retried completion records nothing, and the learner ends up complete."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed: run `make test-deps` (scripts/install-test-deps.sh)")
    make_admin(username="admin")
    out = io.StringIO()
    call_command("issue_token", "admin", "walkthrough", stdout=out, stderr=io.StringIO())
    script = "\n".join(
        [
            "set -euo pipefail",
            # Name the command that failed: the output shows which step broke.
            "trap 'echo \"walkthrough step failed: $BASH_COMMAND\" >&2' ERR",
            *sh_blocks(DOC.read_text()),
        ]
    )

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "BASE": live_server.url, "TOKEN": out.getvalue().strip()},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stderr == ""
    # The last response printed is the final progress (curl adds no newline after it).
    progress = json.loads(result.stdout[result.stdout.rindex('{"enrollment": ') :])
    assert progress["status"] == "completed"
    assert progress["why_not_complete"] == []
    assert "HTTP 200" in result.stdout  # the retry answered 200 ...
    assert CompletionEvent.objects.count() == 2  # ... and recorded nothing
    enrollment = Enrollment.objects.get()
    assert (enrollment.learner.username, enrollment.status) == ("sam.lee", "completed")
