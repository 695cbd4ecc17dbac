"""scripts/bootstrap.sh repairs a half-made .venv, or says exactly what to install (no network needed here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def project_copy(tmp_path: Path) -> Path:
    """A project root holding only what bootstrap.sh reads."""
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", root / "scripts" / "bootstrap.sh")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def bootstrap(root: Path, python: str) -> subprocess.CompletedProcess[str]:
    """Run bootstrap.sh offline (no package index), so an install attempt fails fast instead of downloading."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "VIRTUAL_ENV"))}
    environment.update(PYTHON=python, PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PATH="/usr/bin:/bin")
    return subprocess.run(
        ["bash", str(root / "scripts" / "bootstrap.sh")], capture_output=True, text=True, env=environment,
        timeout=300, check=False,
    )  # fmt: skip


def base_python() -> str:
    """The interpreter this venv was made from (a venv's own python would nest venvs)."""
    return str(Path(sys._base_executable).resolve())


def test_a_venv_without_pip_is_rebuilt(tmp_path: Path) -> None:
    """An interrupted or pip-less .venv is detected and rebuilt; an install that cannot reach the index says why."""
    root = project_copy(tmp_path)
    venv.create(root / ".venv", with_pip=False)
    result = bootstrap(root, base_python())
    assert "incomplete" in result.stderr
    assert "rebuilding" in result.stderr
    check = subprocess.run([str(root / ".venv" / "bin" / "python"), "-c", "import pip"], check=False)
    assert check.returncode == 0
    # offline, the install itself fails: the message names what the first run needs, and no stamp is written
    assert result.returncode == 1
    assert "network access to the Python package index" in result.stderr
    assert not (root / ".venv" / ".immunobot-installed").exists()


def test_a_python_without_venv_support_is_named(tmp_path: Path) -> None:
    """Where `python -m venv` cannot provide pip (Debian without python3-venv), the package to install is named."""
    root = project_copy(tmp_path)
    fake = tmp_path / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
        f'  "{base_python()}" -m venv --without-pip "$3"\n'
        '  echo "The virtual environment was not created successfully because ensurepip is not available." >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{base_python()}" "$@"\n'
    )
    fake.chmod(0o755)
    result = bootstrap(root, str(fake))
    assert result.returncode == 1
    assert "sudo apt install python3-venv" in result.stderr
    assert not (root / ".venv").exists()  # nothing half-made left behind for the next run to trip on


def test_too_old_or_missing_python_is_explained(tmp_path: Path) -> None:
    """A PYTHON that does not exist is named, with how to choose another."""
    result = bootstrap(project_copy(tmp_path), str(tmp_path / "no-such-python"))
    assert result.returncode == 1
    assert "PYTHON=" in result.stderr
