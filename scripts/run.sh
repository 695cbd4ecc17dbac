#!/usr/bin/env bash
# Quick start, command 1: run Immunobot. With DISCORD_TOKEN set it connects to Discord;
# without one it starts the offline console. Extra arguments go to `python -m bot`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/bootstrap.sh"
exec "$root/.venv/bin/python" -m bot "$@"
