"""Benchmark the bot as a cluster: K processes over 8 shards sharing one PostgreSQL, against one stand-in of Discord.

Why: issue 12 runs the bot as several processes on PostgreSQL. This measures, on one machine, what that gives
(answers per second as processes are added) and whether the cluster keeps its promises under a crash (each guild's
concept of the day posted exactly once, edits seen by every process, logins paced, no 429s).

It starts a throwaway PostgreSQL server (bot/db/throwaway.py, the one the tests use), the stand-in of Discord with
--guilds guilds (1,000) on 8 shards, and for each K in --ks (1, 2, 4) K bot processes `python -m bot --shards a-b
--shard-count 8`, the shards split evenly. The stand-in runs in this script's process: the same server as
`python -m standin`, reached by the bots over loopback the same way, but this script plays Discord's users through
the stand-in's in-process injection API (standin/inject.py), which the standalone mode has no outside channel
for. The stand-in and the load driver therefore share one process (one core) here, as in bench/interactions.py.

For each K, fresh processes (logins paced through PostgreSQL) and then:
- throughput: the same /define and autocomplete mix as bench/interactions.py (its `make_plan`), --count of each,
  from --users members in guilds spread over all 8 shards, each user sending the next interaction when the
  previous one was answered (its `fire_per_user`): answers per second, p50/p99 dispatch-to-callback time.
With the largest K, on the same processes, after its throughput run:
- edit propagation: --edits `/concept hide` in guilds on every process, one at a time; for each, the time from
  the moderator's answer until each other process logs "Took in guild …'s glossary change from another process"
  (their logs are read every 5 ms; the log's own timestamps have 1 s resolution). Negative: taken in before
  the moderator saw the answer;
- concept of the day: every guild turns it on with `/daily set` for the same coming minute in its own time zone
  (the IANA zones in a seeded random order, round robin: local times and dates on both sides of UTC's), so all
  posts fall due together; when a third of one process's guilds have their post, that process is killed with
  SIGKILL and started again. Posts the dead process had claimed stay its own for DAILY_CLAIM_LEASE_SECONDS
  (--lease, 20 s; the setting's default is 300 s), then the restarted process looks for each in the channel and
  sends it only if absent. Counted in the channels (what users see): posts made, duplicates, missing, posts
  whose footer names another day than the guild's local date; and in the database.
Over the whole run: IDENTIFY pacing violations (an IDENTIFY the stand-in refused with op 9 for coming within 5 s
of the last one in its max_concurrency bucket, or two accepted ones closer than that) and every 429 the stand-in
answered, per phase (bucket: discord.py should have paced itself from the headers; global: 50 requests/s per bot,
shared by every process, which no process can see the others use).

Usage: python bench/cluster.py [--guilds 1000] [--ks 1,2,4] [--count 1000] [--users 100] [--edits 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, available_timezones

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interactions import Watcher, _percentile, fire_per_user, make_plan, summarise

from bot.cli import load_into_database, shipped_glossary
from bot.config import DatabaseUrl, load_settings
from bot.db import Database
from bot.db.changes import asyncpg_dsn
from bot.db.throwaway import NO_SERVER, PostgresServer, find_bindir
from standin import Guild, Member, StandIn

ROOT = Path(__file__).resolve().parent.parent
SHARD_COUNT = 8
GUILD_ID_BASE = 1 << 20  # guild n gets the id (GUILD_ID_BASE + n) << 22: it is on shard n % 8
IDENTIFY_WINDOW_S = 5.0  # gateway.mdx: one IDENTIFY per max_concurrency bucket per 5 s
LOGIN_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
LOG_POLL_S = 0.005
POST_POLL_S = 0.02
ZONE_SEED = 12
ZONE_AREAS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
TOOK_IN = re.compile(r"Took in guild (\d+)'s \w+ change from another process")
DAILY_FOOTER = re.compile(r"^Concept of the day · (\d{4}-\d{2}-\d{2})")
DAILY_SET_IN_FLIGHT = 50  # /daily set commands in flight at once (moderators do not all type at the same second)
DAILY_TIMEOUT_S = 180.0  # after the due minute (plus the lease): posts still missing then are reported missing
SETTLE_S = 3.0  # after the last post: time for a late duplicate to show up


def layout(k: int) -> list[str]:
    """The shard ranges of K processes: 8 shards split evenly (`0-3`, `4-7` for K=2)."""
    per = SHARD_COUNT // k
    return [f"{i * per}-{(i + 1) * per - 1}" for i in range(k)]


def shard_of(guild_id: int) -> int:
    """gateway.mdx (Sharding): the shard Discord routes a guild to."""
    return (guild_id >> 22) % SHARD_COUNT


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(eq=False)
class BotProcess:
    """One bot process, its log file, and what its log has said so far."""

    shards: str
    log: Path
    process: asyncio.subprocess.Process
    read: int = 0
    partial: str = ""
    ready_at: float | None = None
    took_in: dict[int, float] = field(default_factory=dict)  # guild id -> first seen taking in its change
    tracebacks: int = 0
    reader: BinaryIO | None = None

    @property
    def shard_ids(self) -> range:
        first, _, last = self.shards.partition("-")
        return range(int(first), int(last or first) + 1)

    def poll(self) -> None:
        """Read what the log gained since the last poll and note the lines the benchmark waits for."""
        if self.reader is None:
            self.reader = self.log.open("rb")  # kept open: read from where the last poll stopped
            self.reader.seek(self.read)
        chunk = self.reader.read()
        if not chunk:
            return
        seen = time.perf_counter()
        self.read += len(chunk)
        *lines, self.partial = (self.partial + chunk.decode(errors="replace")).split("\n")
        for line in lines:
            if self.ready_at is None and "Connected as" in line:
                self.ready_at = seen
            elif "Traceback" in line:
                self.tracebacks += 1
            elif matched := TOOK_IN.search(line):
                self.took_in.setdefault(int(matched.group(1)), seen)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid) if self.process.returncode is None else 0.0


class Cluster:
    """The bot processes of one K, started with one environment; their logs are read by one task."""

    def __init__(self, environment: dict[str, str], workdir: Path) -> None:
        self.environment = environment
        self.workdir = workdir
        self.processes: dict[str, BotProcess] = {}
        self.retired: list[BotProcess] = []  # killed ones, for the traceback count
        self._reader: asyncio.Task[None] | None = None

    async def start(self, shards: str) -> BotProcess:
        """Start the process that runs `shards` (again, after a kill), its output appended to its own log."""
        if shards in self.processes:  # restarted: the old one's last lines are read before the new one's
            retired = self.processes.pop(shards)
            retired.poll()
            retired.close()
            self.retired.append(retired)
        log = self.workdir / f"bot-{shards}.log"
        offset = log.stat().st_size if log.exists() else 0  # the new process's lines start here
        environment = {**self.environment, "HEALTH_FILE": str(self.workdir / f"{shards}.health")}
        with log.open("ab") as sink:  # a file, not a pipe: nothing blocks on a full buffer
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--shards", shards, "--shard-count", str(SHARD_COUNT),
                env=environment, cwd=self.workdir, stdout=sink, stderr=sink,
            )  # fmt: skip
        running = BotProcess(shards, log, process, read=offset)
        self.processes[shards] = running
        return running

    def owner(self, guild_id: int) -> BotProcess:
        shard = shard_of(guild_id)
        return next(p for p in self.processes.values() if shard in p.shard_ids)

    async def __aenter__(self) -> Cluster:
        self._reader = asyncio.create_task(self._read_logs(), name="bench-log-reader")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read_logs(self) -> None:
        while True:
            for running in list(self.processes.values()):
                running.poll()
            await asyncio.sleep(LOG_POLL_S)

    async def wait_ready(self, processes: list[BotProcess], within: float = LOGIN_TIMEOUT_S) -> None:
        """Wait until each process logged "Connected as" (all its shards are ready); fail if one ended."""
        deadline = time.perf_counter() + within
        while any(p.ready_at is None for p in processes):
            for running in processes:
                if running.process.returncode is not None:
                    raise RuntimeError(f"bot process {running.shards} ended:\n{running.log.read_text()[-3000:]}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"bot processes not ready within {within:g} s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM every running process and wait for it (SIGKILL after STOP_TIMEOUT_S)."""
        running = [p for p in self.processes.values() if p.process.returncode is None]
        for bot_process in running:
            bot_process.process.send_signal(signal.SIGTERM)
        for bot_process in running:
            try:
                await asyncio.wait_for(bot_process.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                bot_process.process.kill()
                await bot_process.process.wait()
        for bot_process in self.processes.values():
            bot_process.poll()
            bot_process.close()

    @property
    def tracebacks(self) -> int:
        return sum(p.tracebacks for p in (*self.retired, *self.processes.values()))


@dataclass
class World:
    """The stand-in's guilds: owners act as moderators, students send the lookups."""

    guilds: list[Guild]
    owners: dict[int, Member]
    students: list[Member]


def build_world(standin: StandIn, guilds: int, users: int) -> World:
    """`guilds` guilds over all 8 shards (guild n on shard n % 8), one student in each of the first `users`."""
    made = [
        standin.add_guild(f"Study group {n}", guild_id=(GUILD_ID_BASE + n) << 22, channels=("general",))
        for n in range(guilds)
    ]
    owners = {guild.id: guild.members[guild.owner_id] for guild in made}
    students = [standin.add_member(made[i % guilds], f"student{i:04d}") for i in range(users)]
    return World(made, owners, students)


def rate_limited(standin: StandIn, since: int) -> dict[str, int]:
    """429s the stand-in answered from request `since` on: per bucket (discord.py should pace these) and global."""
    requests = standin.requests[since:]
    bucket = sum(1 for r in requests if r.rate_limited)
    global_ = sum(1 for r in requests if r.global_limited)
    return {"bucket": bucket, "global": global_, "total": bucket + global_}


def identify_figures(standin: StandIn, max_concurrency: int) -> dict[str, int]:
    """IDENTIFYs accepted, and pacing violations: refused with op 9, or two in one bucket within 5 s."""
    by_bucket: dict[int, list[float]] = {}
    for record in standin.identifies:
        by_bucket.setdefault(record.data["shard"][0] % max_concurrency, []).append(record.at)
    too_close = sum(
        1 for times in by_bucket.values() for a, b in itertools.pairwise(sorted(times)) if b - a < IDENTIFY_WINDOW_S
    )
    refused = sum(1 for reason in standin.gateway.refusals if "op 9" in reason)
    return {"identifies": len(standin.identifies), "refused_op9": refused, "violations": refused + too_close}


# -- throughput ---------------------------------------------------------------------------------------------------
async def measure_throughput(standin: StandIn, cluster: Cluster, world: World, count: int) -> dict[str, Any]:
    """The interactions benchmark's per-user run, through K processes; with their CPU time over the run."""
    for shard in range(SHARD_COUNT):  # warm-up, not counted: one lookup per shard
        guild = world.guilds[shard % len(world.guilds)]
        await standin.slash(guild, world.owners[guild.id], "define", term="BCG", within=15)
    plan = make_plan(count, len(world.students))
    requests_before = len(standin.requests)
    cpu_before = {p.shards: p.cpu() for p in cluster.processes.values()}
    own_before = time.process_time()
    async with Watcher(standin) as watcher:
        started = time.perf_counter()
        fired = await fire_per_user(standin, world.students, plan, watcher)
    answered_at = [f.result.response.at for f in fired if f.result.response is not None]
    finished = max(answered_at) if answered_at else time.perf_counter()
    wall = finished - started
    cpu_bots = {p.shards: round(p.cpu() - cpu_before[p.shards], 2) for p in cluster.processes.values()}
    latencies = sorted(f.result.latency for f in fired if f.result.latency is not None)
    define, autocomplete = (summarise([f for f in fired if f.kind == kind]) for kind in ("define", "autocomplete"))
    return {
        "processes": len(cluster.processes),
        "sent": len(fired),
        "answered": define["answered"] + autocomplete["answered"],
        "lost": define["lost"] + autocomplete["lost"],
        "late": define["late"] + autocomplete["late"],
        "rejected": define["rejected"] + autocomplete["rejected"],
        "error_replies": define["error_replies"] + autocomplete["error_replies"],
        "throughput_per_s": round(len(answered_at) / wall, 1) if wall > 0 else None,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "wall_s": round(wall, 3),
        "cpu_s": {"bots": cpu_bots, "standin_and_driver": round(time.process_time() - own_before, 2)},
        # what a core buys, whatever else the machine runs: answers per CPU second of all bot processes together
        "answers_per_bot_cpu_s": round(len(answered_at) / max(sum(cpu_bots.values()), 0.01), 1),
        "define": define,
        "autocomplete": autocomplete,
        "rate_limited_429": rate_limited(standin, requests_before),
    }


# -- edit propagation ---------------------------------------------------------------------------------------------
async def measure_propagation(standin: StandIn, cluster: Cluster, world: World, edits: int) -> dict[str, Any]:
    """Hide one entry per guild through its own process; time until every other process took the change in."""
    if len(cluster.processes) < 2 or edits < 1:
        return {"edits": 0, "samples": 0, "note": "needs at least two processes"}
    names = sorted(concept.name for concept in shipped_glossary().concepts.values())
    samples: list[float] = []
    unseen = 0
    for n in range(edits):
        guild = world.guilds[n % len(world.guilds)]
        term = names[(n * 7) % len(names)]
        result = await standin.slash(guild, world.owners[guild.id], "concept hide", term=term,
                                     reason="not taught here", within=15)  # fmt: skip
        answer = await result.answer(within=15)
        answered = time.perf_counter()
        if "now hidden" not in (getattr(answer, "content", "") or ""):
            raise RuntimeError(f"/concept hide {term!r} was not confirmed: {answer!r}")
        others = [p for p in cluster.processes.values() if p is not cluster.owner(guild.id)]
        deadline = answered + 10.0
        while any(guild.id not in p.took_in for p in others) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(LOG_POLL_S)  # the logs are read by polling too
        for other in others:
            if guild.id in other.took_in:
                samples.append(other.took_in[guild.id] - answered)
            else:
                unseen += 1
    ordered = sorted(samples)
    return {
        "edits": edits,
        "samples": len(samples),
        "not_taken_in_within_10s": unseen,
        "over_1s": sum(1 for s in samples if s > 1.0),
        "min_ms": round(ordered[0] * 1000, 1) if ordered else None,
        "p50_ms": round(_percentile(ordered, 0.50) * 1000, 1) if ordered else None,
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 1) if ordered else None,
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
    }


# -- concept of the day -------------------------------------------------------------------------------------------
def footer_text(embed: dict[str, Any]) -> str:
    return (embed.get("footer") or {}).get("text") or ""


class PostCounter:
    """The concept-of-the-day posts in the stand-in's channels, per guild, read incrementally."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.scanned = 0
        self.per_guild: Counter[int] = Counter()
        self.dates: dict[int, set[str]] = {}  # guild id -> the local dates its posts are for (footer)

    def scan(self) -> None:
        messages = list(self.standin.world.messages.values())
        bot_id = self.standin.bot_user.id
        for message in messages[self.scanned :]:
            if message.author.id != bot_id or message.guild_id is None:
                continue
            for embed in message.embeds:
                footer = DAILY_FOOTER.match(footer_text(embed))
                if footer:
                    self.per_guild[message.guild_id] += 1
                    self.dates.setdefault(message.guild_id, set()).add(footer.group(1))
                    break
        self.scanned = len(messages)

    def deleted(self) -> int:
        """Daily posts deleted since (none expected: the bot never deletes them)."""
        return sum(
            1
            for message in self.standin.world.messages.values()
            if message.deleted and any(DAILY_FOOTER.match(footer_text(e)) for e in message.embeds)
        )


def zones() -> list[str]:
    """Every IANA zone of the world's regions (UTC-11 to UTC+14), in a seeded random order: any number of guilds
    gets offsets from all over, local dates on both sides of UTC's among them."""
    names = sorted(zone for zone in available_timezones() if zone.split("/")[0] in ZONE_AREAS)
    random.Random(ZONE_SEED).shuffle(names)
    return names


async def count_posted(dsn: str, guild_ids: list[int] | None = None) -> dict[str, int]:
    """daily_posts rows by status, as the bots recorded them (for `guild_ids` only when given)."""
    connection = await asyncpg.connect(dsn)
    try:
        if guild_ids is None:
            rows = await connection.fetch("SELECT status, count(*) FROM daily_posts GROUP BY status")
        else:
            rows = await connection.fetch(
                "SELECT status, count(*) FROM daily_posts WHERE guild_id = ANY($1::bigint[]) GROUP BY status",
                guild_ids,
            )
        return {str(row[0]): int(row[1]) for row in rows}
    finally:
        await connection.close()


async def measure_daily(standin: StandIn, cluster: Cluster, world: World, dsn: str, lease: float) -> dict[str, Any]:
    """Every guild's post due in the same minute; one process killed with SIGKILL a third of the way through its
    guilds and restarted; then count what the channels show."""
    requests_before = len(standin.requests)
    all_zones = zones()
    lead = 15.0 + 0.05 * len(world.guilds)  # for the /daily set commands to be answered (~30 s for 1,000 under load)
    now = datetime.now(UTC)
    due = (now + timedelta(seconds=lead)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = asyncio.Semaphore(DAILY_SET_IN_FLIGHT)
    expected_date: dict[int, str] = {}  # guild id -> its local date at the due minute

    async def turn_on(n: int, guild: Guild) -> bool:
        zone = all_zones[n % len(all_zones)]
        local = due.astimezone(ZoneInfo(zone))
        expected_date[guild.id] = local.date().isoformat()
        async with limit:
            result = await standin.slash(guild, world.owners[guild.id], "daily set", channel=guild.default_channel,
                                         time=local.strftime("%H:%M"), timezone=zone, within=30)  # fmt: skip
            answer = await result.answer(within=30)
        return any(e.get("title") == "Concept of the day is on" for e in (getattr(answer, "embeds", None) or []))

    set_started = time.perf_counter()
    confirmed = await asyncio.gather(*(turn_on(n, guild) for n, guild in enumerate(world.guilds)))
    set_seconds = time.perf_counter() - set_started
    if datetime.now(UTC) >= due:
        raise RuntimeError(f"the /daily set commands took {set_seconds:.1f} s, past the minute they were due in")

    victim = cluster.processes[layout(len(cluster.processes))[1 if len(cluster.processes) > 1 else 0]]
    victim_guilds = [g.id for g in world.guilds if shard_of(g.id) in victim.shard_ids]
    threshold = max(1, len(victim_guilds) // 3)
    counter = PostCounter(standin)
    counter.scan()
    before = sum(counter.per_guild.values())
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    due_at = time.perf_counter()
    deadline = due_at + DAILY_TIMEOUT_S
    while sum(counter.per_guild[g] > 0 for g in victim_guilds) < threshold and time.perf_counter() < deadline:
        await asyncio.sleep(POST_POLL_S)
        counter.scan()
    victim.process.kill()  # kill -9, mid-run: some of its guilds posted, some being sent, the rest still due
    await victim.process.wait()
    killed_at = time.perf_counter()
    counter.scan()
    posted_at_kill = sum(counter.per_guild[g] > 0 for g in victim_guilds)
    rows_at_kill = await count_posted(dsn, victim_guilds)
    restarted = await cluster.start(victim.shards)
    await cluster.wait_ready([restarted])
    restart_ready_s = (restarted.ready_at or time.perf_counter()) - killed_at

    deadline = time.perf_counter() + lease + DAILY_TIMEOUT_S
    last_post_at, all_recorded_at = due_at, None
    while time.perf_counter() < deadline:
        seen = len(counter.per_guild)
        counter.scan()
        if len(counter.per_guild) > seen:
            last_post_at = time.perf_counter()
        if len(counter.per_guild) >= len(world.guilds):
            recorded = await count_posted(dsn)
            if recorded.get("posted", 0) >= len(world.guilds):
                all_recorded_at = time.perf_counter()  # the taken-over claims included: after the lease
                break
        await asyncio.sleep(0.1)
    await asyncio.sleep(SETTLE_S)  # a late duplicate would show up now
    counter.scan()
    recorded = await count_posted(dsn)
    guild_ids = [g.id for g in world.guilds]
    return {
        "guilds": len(world.guilds),
        "confirmed_on": sum(confirmed),
        "zones": len({all_zones[n % len(all_zones)] for n in range(len(world.guilds))}),
        "local_dates": dict(sorted(Counter(expected_date.values()).items())),
        "set_commands_s": round(set_seconds, 2),
        "posts_made": sum(counter.per_guild[g] for g in guild_ids) - before,
        "duplicates": sum(max(0, counter.per_guild[g] - 1) for g in guild_ids),
        "missing": sum(1 for g in guild_ids if counter.per_guild[g] == 0),
        "wrong_local_date": sum(1 for g in guild_ids if counter.dates.get(g, {expected_date[g]}) != {expected_date[g]}),
        "deleted_posts": counter.deleted(),
        "recorded": recorded,
        "last_post_after_due_s": round(last_post_at - due_at, 2),
        "all_recorded_after_due_s": None if all_recorded_at is None else round(all_recorded_at - due_at, 2),
        "killed": {
            "shards": victim.shards,
            "guilds": len(victim_guilds),
            "after_due_s": round(killed_at - due_at, 2),
            "posted_when_killed": posted_at_kill,
            "rows_when_killed": rows_at_kill,  # "pending": claimed, maybe sent, not recorded (the lease's case)
            "restart_ready_s": round(restart_ready_s, 2),
            "lease_s": lease,
        },
        "rate_limited_429": rate_limited(standin, requests_before),
    }


# -- the run ------------------------------------------------------------------------------------------------------
def start_postgres() -> PostgresServer:
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit(NO_SERVER)
    server = PostgresServer(bindir, Path(tempfile.mkdtemp(prefix="immunobot-bench-pg-")))
    try:
        server.start()
    except (RuntimeError, OSError, KeyError) as error:
        server.stop()
        raise SystemExit(f"The benchmark's PostgreSQL server (from {bindir}) did not start: {error}") from None
    return server


def bot_environment(standin: StandIn, database_url: str, lease: float) -> dict[str, str]:
    """What every bot process is given: this stand-in, this database, INFO logs (the benchmark reads them)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD", "SHARD", "DATABASE", "DAILY"))}
    environment.update({
        "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": standin.token, "DISCORD_API_BASE": standin.api_base,
        "DISCORD_GATEWAY_URL": standin.gateway_url, "DATABASE_URL": database_url, "LOG_LEVEL": "INFO",
        "DAILY_CLAIM_LEASE_SECONDS": str(lease),
    })  # fmt: skip
    return environment


async def run(options: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]  # other jobs on the machine take cores from this run: said with the figures
    server = start_postgres()
    try:
        database_url = server.new_database()
        async with await Database.open(database_url):  # the schema, once (every process would migrate under a lock)
            pass
        await load_into_database(load_settings(database_url=database_url))  # the shipped data, as `load` would
        dsn = asyncpg_dsn(DatabaseUrl.parse(database_url))
        with tempfile.TemporaryDirectory(prefix="immunobot-bench-cluster-") as directory:
            workdir = Path(directory)
            standin = StandIn(shards=SHARD_COUNT, max_concurrency=options.max_concurrency, enforce_identify_limit=True)
            if not options.validate:
                standin.spec = None  # see --validate: ~7 ms of the stand-in's CPU per request, not Discord's cost
            async with standin:
                world = build_world(standin, options.guilds, options.users)
                environment = bot_environment(standin, database_url, options.lease)
                throughput: dict[str, Any] = {}
                propagation: dict[str, Any] | None = None
                daily: dict[str, Any] | None = None
                tracebacks = 0
                for k in options.ks:
                    async with Cluster(environment, workdir / f"k{k}") as cluster:
                        cluster.workdir.mkdir()
                        login_started = time.perf_counter()
                        processes = [await cluster.start(shards) for shards in layout(k)]
                        await cluster.wait_ready(processes)
                        await standin.changes.wait_for(lambda: standin.commands(), 60, "the command sync")
                        login = time.perf_counter() - login_started
                        say(f"K={k}: {k} process(es) ready in {login:.1f} s; measuring throughput", options)
                        figures = await measure_throughput(standin, cluster, world, options.count)
                        throughput[str(k)] = {"login_s": round(login, 1), **figures}
                        if k == max(options.ks):
                            say(f"K={k}: edit propagation", options)
                            propagation = await measure_propagation(standin, cluster, world, options.edits)
                            say(f"K={k}: concept of the day over {options.guilds} guilds (waits for a due minute)",
                                options)  # fmt: skip
                            daily = await measure_daily(standin, cluster, world, dsn, options.lease)
                    tracebacks += cluster.tracebacks
                identify = identify_figures(standin, options.max_concurrency)
                total_429 = rate_limited(standin, 0)
    finally:
        server.stop()
    ratio = None
    if "1" in throughput and "2" in throughput and throughput["1"]["throughput_per_s"]:
        ratio = round(throughput["2"]["throughput_per_s"] / throughput["1"]["throughput_per_s"], 2)
    return {
        "benchmark": "cluster",
        "guilds": options.guilds,
        "shards": SHARD_COUNT,
        "max_concurrency": options.max_concurrency,
        "ks": options.ks,
        "count": options.count,
        "users": options.users,
        "cpus": os.cpu_count(),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # at start and end
        "throughput": throughput,
        "throughput_ratio_k2_k1": ratio,
        "edit_propagation": propagation,
        "daily": daily,
        "identify": identify,
        "rate_limited_429": total_429,
        "unexpected_429": total_429["total"],  # every 429 is one the bots should have avoided (none are injected)
        "tracebacks": tracebacks,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def say(text: str, options: argparse.Namespace) -> None:
    """Progress on stderr (the figures go to stdout)."""
    if not options.quiet:
        print(text, file=sys.stderr, flush=True)


def report(figures: dict[str, Any]) -> None:
    """Print the figures as human-readable lines."""
    print(
        f"{figures['guilds']} guilds on {figures['shards']} shards (max_concurrency {figures['max_concurrency']}), "
        f"{figures['cpus']} CPU(s) (load average {figures['load_average_1min'][0]} at start, "
        f"{figures['load_average_1min'][1]} at end); {figures['count']} /define + {figures['count']} autocomplete from "
        f"{figures['users']} users, one in flight each"
    )
    for k, t in figures["throughput"].items():
        bots = ", ".join(f"{cpu:.1f}" for cpu in t["cpu_s"]["bots"].values())
        print(
            f"  K={k}: {t['throughput_per_s']} answers/s, p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms "
            f"({t['answered']}/{t['sent']} answered, late {t['late']}, lost {t['lost']}; login {t['login_s']} s; "
            f"CPU s bots [{bots}], stand-in+driver {t['cpu_s']['standin_and_driver']:.1f} over {t['wall_s']:.1f} s; "
            f"{t['answers_per_bot_cpu_s']} answers per bot CPU second)"
        )
    if figures["throughput_ratio_k2_k1"] is not None:
        print(f"  throughput K=2 / K=1: {figures['throughput_ratio_k2_k1']}")
    p = figures["edit_propagation"]
    if p and p.get("samples"):
        print(
            f"edit propagation ({p['edits']} edits, {p['samples']} process pairs): p50 {p['p50_ms']} ms, "
            f"p99 {p['p99_ms']} ms, max {p['max_ms']} ms, over 1 s {p['over_1s']}, "
            f"not taken in {p['not_taken_in_within_10s']}"
        )
    d = figures["daily"]
    if d:
        kill = d["killed"]
        print(
            f"concept of the day: {d['guilds']} guilds in {d['zones']} zones (local dates {d['local_dates']}): "
            f"posts {d['posts_made']}, duplicates {d['duplicates']}, missing {d['missing']}, for another local date "
            f"{d['wrong_local_date']}, recorded {d['recorded']}"
        )
        print(
            f"  process {kill['shards']} killed -9 {kill['after_due_s']} s after the due minute with "
            f"{kill['posted_when_killed']}/{kill['guilds']} of its guilds posted (rows {kill['rows_when_killed']}), "
            f"ready again {kill['restart_ready_s']} s later; lease {kill['lease_s']:g} s; last post "
            f"{d['last_post_after_due_s']} s, all recorded as posted {d['all_recorded_after_due_s']} s after the "
            f"due minute; 429s {d['rate_limited_429']}"
        )
    i = figures["identify"]
    print(f"IDENTIFY: {i['identifies']} accepted, pacing violations {i['violations']} (op 9 {i['refused_op9']})")
    r = figures["rate_limited_429"]
    print(f"429s answered by the stand-in: {r['total']} (bucket {r['bucket']}, global {r['global']}); "
          f"tracebacks in bot logs: {figures['tracebacks']}; wall {figures['wall_s']} s")  # fmt: skip


def parse_ks(text: str) -> list[int]:
    ks = sorted({int(part) for part in text.split(",") if part.strip()})
    if not ks or any(k < 1 or SHARD_COUNT % k for k in ks):
        raise argparse.ArgumentTypeError(f"each K must divide {SHARD_COUNT} (1, 2, 4 or 8)")
    return ks


def main() -> None:
    """Parse options, run once, print lines (and one JSON object last with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=1000, help="guilds in the stand-in, over 8 shards")
    parser.add_argument("--ks", type=parse_ks, default=[1, 2, 4], help="process counts to run, e.g. 1,2,4")
    parser.add_argument("--count", type=int, default=1000, help="/define interactions per K, and as many autocompletes")
    parser.add_argument("--users", type=int, default=100, help="members sending them, one per guild")
    parser.add_argument("--edits", type=int, default=20, help="edits whose propagation is timed")
    parser.add_argument(
        "--max-concurrency", type=int, default=1, help="IDENTIFY buckets (Discord: 1 below 150k guilds)"
    )
    parser.add_argument("--lease", type=float, default=20.0, help="DAILY_CLAIM_LEASE_SECONDS for the bots")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="let the stand-in check every request and response against Discord's OpenAPI spec, as in the tests "
        "(off by default: jsonschema takes ~7 ms of the stand-in's one core per request, which Discord does not)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    options = parser.parse_args()
    if options.guilds < SHARD_COUNT or not 1 <= options.users <= options.guilds or options.count < 1:
        parser.error(f"--guilds must be at least {SHARD_COUNT}, --users between 1 and --guilds, --count at least 1")
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    figures = asyncio.run(run(options))
    report(figures)
    if options.json:
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
