"""Three bot processes with two shards each, one stand-in, one PostgreSQL: the cluster as a host runs it.

Each process is started as a host starts it, `python -m bot --shards 2-3` with `SHARD_COUNT` and a
`postgresql://` DATABASE_URL in its environment: a real OS process (its own interpreter, gateway sessions and
caches) that keeps all its data in the one PostgreSQL database. Nothing is prepared for them: the database is
empty, and the first processes create the schema (one at a time, under an advisory lock) and load the shipped
glossary themselves, as the compose file's three bot containers do on their first start. The stand-in runs in
the test's process so the test can act as Discord's users (slash commands) and hold a request mid-flight; the
bots cannot tell it from `python -m standin`, which serves the same server.

The bots share one clock, set by TEST_CLOCK to a chosen morning and sped up 60 times: a minute of the concept of
the day's schedule, and of the 5-minute lease on a claimed post, passes in a second (the event loop, discord.py
and PostgreSQL keep real time, so logins are paced for real).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.loader import load_glossary
from bot.store import Store
from cogs.daily import marker
from standin import Guild, Member, StandIn
from standin.state import Message

ROOT = Path(__file__).resolve().parents[2]
SHARD_COUNT = 6
LAYOUT = ("0-1", "2-3", "4-5")
SPEED = 60
"""The bots' clock runs this many times faster than real time: a minute of their time per second."""
MORNING = datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
"""What the bots' clock reads when the test starts: between 10:00 and 11:00 UTC Kiritimati (UTC+14) is already
on the 24th and Pago Pago (UTC-11) still on the 22nd, so local days differ from the UTC day both ways."""
ZONES = (
    "Pacific/Auckland", "Pacific/Honolulu", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London",
    "Pacific/Chatham", "America/Los_Angeles", "Asia/Tokyo", "America/St_Johns", "Asia/Kolkata",
    "Australia/Sydney", "America/New_York",
)  # fmt: skip
"""The time zone of guild G<n>; G0, G1, G6 and G7 are on shards 2 and 3 (the process killed below)."""


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
    database_url: str
    guilds: list[Guild]
    members: dict[int, Member]
    moderators: dict[int, Member]
    environment: dict[str, str]
    tmp_path: Path
    clock_started_at: float
    store: Store | None = None  # the test's own connection, to look at what the bots recorded
    processes: dict[str, BotProcess] = field(default_factory=dict)
    everyone: list[BotProcess] = field(default_factory=list)  # every process started, the killed one included

    async def start(self, shards: str, name: str | None = None) -> BotProcess:
        """Start a process that runs `shards`, as a host does: `python -m bot --shards …`."""
        name = name or shards
        running = await start_bot_process(self.environment, self.tmp_path, shards, name)
        self.processes[name] = running
        self.everyone.append(running)
        return running

    async def open_store(self) -> Store:
        """Open the test's connection to the cluster's database (closed by the fixture)."""
        self.store = await Store.open(self.database_url)
        return self.store

    def now(self) -> datetime:
        """What the bots' clock reads now (the same TEST_CLOCK they were given)."""
        return MORNING + timedelta(seconds=(time.time() - self.clock_started_at) * SPEED)

    def shard_of(self, guild: Guild) -> int:
        return (guild.id >> 22) % SHARD_COUNT


def bot_environment(api_base: str, gateway_url: str, token: str, postgres_url: str, clock: str) -> dict[str, str]:
    """What every process of the cluster is given: the same Discord, database, shard count and clock."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD", "SHARD", "DATABASE", "HEALTH", "TEST_CLOCK"))
    }
    environment.update({
        "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": token, "DISCORD_API_BASE": api_base,
        "DISCORD_GATEWAY_URL": gateway_url, "DATABASE_URL": postgres_url, "SHARD_COUNT": str(SHARD_COUNT),
        "TEST_CLOCK": clock, "LOG_LEVEL": "INFO",
    })  # fmt: skip
    return environment


async def start_bot_process(environment: dict[str, str], tmp_path: Path, shards: str, name: str) -> BotProcess:
    """Start `python -m bot --shards <shards>`, its output in a log file of its own."""
    log = tmp_path / f"bot-{name}.log"
    environment = {**environment, "HEALTH_FILE": str(tmp_path / f"{name}.health")}
    with log.open("ab") as sink:  # a file, not a pipe: nothing can block on a full buffer
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--shards", shards, env=environment, cwd=tmp_path, stdout=sink, stderr=sink
        )
    return BotProcess(shards, log, process)


async def stop_processes(processes: list[BotProcess]) -> None:
    for running in processes:
        if running.process.returncode is None:
            running.process.send_signal(signal.SIGTERM)
    for running in processes:
        await asyncio.wait_for(running.process.wait(), 30)


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    standin = StandIn(shards=SHARD_COUNT, max_concurrency=3, enforce_identify_limit=True)
    clock_started_at = time.time()
    clock = f"{MORNING.isoformat()}@{clock_started_at:.6f}x{SPEED}"
    async with standin:
        guilds = [
            standin.add_guild(f"G{n}", guild_id=(2000 + n) << 22, channels=("general", "daily"))
            for n in range(2 * SHARD_COUNT)
        ]
        members = {guild.id: standin.add_member(guild, "alice") for guild in guilds}
        moderators = {guild.id: standin.add_member(guild, "mod", permissions=0x20) for guild in guilds}
        environment = bot_environment(standin.api_base, standin.gateway_url, standin.token, postgres_url, clock)
        cluster = Cluster(standin, postgres_url, guilds, members, moderators, environment, tmp_path, clock_started_at)
        try:
            yield cluster
        finally:
            for hold in standin.holds:
                hold.drop()  # a failed test must not leave a process waiting on Discord
            await stop_processes(cluster.everyone)
            if cluster.store is not None:
                await cluster.store.close()


async def wait_for_line(process: BotProcess, text: str, within: float) -> float:
    """Wait until the process logged a line containing `text`; return when it was seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while text not in process.text():
        assert process.process.returncode is None, process.text()[-3000:]
        assert loop.time() < deadline, f"{process.shards} never logged {text!r}:\n{process.text()[-3000:]}"
        await asyncio.sleep(0.01)
    return time.perf_counter()


async def wait_until(read: Callable[[], Awaitable[object]], wanted: object, within: float, what: str) -> None:
    """Wait until `read()` (a query of the bots' database) returns `wanted`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (value := await read()) != wanted:
        assert loop.time() < deadline, f"timed out waiting for {what} (last read {value!r})"
        await asyncio.sleep(0.01)


async def scalar(store: Store, query: str) -> object:
    """The one value `query` reads from the bots' database."""
    return (await store.fetch_all(query))[0][0]


def daily_posts(standin: StandIn, guild: Guild) -> list[Message]:
    """The bot's messages in the guild's daily channel (nothing else is posted there)."""
    return [message for message in standin.channel_messages(guild.channel("daily")) if not message.deleted]


async def set_daily(cluster: Cluster, guild: Guild, moment: datetime) -> date:
    """A moderator turns the concept of the day on at `moment`'s local time; return the local day it posts for."""
    zone = ZoneInfo(ZONES[cluster.guilds.index(guild)])
    local = moment.astimezone(zone)
    result = await cluster.standin.slash(
        guild, cluster.moderators[guild.id], "daily set", channel=guild.channel("daily"),
        time=local.strftime("%H:%M"), timezone=zone.key, within=15,
    )  # fmt: skip
    answer = await result.answer(15)
    assert answer.embeds[0]["title"] == "Concept of the day is on", answer
    return local.date()


async def test_three_processes_with_two_shards_each(cluster: Cluster) -> None:
    """Logins paced across processes, every guild answered by its own process, the concept of the day posted once
    per guild and local day although a process is killed with claims pending, a quiz of a surviving process left
    running by a process that starts up, and an edit made through one process enforced by another."""
    standin = cluster.standin
    started = time.perf_counter()
    await asyncio.gather(*(cluster.start(shards) for shards in LAYOUT))  # an empty database: they set it up
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
    store = await cluster.open_store()  # only now: the bots created the schema and loaded the glossary
    assert await scalar(store, "SELECT count(*) FROM shipped_concepts") == len(load_glossary().concepts)

    for guild in cluster.guilds:  # every guild answered, each by the one process that runs its shard
        result = await standin.slash(guild, cluster.members[guild.id], "define", term="immunoterapy", within=15)
        assert result.response.embeds[0]["title"] == "Immunotherapy"

    g = dict(enumerate(cluster.guilds))
    home, victim_shards = g[0], LAYOUT[1]
    assert [cluster.shard_of(g[n]) for n in (0, 1, 6, 7)] == [2, 3, 2, 3]  # the killed process's guilds

    # A quiz runs in a guild of a surviving process (G2, shard 4) while another process starts up.
    quiz_guild = g[2]
    quiz = await standin.slash(quiz_guild, cluster.members[quiz_guild.id], "quiz start", questions=20, timeout=120,
                               within=15)  # fmt: skip
    assert not (await quiz.answer(15)).ephemeral
    running = "SELECT status FROM quiz_sessions"
    assert await store.fetch_all(running) == [("running",)]

    # The process that will take over shards 2-3 starts now, before the edit below: Discord (the stand-in) holds
    # its first login request, so it sits set up (database, glossary views, change feed) but not connected.
    login = standin.hold_next("GET", "/gateway/bot")
    successor = await cluster.start(victim_shards, "successor")
    await asyncio.wait_for(login.reached.wait(), 60)
    assert await store.fetch_all(running) == [("running",)]  # its start-up ended no quiz of shards 4-5
    assert await scalar(store, "SELECT count(*) FROM quiz_rounds WHERE close_reason = 'restart'") == 0
    stopped = await standin.slash(quiz_guild, cluster.members[quiz_guild.id], "quiz stop", within=15)
    assert not (await stopped.answer(15)).ephemeral
    assert await store.fetch_all(running) == [("stopped",)]  # ran on in its process until stopped there

    # Concept of the day for every guild: three of the doomed process's guilds are due first, its fourth later.
    held = {n: standin.hold_next("POST", f"/channels/{g[n].channel('daily').id}/messages") for n in (6, 7)}
    first_posts = cluster.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    later = first_posts + timedelta(minutes=7)  # after the kill and the takeover (else caught up at once)
    due = {0: later, 4: later} | {n: first_posts + timedelta(minutes=n % 4) for n in (2, 3, 5, 8, 9, 10, 11)}
    due |= dict.fromkeys((1, 6, 7), first_posts)
    days = dict(zip(due, await asyncio.gather(*(set_daily(cluster, g[n], due[n]) for n in due)), strict=True))
    assert cluster.now() < first_posts, "configuring the schedules took longer than planned"
    assert days[3] < due[3].date(), "the bots started too late: Pago Pago's day is no longer UTC's day before"
    assert days[2] > due[2].date(), "the bots started too late: Kiritimati's day is no longer UTC's day after"

    # An edit through one process is taken in by the others, the successor included, within 1 s.
    hidden = await standin.slash(home, cluster.moderators[home.id], "concept hide", term="BCG", reason="not taught",
                                 within=15)  # fmt: skip
    assert "now hidden" in (await hidden.answer()).content
    answered = time.perf_counter()
    expected = f"Took in guild {home.id}'s glossary change from another process"
    for name, process in cluster.processes.items():
        if name != victim_shards:
            assert await wait_for_line(process, expected, 10) - answered < 1.0
    assert expected not in cluster.processes[victim_shards].text()  # its own change is not applied twice

    # kill -9 mid-day: G1 posted, G6 and G7 claimed and being sent (held by Discord), G0 not due yet.
    sent = f"SELECT status FROM daily_posts WHERE guild_id = {g[1].id}"
    await wait_until(lambda: store.fetch_all(sent), [("posted",)], 30, "G1's concept of the day recorded as sent")
    assert len(daily_posts(standin, g[1])) == 1
    await asyncio.wait_for(asyncio.gather(*(hold.reached.wait() for hold in held.values())), 30)
    assert cluster.now() < later
    assert not daily_posts(standin, home)
    victim = cluster.processes.pop(victim_shards)
    victim.process.kill()
    await victim.process.wait()
    sessions = standin.gateway.by_shard
    await standin.changes.wait_for(
        lambda: all(sessions[shard].conn is None for shard in (2, 3)), 30, "the killed process's connections to drop"
    )
    held[6].release()  # Discord had taken G6's post: it appears, but the killed process never learnt so
    held[7].drop()  # G7's never arrived
    await standin.changes.wait_for(lambda: all(hold.request.status for hold in held.values()), 10, "the held posts")
    assert (len(daily_posts(standin, g[6])), len(daily_posts(standin, g[7]))) == (1, 0)
    pending = "SELECT guild_id FROM daily_posts WHERE status = 'pending' ORDER BY guild_id"
    assert await store.fetch_all(pending) == [(g[6].id,), (g[7].id,)]  # claims left by the killed process

    # The successor logs in: it takes over the killed process's shards, paced, and its claims once their lease ran.
    login.release()
    await standin.wait_for_identify(SHARD_COUNT + 2, within=60)
    assert standin.gateway.refusals == []
    await standin.changes.wait_for(lambda: all(daily_posts(standin, guild) for guild in cluster.guilds), 60,
                                   "every guild's concept of the day")  # fmt: skip
    posted = "SELECT count(*) FROM daily_posts WHERE status = 'posted'"
    await wait_until(lambda: scalar(store, posted), len(cluster.guilds), 30, "every post recorded as sent")
    rows = await store.fetch_all("SELECT guild_id, local_date, status, message_id FROM daily_posts")
    recorded = {int(row[0]): (str(row[1]), str(row[2]), row[3]) for row in rows}

    # The successor serves G0's hide, which it only heard of through the change feed (it loaded G0's glossary
    # before the edit and has not read it since); the hide is G0's only.
    assert expected in successor.text()
    for guild in (guild for guild in cluster.guilds if cluster.shard_of(guild) in (2, 3)):
        result = await standin.slash(guild, cluster.members[guild.id], "define", term="BCG", within=15)
        answer = await result.answer()
        if guild is home:
            assert answer.ephemeral
            assert "No entry is named “BCG”" in answer.content  # hidden here: only entries that mention it
        else:
            assert answer.embeds[0]["title"] == "Bacillus Calmette–Guérin"

    # Every guild posted exactly once, for its own local day, and the database recorded that very message.
    for n, guild in enumerate(cluster.guilds):
        messages = daily_posts(standin, guild)
        assert len(messages) == 1, (n, [message.embeds for message in messages])
        footer = messages[0].embeds[0]["footer"]["text"]
        assert footer.startswith(marker(days[n])), (n, footer, days[n])
        assert recorded[guild.id] == (days[n].isoformat(), "posted", messages[0].id), n
    assert logins < 60
    for process in cluster.processes.values():
        assert "Traceback" not in process.text(), process.text()[-3000:]


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
        environment = bot_environment(base + "/api/v10", base.replace("http://", "ws://") + "/gateway",
                                      "standalone.bot.token", postgres_url, "")  # fmt: skip
        environment["SHARD_COUNT"] = "2"
        processes = [await start_bot_process(environment, tmp_path, shards, shards) for shards in ("0", "1")]
        for running in processes:
            await wait_for_line(running, "Connected as", 60)
        waited = [running for running in processes if "for its IDENTIFY turn" in running.text()]
        assert len(waited) == 1  # the second login waited for the first one's window
        assert [running.text().count("has connected to Gateway") for running in processes] == [1, 1]
    finally:
        await stop_processes(processes)
        standin.send_signal(signal.SIGINT)
        await asyncio.wait_for(standin.wait(), 30)
    log = standin_log.read_text()
    assert "op 9" not in log, log  # the stand-in refused no IDENTIFY
    for running in processes:
        assert running.process.returncode == 0, running.text()[-3000:]
        assert "Traceback" not in running.text(), running.text()[-3000:]
