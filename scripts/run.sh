#!/usr/bin/env bash
# Install Izin into .venv and start it on its embedded default (SQLite in ./var, no
# tokens): the terminal chat. `scripts/run.sh serve` starts the HTTP app instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -qq -e .
exec .venv/bin/izin "${@:-chat}"
