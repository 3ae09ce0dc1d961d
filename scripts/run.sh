#!/usr/bin/env bash
# Install Izin into .venv and start it on its embedded default (SQLite in ./var, no
# tokens): the terminal chat. `scripts/run.sh serve` starts the HTTP app instead.
# Says what it is doing: the first install takes a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '%s\n' "$*" >&2; }
if [ ! -x .venv/bin/python ]; then
  say "[1/3] Membuat lingkungan Python di .venv / creating the Python environment in .venv ..."
  python3 -m venv .venv
else
  say "[1/3] Lingkungan Python .venv sudah ada / .venv exists"
fi
stamp=.venv/.izin-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "[2/3] Memasang Izin dan pustakanya (pertama kali 1-2 menit) / installing Izin and its libraries (first time: 1-2 minutes) ..."
  # pip's own progress lines, one per package, so the terminal never looks frozen.
  set +e
  .venv/bin/pip install --disable-pip-version-check --progress-bar off -e . 2>&1 \
    | grep --line-buffered -E '^(Obtaining|Collecting|Building|Installing|Successfully|ERROR)|rror' >&2
  status=("${PIPESTATUS[@]}")
  set -e
  [ "${status[0]}" -eq 0 ] || { say "pip install gagal / failed (${status[0]})"; exit 1; }
  touch "$stamp"
else
  say "[2/3] Izin sudah terpasang / already installed"
fi
say "[3/3] Menjalankan / starting: izin ${*:-chat}"
exec .venv/bin/izin "${@:-chat}"
