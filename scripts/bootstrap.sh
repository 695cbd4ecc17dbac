#!/usr/bin/env bash
# Create .venv and install the project with its test tools, once per change of pyproject.toml.
# Sourced by run.sh and test.sh so both quick-start commands install what they need themselves.
# A half-made .venv (no pip because the venv module is incomplete, a moved interpreter, an interrupted
# install) is detected and rebuilt; what cannot be repaired from here is named, with the package to install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
stamp="$venv/.immunobot-installed"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "Immunobot needs Python 3.11 or newer, and '$python' was not found. Install Python 3.11+ or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Immunobot needs Python 3.11 or newer (found: $("$python" --version 2>&1)). Set PYTHON=/path/to/python3.11 to choose one." >&2
  exit 1
fi

# A usable .venv runs its own Python and has pip; anything less is rebuilt from scratch.
if [ -e "$venv" ] && ! "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; then
  echo "The virtual environment in .venv is incomplete (no working Python or pip): rebuilding it ..." >&2
  rm -rf "$venv"
fi
if [ ! -e "$venv" ]; then
  echo "Creating a virtual environment in .venv ..." >&2
  if ! "$python" -m venv "$venv" >/dev/null 2>&1 || ! "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; then
    rm -rf "$venv"
    version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    echo "Could not create a virtual environment with pip: $python lacks its venv/ensurepip module." >&2
    echo "On Debian or Ubuntu install it with:  sudo apt install python3-venv   (or python${version}-venv)" >&2
    echo "then run this command again. Elsewhere, install a full Python 3.11+ and set PYTHON=/path/to/python3." >&2
    exit 1
  fi
fi

# The tests start a throwaway PostgreSQL: from the machine's server binaries, else from a wheel that bundles one.
extras="test"
pg_bindir="$(pg_config --bindir 2>/dev/null || true)"
if ! [ -x "$pg_bindir/postgres" ] && ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  extras="test,pgserver"
fi

# Hash with Python itself: sha256sum is not on every system (macOS has shasum instead).
wanted="$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$root/pyproject.toml") $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing Immunobot and its dependencies into .venv (the first time takes a minute) ..." >&2
  rm -f "$stamp"  # an interrupted install leaves no stamp, so the next run installs again
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 \
    || ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[$extras]" >&2; then
    echo "Installing failed (see above). The first run needs network access to the Python package index (PyPI)," >&2
    echo "or a configured mirror (PIP_INDEX_URL). Run the command again once that works: it resumes by itself." >&2
    exit 1
  fi
  echo "$wanted" > "$stamp"
fi
