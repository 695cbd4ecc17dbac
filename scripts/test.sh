#!/usr/bin/env bash
# Quick start, command 2: lint and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/bootstrap.sh"
cd "$root"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || echo "note: ruff format would reformat some files" >&2
exec .venv/bin/python -m pytest "$@"
