#!/usr/bin/env bash
# Quick start, command 2: lint and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/bootstrap.sh"
cd "$root"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || echo "note: ruff format would reformat some files" >&2
# Much of the suite waits on real time (IDENTIFY windows, held locks, subprocesses), so it runs in three
# workers even on two cores (pytest-xdist); TEST_WORKERS=0 runs it in one process, and a later -n wins.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-3}" "$@"
