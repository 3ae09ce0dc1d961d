#!/usr/bin/env bash
# Install Izin with its test tools into .venv and run the whole test suite (SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -qq -e '.[dev]'
.venv/bin/pytest -q -p no:cacheprovider "$@"
