"""The production entry point (`python -m bot` with a token, as in Docker) against the stand-in, in a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from standin import StandIn

ROOT = Path(__file__).resolve().parents[2]


async def start_process(
    discord_: StandIn, tmp_path: Path, token: str, *arguments: str, **settings: str
) -> asyncio.subprocess.Process:
    """Start `python -m bot` pointed at the stand-in, as a host would start it (`settings`: more environment)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DISCORD")}
    environment.update({
        "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": token, "DATABASE_PATH": str(tmp_path / "bot.db"),
        "DISCORD_API_BASE": discord_.api_base, "DISCORD_GATEWAY_URL": discord_.gateway_url, "LOG_LEVEL": "DEBUG",
        **settings,
    })  # fmt: skip
    log = (tmp_path / "bot.log").open("wb")  # a file, not a pipe: nothing can block on a full buffer
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *arguments, env=environment, cwd=tmp_path, stdout=log, stderr=log,
        )  # fmt: skip
    finally:
        log.close()


async def test_runs_answers_and_stops_cleanly_on_sigterm(discord_: StandIn, tmp_path: Path) -> None:
    """With a token it connects, syncs, answers; SIGTERM closes it with exit 0, no warnings, token never logged."""
    guild = discord_.add_guild("Hosted")
    member = discord_.add_member(guild, "reader")
    process = await start_process(discord_, tmp_path, discord_.token)
    try:
        await discord_.wait_for_identify(1, within=30)
        await discord_.changes.wait_for(lambda: discord_.commands(), 30, "the command sync")
        result = await discord_.slash(guild, member, "define", term="glucocorticoids", within=15)
        assert result.response.embeds[0]["title"] == "Glucocorticoid"
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    log = (tmp_path / "bot.log").read_text()
    assert process.returncode == 0, log
    assert "Shutting down" in log
    assert discord_.token not in log
    assert "Unclosed" not in log
    assert "Traceback" not in log


async def test_sigterm_while_a_shard_cannot_connect_still_stops_it(discord_: StandIn, tmp_path: Path) -> None:
    """The gateway unreachable: discord.py retries the shard every 5 s, even after close; SIGTERM ends it anyway."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once closed
    process = await start_process(
        discord_, tmp_path, discord_.token, DISCORD_GATEWAY_URL=f"ws://127.0.0.1:{port}/gateway", SHARD_COUNT="1"
    )
    log_file = tmp_path / "bot.log"
    try:
        await discord_.changes.wait_for(
            lambda: "Failed to connect for shard_id: 0" in log_file.read_text(errors="replace"), 30, "a failed login"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)
    log = log_file.read_text(errors="replace")
    assert process.returncode == 0, log[-3000:]
    assert "Shutting down" in log
    assert "Session is closed" not in log  # no retry after the close


async def test_rejected_token_is_one_clear_line(discord_: StandIn, tmp_path: Path) -> None:
    """A wrong token ends start-up with one sentence and no traceback."""
    process = await start_process(discord_, tmp_path, "not.the.right-token")
    await asyncio.wait_for(process.wait(), 60)
    text = (tmp_path / "bot.log").read_text()
    assert process.returncode == 2
    assert "Discord rejected DISCORD_TOKEN" in text
    assert "Traceback" not in text
    assert "not.the.right-token" not in text


async def test_sync_command_syncs_and_exits(discord_: StandIn, tmp_path: Path) -> None:
    """`python -m bot sync` pushes the command tree once and exits 0 without opening the gateway."""
    process = await start_process(discord_, tmp_path, discord_.token, "sync")
    await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0, (tmp_path / "bot.log").read_text()
    assert discord_.sync_count == 1
    assert {"define", "daily"} <= {command["name"] for command in discord_.commands()}
    assert discord_.identifies == []


def _corrupt(path: Path) -> None:
    path.write_bytes(b"This is not a database, whatever its name says." * 100)


def _truncated(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE filler (value TEXT)")
        db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 2000)
        db.commit()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _read_only(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE filler (value TEXT)")
        db.commit()
    path.chmod(0o444)
    _immutable(path, True)


def _immutable(path: Path, on: bool) -> None:
    """Permissions do not stop root: as root, make the file immutable instead (or writable again)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)


DAMAGED = "is damaged or not an Immunobot database"


@pytest.mark.parametrize(
    ("damage", "expected", "console"),
    [(_corrupt, DAMAGED, False), (_truncated, DAMAGED, False), (_read_only, "is read-only", False),
     (_corrupt, DAMAGED, True)],
    ids=["corrupt", "truncated", "read-only", "corrupt-console"],
)  # fmt: skip
async def test_unusable_database_is_one_line_exit_1_and_left_untouched(
    discord_: StandIn, tmp_path: Path, damage, expected: str, console: bool
) -> None:
    """A corrupt, truncated or read-only database file: one clear line, exit status 1, the file byte for byte."""
    path = tmp_path / "bot.db"
    damage(path)
    before = path.read_bytes()
    try:
        process = await start_process(discord_, tmp_path, "" if console else discord_.token)
        await asyncio.wait_for(process.wait(), 60)
    finally:
        await asyncio.to_thread(_immutable, path, False)
    text = (tmp_path / "bot.log").read_text()
    assert process.returncode == 1, text
    assert expected in text
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if "bot.db" in line]) == 1, text
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["bot.db", "bot.db.lock", "bot.log"]  # the one-process lock only
    path.chmod(0o644)


async def test_debug_logs_hold_no_interaction_tokens_or_typed_text(discord_: StandIn, tmp_path: Path) -> None:
    """LOG_LEVEL=DEBUG logs gateway events and REST calls, but no interaction token and nothing anyone typed."""
    guild = discord_.add_guild("Hosted")
    member = discord_.add_member(guild, "reader")
    process = await start_process(discord_, tmp_path, discord_.token)
    typed = ["zebrafish quokka", "marmoset 'walrus'", 'narwhal "axolotl"']
    try:
        await discord_.wait_for_identify(1, within=30)
        await discord_.changes.wait_for(lambda: discord_.commands(), 30, "the command sync")
        results = [await discord_.slash(guild, member, "define", term=text, within=15) for text in typed]
        results.append(await discord_.slash(guild, member, "search", text="pangolin", within=15))
        results.append(await discord_.autocomplete(guild, member, "define", focused="term", term="okapi", within=15))
        discord_.user_message(guild, member, "a message about the capybara")
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    log = (tmp_path / "bot.log").read_text()
    assert process.returncode == 0, log
    assert "WebSocket Event" in log  # the debug level was on
    assert "<token>" in log
    for result in results:
        assert result.token not in log
    for word in ("zebrafish", "quokka", "marmoset", "walrus", "narwhal", "axolotl", "pangolin", "okapi", "capybara"):
        assert word not in log, word
