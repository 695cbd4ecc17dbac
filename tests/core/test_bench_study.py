"""bench/study.py runs and reports both schedulers, with --json as one object on the last line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "study.py"


def test_study_benchmark_prints_both_schedulers_and_json() -> None:
    """A short run: reviews and true recall for SM-2 and FSRS; the last line is the same as JSON."""
    run = subprocess.run(
        [sys.executable, str(BENCH), "--members", "2", "--days", "40", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    lines = run.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["days"] == 40
    for name in ("sm2", "fsrs"):
        assert figures[name]["reviews"] > 2 * 65  # every card seen, most more than once
        assert 0.5 < figures[name]["true_recall"] <= 1
    assert any(line.startswith("SM-2 ") for line in lines)
    assert any(line.startswith("FSRS-6 ") for line in lines)
