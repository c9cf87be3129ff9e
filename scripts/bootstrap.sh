#!/usr/bin/env bash
# Make .venv/ match uv.lock, first bootstrapping a pinned uv into .tools/.
#
# Needs only python3 (3.11+) and access to PyPI. Idempotent and fast when
# nothing changed. Set PYTHON to pick another interpreter for .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
UV=.tools/bin/uv
PYTHON=${PYTHON:-python3}

uv_is_current() {
    [ -x "$UV" ] && [ "$("$UV" --version 2>/dev/null | awk '{print $2}')" = "$UV_VERSION" ]
}

if ! uv_is_current; then
    echo "==> bootstrapping uv $UV_VERSION into .tools/"
    rm -rf .tools
    # Debian's python3 lacks venv/ensurepip unless python3-venv is installed;
    # then fall back to unpacking the uv wheel from PyPI with the stdlib only.
    if "$PYTHON" -m venv .tools >/dev/null 2>&1 \
        && .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"; then
        :
    else
        echo "    (python3 -m venv/pip unavailable: fetching the uv wheel directly)"
        rm -rf .tools
        "$PYTHON" scripts/fetch_uv.py "$UV_VERSION" .tools/bin
    fi
    uv_is_current || { echo "bootstrap: $UV is not uv $UV_VERSION" >&2; exit 1; }
fi

# A .venv/ without a working interpreter (interrupted setup) is rebuilt from scratch.
if [ -d .venv ] && ! .venv/bin/python -c '' 2>/dev/null; then
    echo "==> .venv/ is broken: recreating it"
    rm -rf .venv
fi

# Never let uv fetch a Python build: use the interpreter we were given.
export UV_PYTHON_DOWNLOADS=never
"$UV" sync --frozen --python "$PYTHON" --quiet
