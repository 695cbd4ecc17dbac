"""The offline console, run as a person would: `python -m bot` with no token, fed from a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def console(script: str, cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the console in a fresh directory with no token, reading `script` from standard input."""
    environment = {key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"}
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *arguments], input=script, capture_output=True, text=True, cwd=cwd,
        env=environment, timeout=120, check=False,
    )  # fmt: skip


def test_no_token_starts_the_console_and_answers(tmp_path: Path) -> None:
    """Without DISCORD_TOKEN the bot says so in one line, answers piped commands, exits 0 at end of input."""
    result = console("/define term:antibodys\n/define immunoterapy\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No DISCORD_TOKEN set" in result.stderr
    assert "│ ANTIBODY" in result.stdout
    assert "│ IMMUNOTHERAPY" in result.stdout
    assert "Traceback" not in result.stderr
    assert (tmp_path / "immunobot.db").exists()


def test_buttons_menus_autocomplete_and_pictures(tmp_path: Path) -> None:
    """Numbers press buttons and pick menu options, `?` autocompletes, the stage diagram is saved to a file."""
    script = "\n".join([
        "/define vaccine", "1",                 # did-you-mean, press the first choice
        "/define monoclonal antibody", "1 b",   # related menu, second option
        "/define fk50?",                        # autocomplete
        "/stages",                              # diagram saved, stage buttons listed
        "/category name:immunomodulatory", "2", # next page
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path, "--console")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Did you mean" in out
    assert "│ POLYCLONAL ANTIBODY" in out
    assert "Tacrolimus (FK506)" in out
    saved = next(line for line in out.splitlines() if line.startswith("[file saved: "))
    assert Path(saved.removeprefix("[file saved: ").rstrip("]")).read_bytes().startswith(b"\x89PNG")
    assert "page 2 of 2" in out


def test_bad_console_input_is_explained(tmp_path: Path) -> None:
    """Unknown commands, missing options and stray numbers get one-line explanations, and the console goes on."""
    result = console("/nope\n/define\n7\n/define term:BCG\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "There is no /nope command" in result.stdout
    assert "missing" in result.stdout
    assert "number of a button" in result.stdout
    assert "│ BACILLUS CALMETTE–GUÉRIN" in result.stdout


def test_daily_setup_and_post_in_the_console(tmp_path: Path) -> None:
    """A moderator tries the concept of the day offline: set it, post now, see the post and press its button."""
    script = "\n".join([
        "/daily set channel:#daily-concepts time:08:00 timezone:Europe/Lond?",
        "/daily set channel:#daily-concepts time:08:00 timezone:Europe/London",
        "/daily now",
        "1",
        "/daily set channel:#nope time:08:00 timezone:UTC",
        "/daily set channel:#general time:25:00 timezone:UTC",
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  Europe/London" in out
    assert "#daily-concepts at 08:00 (Europe/London)" in out
    assert "[new message in #daily-concepts]" in out
    assert "│ CONCEPT OF THE DAY: " in out
    assert "There is no channel #nope" in out
    assert "is not a time" in out


def test_same_server_and_person_across_console_runs(tmp_path: Path) -> None:
    """The console's server and user keep their ids, so a moderator's edit is still there next run."""
    first = console("/concept alias add term:tacrolimus alias:console-alias-test\n", tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Saved “Tacrolimus”" in first.stdout
    second = console("/define console-alias-test\n", tmp_path)
    assert second.returncode == 0, second.stderr
    assert "│ TACROLIMUS" in second.stdout


def test_tab_completion_never_shortens_what_was_typed() -> None:
    """Tab offers completions that extend the line (keeping the user's case), else the single best correction."""
    from bot.console import _tab_candidates

    typed = "/define immune s"
    offered = _tab_candidates(typed, ["/define Immune system", "/define Immunosuppressant", "/define Immune response"])
    assert offered == ["/define immune system"]
    assert _tab_candidates("/define immunoterap", ["/define Immunotherapy", "/define Tumor immunotherapy"]) == [
        "/define Immunotherapy"
    ]
    assert _tab_candidates("/define zzz", []) == []


def test_lookups_as_a_student_types_them(tmp_path: Path) -> None:
    """Questions, corrected typos, paged search, a numbered stage and the Explain terms menu, from the console."""
    script = "\n".join([
        "/define tell me about BCG",                    # a question resolves like the bare term
        "/define what are cytokin?",                    # ... in autocomplete too (a trailing ? completes)
        "/define tacrolimis",                           # a typo says what it matched
        "/search text:tumour",                          # paged search: "1–10 of N", next page button
        "7",                                            # Next ▶ (after the five hits' buttons and ◀ Previous)
        "/stages stage:stage 3",                        # a numbered stage
        "/explain tacrolimis and MMF after a transplant",  # a message context menu on a posted message
        "/explain",                                     # ... and on the last public answer shown
        "/explain see you on thursday",                 # nothing found
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path, "--console")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "│ BACILLUS CALMETTE–GUÉRIN" in out
    assert "  Cytokine\n" in out
    assert "tacrolimis → Tacrolimus" in out
    assert "1–10 of " in out
    assert "11–20 of " in out
    assert "page 2 of" in out
    assert "│ IMMUNE ADJUSTMENT" in out
    assert "│ TERMS IN THIS MESSAGE" in out
    assert "(“tacrolimis”)" in out
    assert "found no glossary terms" in out
    assert "Traceback" not in result.stderr
