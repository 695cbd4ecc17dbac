"""The command line, run as a person would: a real subprocess, from another working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bot(
    *arguments: str, stdin: str = "", cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m bot ...` in a clean environment."""
    environment = {key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *arguments], input=stdin, capture_output=True, text=True, cwd=cwd,
        env=environment, timeout=60, check=False,
    )  # fmt: skip


def test_lookup_prints_the_entry(tmp_path: Path) -> None:
    """A typo'd term prints the entry, from any working directory."""
    result = run_bot("lookup", "immunoterapy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "IMMUNOTHERAPY" in result.stdout
    assert "Source:" in result.stdout


def test_lookup_without_a_match_suggests_and_fails(tmp_path: Path) -> None:
    """A generic word lists choices and exits 1."""
    result = run_bot("lookup", "vaccine", cwd=tmp_path)
    assert result.returncode == 1
    assert "Did you mean" in result.stdout


def test_lookup_json_lines(tmp_path: Path) -> None:
    """One JSON object per input line, in the documented shape."""
    result = run_bot("lookup", "--json", stdin="antibodys\n'; DROP TABLE x;--\n\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["antibodys", "'; DROP TABLE x;--", ""]
    assert lines[0]["match"]["id"] == "antibody"
    assert set(lines[0]["match"]) == {"id", "name", "score", "matched", "example"}
    assert all(set(s) == {"id", "name", "score"} for s in lines[0]["suggestions"])
    assert lines[1]["match"] is None
    assert lines[2] == {"query": "", "match": None, "suggestions": []}


def test_load_reports_then_is_idempotent(tmp_path: Path) -> None:
    """`load` creates the database and reports additions; a second run changes nothing."""
    database = tmp_path / "sub" / "bot.db"
    first = run_bot("load", cwd=tmp_path, env={"DATABASE_PATH": str(database)})
    assert first.returncode == 0, first.stderr
    assert "0 changed" in first.stdout
    assert "added: " in first.stdout
    second = run_bot("load", cwd=tmp_path, env={"DATABASE_PATH": str(database)})
    assert " 0 added, 0 changed" in second.stdout
    assert "added:" not in second.stdout


def test_malformed_setting_is_one_clear_line(tmp_path: Path) -> None:
    """A bad setting stops with one line naming it, not a traceback."""
    result = run_bot("load", cwd=tmp_path, env={"DEV_GUILD_ID": "not-a-number"})
    assert result.returncode == 2
    assert "DEV_GUILD_ID" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_lookup_understands_questions_examples_and_says_how(tmp_path: Path) -> None:
    """The CLI uses the one resolver: a question finds its subject, an example term says whose example it is."""
    question = run_bot("lookup", "tell me about tacrolimus", cwd=tmp_path)
    assert question.returncode == 0, question.stderr
    assert question.stdout.startswith("TACROLIMUS")
    example = run_bot("lookup", "cisplatin", cwd=tmp_path)
    assert example.returncode == 0, example.stderr
    assert example.stdout.startswith("(cisplatin — an example of: Chemotherapy)")
    typo = run_bot("lookup", "tacrolimis", cwd=tmp_path)
    assert "best match for 'tacrolimis': Tacrolimus" in typo.stdout


def test_help_lists_every_subcommand_on_one_line_and_version(tmp_path: Path) -> None:
    """`--help` names each subcommand with one line, in the command form that works from a clone; `--version`."""
    from bot.__main__ import SUBCOMMANDS

    result = run_bot("--help", cwd=tmp_path, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, summary in SUBCOMMANDS.items():
        assert any(line.split() == [name, *summary.split()] for line in lines), name
    assert "usage: bash scripts/run.sh" in result.stdout
    assert all(len(line) <= 80 for line in lines)
    version = run_bot("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.startswith("Immunobot ")


def test_lookup_hint_is_a_command_that_works(tmp_path: Path) -> None:
    """A lookup without a term shows a command that works from a fresh clone (never a bare `python -m bot`)."""
    result = run_bot("lookup", cwd=tmp_path)
    assert result.returncode == 2
    assert "bash scripts/run.sh lookup" in result.stderr
    assert "python -m bot" not in result.stderr
