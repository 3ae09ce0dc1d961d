#!/usr/bin/env bash
# Install Izin with its test tools into .venv and run the test suite on SQLite.
# Fast by default: tests marked `slow` (real-time rates, several real processes, OCR
# corpora; over 10 s each) are left out; `scripts/test.sh --all` runs them too, and CI
# (.ci/run) always does.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -qq -e '.[dev]'
select=(-m "not slow")
if [ "${1:-}" = "--all" ]; then
  shift
  select=()
fi
.venv/bin/pytest -q -p no:cacheprovider "${select[@]}" "$@"
