#!/usr/bin/env bash
# Install Debian's chromium (for tests/test_hostile.py) when it is missing.
# Idempotent: returns at once when /usr/bin/chromium already runs. Quiet unless it fails.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && chromium --version >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install chromium with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium: not root and no sudo; cannot install chromium" >&2
        exit 1
    fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq \
       && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk; } >"$log" 2>&1; then
    echo "install-chromium: apt-get failed:" >&2
    tail -n 30 "$log" >&2
    exit 1
fi
chromium --version >/dev/null 2>&1
