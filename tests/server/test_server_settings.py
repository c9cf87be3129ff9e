"""Safe defaults: DEBUG off, a generated secret key, `check --deploy` clean behind HTTPS."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _django(code: str, var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COURSEPACK_", "DJANGO_ALLOW_ASYNC"))
        },
        "COURSEPACK_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "coursepack.settings",
        **env,
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {code}",
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _manage(*args: str, var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COURSEPACK_", "DJANGO_ALLOW_ASYNC"))
        },
        "COURSEPACK_VAR_DIR": str(var),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_is_off_unless_asked(tmp_path: Path) -> None:
    assert _django("print(settings.DEBUG)", tmp_path).stdout.strip() == "False"
    assert _django("print(settings.DEBUG)", tmp_path, COURSEPACK_DEBUG="1").stdout.strip() == "True"


def test_a_secret_key_is_generated_once_into_var_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = _django("print(settings.SECRET_KEY)", tmp_path).stdout.strip()
    second = _django("print(settings.SECRET_KEY)", tmp_path).stdout.strip()
    key_file = tmp_path / "secret_key"
    assert len(first) >= 50
    assert first == second == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    given = _django("print(settings.SECRET_KEY)", tmp_path, COURSEPACK_SECRET_KEY="k" * 60)
    assert given.stdout.strip() == "k" * 60


def test_check_deploy_is_clean_with_https_and_warns_without(tmp_path: Path) -> None:
    https = _manage(
        "check", "--deploy", "--fail-level", "WARNING", var=tmp_path, COURSEPACK_HTTPS="1"
    )
    assert https.returncode == 0, https.stdout + https.stderr
    plain = _manage("check", "--deploy", "--fail-level", "WARNING", var=tmp_path)
    assert plain.returncode != 0
    for warning in ("W004", "W008", "W012", "W016"):
        assert warning in plain.stdout + plain.stderr


def test_a_worker_freezes_what_it_holds_once_warm(tmp_path: Path) -> None:
    """Loading the WSGI application (what every gunicorn worker does) ends with the
    worker's objects out of the cyclic collector's walks (ADR 0038): frozen, and a
    full collection then walks only what was made since."""
    found = _django(
        "import gc; before = gc.get_freeze_count(); import coursepack.wsgi; "
        "print(before, gc.get_freeze_count(), len(gc.get_objects()))",
        tmp_path,
    )
    assert found.returncode == 0, found.stderr
    before, frozen, walked = (int(n) for n in found.stdout.split())
    assert before == 0
    assert frozen > 50_000  # Django, the URL patterns, the API schema's tables
    assert walked < frozen // 10
