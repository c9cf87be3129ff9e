#!/usr/bin/env python3
"""Install the uv binary from its PyPI wheel using only the standard library.

Fallback for machines whose python3 has no venv/pip (Debian without python3-venv).
Usage: fetch_uv.py VERSION DEST_DIR
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
import urllib.request
import zipfile

INDEX = os.environ.get("COURSEPACK_PYPI_SIMPLE", "https://pypi.org/simple")


def _wanted_tags() -> list[str]:
    """Return wheel platform tags for this machine, best first."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return [
            f"manylinux_2_17_{machine}",
            f"manylinux_2_28_{machine}",
            f"musllinux_1_1_{machine}",
        ]
    if sys.platform == "darwin":
        return ["macosx_11_0_arm64" if machine == "aarch64" else "macosx_10_12_x86_64"]
    raise SystemExit(f"fetch_uv: unsupported platform {sys.platform}/{machine}")


def main() -> None:
    version, dest = sys.argv[1], sys.argv[2]
    request = urllib.request.Request(
        f"{INDEX}/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    candidates = {f["filename"]: f for f in files if f["filename"].startswith(f"uv-{version}-")}
    for tag in _wanted_tags():
        match = next((f for name, f in candidates.items() if tag in name), None)
        if match:
            break
    else:
        raise SystemExit(f"fetch_uv: no uv {version} wheel for {_wanted_tags()}")

    with tempfile.TemporaryDirectory() as tmp:
        wheel = os.path.join(tmp, match["filename"])
        urllib.request.urlretrieve(match["url"], wheel)
        with open(wheel, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if digest != match["hashes"]["sha256"]:
            raise SystemExit(f"fetch_uv: sha256 mismatch for {match['filename']}")
        os.makedirs(dest, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            for name in (f"uv-{version}.data/scripts/uv", f"uv-{version}.data/scripts/uvx"):
                target = os.path.join(dest, os.path.basename(name))
                with zf.open(name) as src, open(target, "wb") as out:
                    out.write(src.read())
                os.chmod(target, 0o755)
    print(f"fetch_uv: installed uv {version} into {dest}")


if __name__ == "__main__":
    main()
