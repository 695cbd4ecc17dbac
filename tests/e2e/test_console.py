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
    assert "voice will NOT be supported" not in result.stderr  # discord.py's notice: the bot has no voice
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
    assert "! /define needs term: (" in result.stdout
    assert "Type it as /define term:…" in result.stdout
    assert "number of a button" in result.stdout
    assert "│ BACILLUS CALMETTE–GUÉRIN" in result.stdout


def test_options_are_checked_as_discords_client_does(tmp_path: Path) -> None:
    """Bad numbers, ranges, choices and unknown option names get a sentence naming the option and what it
    accepts, nothing is sent (no quiz starts), and `option:?` lists an option's choices."""
    script = "\n".join([
        "/quiz start questions:two",
        "/quiz start questions:3",
        "/quiz start mode:?",
        "/quiz start mode:sideways",
        "/quiz start foo:bar",
        "/concept revert term:MMF revision:two",
        "/about now",
        "/quiz start questions:21 mode:mixed",
        "/concept history term:MMF reason:typo fix: spelling",
        "/leaderboard",
        "/quiz start mode:stages questions:5",
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "! questions: takes a whole number from 5 to 20; “two” is not a whole number." in out
    assert "! questions: takes a whole number from 5 to 20; 3 is out of range." in out
    assert "  mixed\n  definition → term\n  term → definition\n  classification\n  stages in order\n" in out
    assert (
        "! mode: takes one of: mixed, definition → term, term → definition, classification, stages in order, typed answer;"
        in out
    )
    assert "! /quiz start has no option foo: — its options are category:, questions:, mode:, timeout:." in out
    assert "! revision: takes a whole number from 0 to" in out
    assert "! /about takes no options." in out
    assert "! questions: takes a whole number from 5 to 20; 21 is out of range." in out
    assert "has no option reason:" in out  # /concept history takes no reason: a name with a value is refused
    assert "invalid literal" not in out
    assert "min_value" not in out
    assert "Start a quiz with /quiz start." in out  # no quiz was started by a refused line (and </cmd:id> reads)
    before_quiz, quiz = out.split("immunobot> /quiz start mode:stages questions:5")
    assert "[new message" not in before_quiz
    assert "stages in order" in quiz  # the start of a choice's name picks it


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
    assert "Added “console-alias-test” to “Tacrolimus”" in first.stdout
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


ENTRY = (
    "concepts:\n"
    "  - {{id: our-entry, name: Our entry, summary: S., definition: D., related: [{related}],"
    " source: {{document: editorial, editorial: E.}}}}\n"
)


def test_markup_mentions_and_ids_read_as_a_person_reads_them(tmp_path: Path) -> None:
    """Emphasis and escapes are dropped from piped output, mentions and entry ids become names."""
    first, second = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    first.write_text(ENTRY.format(related="tacrolimus"))
    second.write_text(ENTRY.format(related="sirolimus"))
    script = "\n".join([
        "/search text:CAR-T",
        "/concept config role:@moderators",
        "/concept config",
        f"/concept import file:{first}",
        f"/concept import file:{second}",
        "/concept history term:Our entry",
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CAR-T" in out
    assert "**" not in out
    assert "\\-" not in out
    assert "<@" not in out
    assert "<#" not in out
    assert "Moderator role: @moderators" in out
    assert "by @you" in out
    assert "Related: + Sirolimus; − Tacrolimus" in out


def test_form_shows_lists_whole_marks_required_and_keeps_what_was_typed(tmp_path: Path) -> None:
    """The edit form lists pre-filled aliases one per line, marks required fields, asks a blanked required
    field again without losing the others, takes paragraphs, and hands back refused text exactly as typed."""
    long_summary = "A summary line that is deliberately longer than the console's hundred-column width " * 2
    script = "\n".join([
        "/concept edit term:tacrolimus",
        "",                             # name: keep
        "",                             # aliases: keep
        "-",                            # summary emptied: required, asked again
        long_summary.strip(),           # summary, one long line
        '"""', "First paragraph.", "", "Second paragraph.", '"""',   # definition with two paragraphs
        "course wording",               # why
        "/define tacrolimus",
        "/concept edit term:tacrolimus",
        "Sirolimus",                    # a name another entry has: refused by the bot
        "", "", "", "",
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  Name * — now: Tacrolimus" in out
    assert (
        "  Aliases  (Other names it answers to: one per line, or separated by ;) — now:\n      FK506\n      fujimycin\n"
        in out
    )
    assert "      Protopic\n" in out  # the whole list, not cut
    assert "  ! Summary is required: type something." in out
    assert "Saved “Tacrolimus” as revision 1." in out
    assert "│ First paragraph.\n│\n│ Second paragraph.\n" in out
    refused = out.split("/concept edit term:tacrolimus")[-1]
    assert "Your text" in refused
    assert f"▏ {long_summary.strip()}\n" in refused  # handed back on one line, as typed, not re-wrapped


def test_tab_candidates_and_choices_listing_for_options_without_autocomplete(tmp_path: Path) -> None:
    """`option:?` on a plain option says what it takes; on an option with choices, lists them filtered."""
    result = console("/quiz start questions:?\n/quiz start mode:term?\n/define term:?\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "  questions: takes a whole number from 5 to 20." in result.stdout
    assert "  definition → term\n  term → definition\n" in result.stdout
    assert "/define term:?\n  Active immunotherapy\n  Adjuvant and neoadjuvant therapy\n" in result.stdout


class Terminal:
    """The console on a pseudo-terminal, as a person at a terminal runs it (prompt_toolkit's path)."""

    def __init__(self, cwd: Path) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
        environment = {key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"}
        environment.update(PYTHONPATH=str(ROOT), TERM="xterm")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"], stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=cwd,
            env=environment, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 90, since: int = 0) -> str:
        """Read the terminal's output until `text` shows at or after position `since` (style and cursor codes
        removed)."""
        import re
        import select
        import time

        deadline = time.monotonic() + timeout
        while text not in self.screen[since:]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} never appeared; the terminal shows:\n{self.screen[-3000:]}"
            ready, _, _ = select.select([self.master], [], [], min(remaining, 1))
            if ready:
                try:
                    chunk = os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    chunk = ""
                if "\x1b[6n" in chunk:  # prompt_toolkit asks where the cursor is: answer as a terminal does
                    os.write(self.master, b"\x1b[1;1R")
                self.screen += re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r", "", chunk)
        return self.screen

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the process to end (killing it if it does not); return its exit status and standard error."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        assert self.process.stderr is not None
        with self.process.stderr:
            return self.process.returncode, self.process.stderr.read().decode()


def test_terminal_shows_the_bots_own_posts_as_they_happen_and_ctrl_c_leaves(tmp_path: Path) -> None:
    """At a terminal, a quiz question closing and the next one appear while a line is half typed, without
    pressing Enter; the typed line survives; Ctrl-C at the prompt exits 0 with no traceback."""
    terminal = Terminal(tmp_path)
    try:
        terminal.read_until("immunobot>")
        terminal.type("/quiz start questions:5 timeout:10\r")
        terminal.read_until("QUESTION 1 OF 5")
        terminal.type("/define half-typ")  # no Enter: the bot's own posts must still appear
        screen = terminal.read_until("QUESTION 2 OF 5", timeout=120)
        assert "QUESTION 1 OF 5 — CLOSED" in screen
        assert "[new message in #general]" in screen
        terminal.type("ed\r")  # the half-typed line was kept: completed, it is sent whole
        answered = terminal.read_until("No entry matches “half-typed”")
        terminal.read_until("immunobot>", since=answered.rindex("No entry matches"))  # the prompt is back
        terminal.type("\x03")  # Ctrl-C at the prompt
    finally:
        status, errors = terminal.close()
    assert status == 0, errors
    assert "Traceback" not in errors
    assert "KeyboardInterrupt" not in errors
    assert "voice will NOT be supported" not in errors


def test_ctrl_c_while_reading_a_pipe_stops_cleanly(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) while the console waits for piped input ends it without a traceback (status 130)."""
    import signal
    import time

    environment = {key: value for key, value in os.environ.items() if key != "DISCORD_TOKEN"}
    environment["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=tmp_path, env=environment, text=True,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("/about\n")
    process.stdin.flush()
    deadline = time.monotonic() + 90
    while "│ ABOUT" not in (line := process.stdout.readline()):  # answered: it now waits for the next line
        assert line, "the console ended before answering /about"
        assert time.monotonic() < deadline, "the console never answered /about"
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)
    process.stdin.close()
    assert process.returncode == 130
    assert "Traceback" not in errors
    assert "KeyboardInterrupt" not in errors


def test_open_quiz_buttons_stay_pressable_after_other_replies(tmp_path: Path) -> None:
    """An open quiz question's buttons keep their numbers after another command's reply, until it closes."""
    script = "/quiz start mode:definition questions:5\n/define term:BCG\n/flashcards status\n1\n"
    result = console(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Locked in" in result.stdout, result.stdout
