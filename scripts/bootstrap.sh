#!/usr/bin/env bash
# Create .venv and install the project with its test tools, once per change of pyproject.toml.
# Sourced by run.sh and test.sh so both quick-start commands install what they need themselves.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Immunobot needs Python 3.11 or newer (found: $("$python" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "Creating a virtual environment in .venv ..." >&2
  "$python" -m venv "$venv"
fi
# The tests start a throwaway PostgreSQL: from the machine's server binaries, else from a wheel that bundles one.
extras="test"
pg_bindir="$(pg_config --bindir 2>/dev/null || true)"
if ! [ -x "$pg_bindir/postgres" ] && ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  extras="test,pgserver"
fi
stamp="$venv/.immunobot-installed"
wanted="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing Immunobot and its dependencies into .venv ..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$root[$extras]" >&2
  echo "$wanted" > "$stamp"
fi
