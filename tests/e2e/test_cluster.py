"""Three bot processes with two shards each, one stand-in, one PostgreSQL: the cluster as a host runs it.

Real OS processes (each its own interpreter, gateway sessions and caches) connect to one stand-in on loopback
and share one PostgreSQL database. The stand-in runs in the test's process so the test can act as Discord's
users (slash commands); the bots cannot tell it from `python -m standin`, which serves the same server.

Until the store's queries run on PostgreSQL (issue 12, stage 2), the processes keep their data in one SQLite
file (DATABASE_PATH) and use PostgreSQL for what coordinates them (IDENTIFY turns, the change feed); they are
started through the runner `python -m bot` ends in, because `python -m bot` still refuses a postgresql://
DATABASE_URL. After that stage the same environment puts the data in PostgreSQL too (DATABASE_PATH is then
ignored) and `python -m bot` can start them: see `start_process`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import load_into_database
from bot.config import load_settings
from bot.db import Database
from standin import Guild, Member, StandIn

ROOT = Path(__file__).resolve().parents[2]
SHARD_COUNT = 6
LAYOUT = ("0-1", "2-3", "4-5")
RUNNER = (
    "import sys; from bot.config import load_settings; from bot.runner import run_online, setup_logging; "
    "settings = load_settings(); setup_logging(settings); sys.exit(run_online(settings))"
)  # what `python -m bot` runs once its checks passed


@dataclass
class BotProcess:
    """One bot process of the cluster and its log file."""

    shards: str
    log: Path
    process: asyncio.subprocess.Process

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    standin: StandIn
    guilds: list[Guild]
    members: dict[int, Member]
    moderator: Member
    processes: dict[str, BotProcess]
    environment: dict[str, str]
    tmp_path: Path

    async def start(self, shards: str) -> BotProcess:
        """Start the process that runs `shards` (again, after a kill)."""
        self.processes[shards] = await start_bot_process(self.environment, self.tmp_path, shards)
        return self.processes[shards]

    def shard_of(self, guild: Guild) -> int:
        return (guild.id >> 22) % SHARD_COUNT


def bot_environment(api_base: str, gateway_url: str, token: str, postgres_url: str, tmp_path: Path) -> dict[str, str]:
    """What every process of the cluster is given: the same Discord, database and shard count."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DISCORD", "SHARD"))}
    environment.update({
        "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": token, "DISCORD_API_BASE": api_base,
        "DISCORD_GATEWAY_URL": gateway_url, "DATABASE_URL": postgres_url,
        "DATABASE_PATH": str(tmp_path / "shared.db"), "SHARD_COUNT": str(SHARD_COUNT), "LOG_LEVEL": "INFO",
    })  # fmt: skip
    return environment


async def prepare_databases(postgres_url: str, tmp_path: Path) -> None:
    """The schema, as the first process would create it, and the shipped data loaded once, as `load` would:
    SQLite (until stage 2) is not made for several processes migrating one file at once; PostgreSQL migrates
    under a lock (tests/core/test_scale.py)."""
    async with await Database.open(postgres_url):
        pass
    await load_into_database(load_settings(database_url=postgres_url, database_path=tmp_path / "shared.db"))


async def start_bot_process(environment: dict[str, str], tmp_path: Path, shards: str) -> BotProcess:
    """Start the bot process that runs `shards`, its output in a log file of its own."""
    log = tmp_path / f"bot-{shards}.log"
    environment = {**environment, "SHARD_IDS": shards, "HEALTH_FILE": str(tmp_path / f"{shards}.health")}
    with log.open("ab") as sink:  # a file, not a pipe: nothing can block on a full buffer
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, env=environment, cwd=tmp_path, stdout=sink, stderr=sink
        )
    return BotProcess(shards, log, process)


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    await prepare_databases(postgres_url, tmp_path)
    standin = StandIn(shards=SHARD_COUNT, max_concurrency=3, enforce_identify_limit=True)
    async with standin:
        guilds = [
            standin.add_guild(f"G{n}", guild_id=(2000 + n) << 22, channels=("general",)) for n in range(2 * SHARD_COUNT)
        ]
        members = {guild.id: standin.add_member(guild, "alice") for guild in guilds}
        moderator = standin.add_member(guilds[0], "mod", permissions=0x20)
        environment = bot_environment(standin.api_base, standin.gateway_url, standin.token, postgres_url, tmp_path)
        cluster = Cluster(standin, guilds, members, moderator, {}, environment, tmp_path)
        try:
            yield cluster
        finally:
            for running in cluster.processes.values():
                if running.process.returncode is None:
                    running.process.send_signal(signal.SIGTERM)
            for running in cluster.processes.values():
                await asyncio.wait_for(running.process.wait(), 30)


async def wait_for_line(process: BotProcess, text: str, within: float) -> float:
    """Wait until the process logged a line containing `text`; return when it was seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while text not in process.text():
        assert process.process.returncode is None, process.text()[-3000:]
        assert loop.time() < deadline, f"{process.shards} never logged {text!r}:\n{process.text()[-3000:]}"
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def test_three_processes_with_two_shards_each(cluster: Cluster) -> None:
    standin = cluster.standin
    started = time.perf_counter()
    await asyncio.gather(*(cluster.start(shards) for shards in LAYOUT))
    await standin.wait_for_identify(SHARD_COUNT, within=90)
    await standin.changes.wait_for(lambda: standin.commands(), 60, "the command sync")
    logins = time.perf_counter() - started
    assert sorted(standin.gateway.by_shard) == list(range(SHARD_COUNT))
    assert standin.gateway.refusals == []  # no IDENTIFY refused (op 9): turns were taken through PostgreSQL
    by_bucket: dict[int, list[float]] = {}
    for record in standin.identifies:
        by_bucket.setdefault(record.data["shard"][0] % 3, []).append(record.at)
    for times in by_bucket.values():
        assert all(later - earlier >= 5.0 for earlier, later in itertools.pairwise(times))
    assert standin.sync_count == 1  # only the process with shard 0 synced

    for guild in cluster.guilds:  # every guild answered, each by the one process that runs its shard
        result = await standin.slash(guild, cluster.members[guild.id], "define", term="immunoterapy", within=15)
        assert result.response.embeds[0]["title"] == "Immunotherapy"

    # An edit through one process is taken in by the others.
    home = cluster.guilds[0]
    assert cluster.shard_of(home) == 2  # so the process killed below is the one that made the change
    owner = LAYOUT[cluster.shard_of(home) // 2]
    hidden = await standin.slash(home, cluster.moderator, "concept hide", term="BCG", reason="not taught", within=15)
    assert "now hidden" in (await hidden.answer()).content
    answered = time.perf_counter()
    expected = f"Took in guild {home.id}'s glossary change from another process"
    for shards, running in cluster.processes.items():
        if shards != owner:
            assert await wait_for_line(running, expected, 10) - answered < 1.0
    assert expected not in cluster.processes[owner].text()  # its own change is not applied twice

    # kill -9 one process mid-run: its shards come back with the restarted process, paced, and answer again.
    victim = cluster.processes[LAYOUT[1]]
    victim.process.kill()
    await victim.process.wait()
    sessions = standin.gateway.by_shard
    await standin.changes.wait_for(
        lambda: all(sessions[shard].conn is None for shard in (2, 3)), 30, "the killed process's connections to drop"
    )
    await cluster.start(LAYOUT[1])
    await standin.wait_for_identify(SHARD_COUNT + 2, within=60)
    assert standin.gateway.refusals == []
    for guild in (g for g in cluster.guilds if cluster.shard_of(g) in (2, 3)):
        result = await standin.slash(guild, cluster.members[guild.id], "define", term="BCG", within=15)
        answer = await result.answer()
        if guild is home:  # the restarted process serves the hide it made before it was killed
            assert answer.ephemeral
            assert "No entry is named “BCG”" in answer.content  # hidden here: only entries that mention it
        else:
            assert answer.embeds[0]["title"] == "Bacillus Calmette–Guérin"  # hidden in its own guild only
    assert logins < 60
    for running in cluster.processes.values():
        assert "Traceback" not in running.text(), running.text()[-3000:]


STANDALONE_WORLD = """
token: standalone.bot.token
shards: 2
max_concurrency: 1
enforce_identify_limit: true
guilds:
  - {name: Alpha}
  - {name: Beta}
  - {name: Gamma}
  - {name: Delta}
"""


async def test_processes_take_identify_turns_on_a_standalone_standin(tmp_path: Path, postgres_url: str) -> None:
    """`python -m standin` refusing early logins, two bot processes in one bucket: both connect, none refused."""
    world = tmp_path / "world.yaml"
    world.write_text(STANDALONE_WORLD)
    standin_log = tmp_path / "standin.log"
    with standin_log.open("wb") as sink:
        standin = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "standin", "--world", str(world), "--port", "0",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=sink, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    processes: list[BotProcess] = []
    try:
        assert standin.stdout is not None
        line = (await asyncio.wait_for(standin.stdout.readline(), 30)).decode()
        base = line.removeprefix("standin listening on ").strip()
        assert base.startswith("http://127.0.0.1:"), line
        await prepare_databases(postgres_url, tmp_path)
        environment = bot_environment(base + "/api/v10", base.replace("http://", "ws://") + "/gateway",
                                      "standalone.bot.token", postgres_url, tmp_path)  # fmt: skip
        environment["SHARD_COUNT"] = "2"
        processes = [await start_bot_process(environment, tmp_path, shards) for shards in ("0", "1")]
        for running in processes:
            await wait_for_line(running, "Connected as", 60)
        waited = [running for running in processes if "for its IDENTIFY turn" in running.text()]
        assert len(waited) == 1  # the second login waited for the first one's window
        assert [running.text().count("has connected to Gateway") for running in processes] == [1, 1]
    finally:
        for running in processes:
            running.process.send_signal(signal.SIGTERM)
        for running in processes:
            await asyncio.wait_for(running.process.wait(), 30)
        standin.send_signal(signal.SIGINT)
        await asyncio.wait_for(standin.wait(), 30)
    log = standin_log.read_text()
    assert "op 9" not in log, log  # the stand-in refused no IDENTIFY
    for running in processes:
        assert running.process.returncode == 0, running.text()[-3000:]
        assert "Traceback" not in running.text(), running.text()[-3000:]
