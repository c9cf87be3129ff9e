#!/usr/bin/env bash
# Install the system packages the test suite needs, only where missing:
# PostgreSQL server binaries (throwaway test cluster), Debian's chromium
# (Playwright cannot download its own browser here) and curl (docs/api.md's
# walkthrough is run as written). Debian/Ubuntu only.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        "${SUDO[@]}" apt-get update -qq
        apt_updated=1
    fi
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    echo "==> installing PostgreSQL server (initdb not found)"
    apt_install postgresql
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "==> installing chromium (/usr/bin/chromium not found)"
    apt_install chromium
fi

if ! command -v curl >/dev/null; then
    echo "==> installing curl (not found)"
    apt_install curl
fi
