"""Several bot processes on one Discord (the stand-in): shards, IDENTIFY pacing, command sync, changes seen by all.

Each "process" here is a separate ImmunoBot (its own client, gateway sessions, caches and database connections)
in the test's event loop; tests/e2e/test_cluster.py runs real OS processes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.client import TREE_HASH_KEY, ImmunoBot
from bot.config import Settings, load_settings
from bot.db import Database
from standin import Guild, StandIn, run_bot
from tests.e2e.conftest import E2EBot

MANAGE_GUILD = 0x20


def guild_on_shard(standin: StandIn, name: str, shard: int, count: int, n: int = 0) -> Guild:
    """A guild whose id puts it on `shard` of `count` ((id >> 22) % count), as Discord routes it."""
    return standin.add_guild(name, guild_id=((1000 + n * count + shard) << 22), channels=("general",))


def process_settings(tmp_path: Path, name: str, **settings: Any) -> Settings:
    """One process's settings: its own SQLite file unless told otherwise."""
    settings.setdefault("database_path", tmp_path / f"{name}.db")
    return load_settings(discord_token=None, dev_guild_id=None, **settings)


def answered_by(bot: discord.Client) -> list[int]:
    """Record the guild of every interaction this bot's gateway delivered to it."""
    seen: list[int] = []

    async def on_interaction(interaction: discord.Interaction) -> None:
        seen.append(interaction.guild_id or 0)

    bot.add_listener(on_interaction)
    return seen


async def test_each_guild_is_answered_by_the_process_owning_its_shard(tmp_path: Path) -> None:
    async with StandIn(shards=2) as standin:
        guilds = [guild_on_shard(standin, f"G{n}{shard}", shard, 2, n) for n in range(2) for shard in (0, 1)]
        members = {guild.id: standin.add_member(guild, "alice") for guild in guilds}
        first = E2EBot(process_settings(tmp_path, "p0", shard_count=2, shard_ids="0"), guild_ready_timeout=0.05)
        second = E2EBot(process_settings(tmp_path, "p1", shard_count=2, shard_ids="1"), guild_ready_timeout=0.05)
        heard = [answered_by(first), answered_by(second)]
        async with run_bot(second, standin), run_bot(first, standin):
            assert (first.shard_ids, second.shard_ids, first.shard_count, second.shard_count) == ([0], [1], 2, 2)
            owned = [{g.id for g in bot.guilds} for bot in (first, second)]
            assert owned == [{g.id for g in guilds if (g.id >> 22) % 2 == shard} for shard in (0, 1)]
            for guild in guilds:
                result = await standin.slash(guild, members[guild.id], "define", term="immunoterapy")
                assert (await result.answer()).embeds[0]["title"] == "Immunotherapy"
            assert heard == [[g.id for g in guilds if (g.id >> 22) % 2 == shard] for shard in (0, 1)]
            # Commands are synced from one place: the process with shard 0.
            puts = [r for r in standin.requests if r.method == "PUT" and r.path.endswith("/commands")]
            assert len(puts) == 1
            assert await first.store.get_meta(TREE_HASH_KEY) is not None
            assert await second.store.get_meta(TREE_HASH_KEY) is None
            assert standin.gateway.refusals == []


async def test_without_shard_settings_one_process_runs_discords_recommended_count(tmp_path: Path) -> None:
    async with StandIn(shards=2) as standin:
        guilds = [guild_on_shard(standin, f"G{shard}", shard, 2) for shard in (0, 1)]
        members = {guild.id: standin.add_member(guild, "alice") for guild in guilds}
        bot = E2EBot(process_settings(tmp_path, "solo"), guild_ready_timeout=0.05)
        heard = answered_by(bot)
        async with run_bot(bot, standin):
            assert bot.shard_count == 2
            assert sorted(bot.shards) == [0, 1]
            assert sorted(standin.gateway.by_shard) == [0, 1]
            for guild in guilds:
                result = await standin.slash(guild, members[guild.id], "define", term="immunoterapy")
                assert (await result.answer()).embeds[0]["title"] == "Immunotherapy"
            assert heard == [g.id for g in guilds]
            report = bot.health_report()
            assert [(s["id"], s["connected"]) for s in report["shards"]] == [(0, True), (1, True)]
            assert "change_feed" not in report  # SQLite: one process, nobody to tell


@pytest.fixture
async def shared_postgres(postgres_url: str) -> str:
    """A PostgreSQL database with the bot's schema, as the bot's store creates it."""
    async with await Database.open(postgres_url):
        pass
    return postgres_url


async def test_identify_turns_are_shared_by_processes_through_postgresql(tmp_path: Path, shared_postgres: str) -> None:
    """Two processes, shards 0 and 1 of 2, one max_concurrency bucket: the second waits its turn, no op 9."""
    standin = StandIn(shards=2, max_concurrency=1, enforce_identify_limit=True)
    async with standin:
        guilds = [guild_on_shard(standin, f"G{shard}", shard, 2) for shard in (0, 1)]
        settings = [
            process_settings(tmp_path, f"p{shard}", database_url=shared_postgres, shard_count=2, shard_ids=str(shard))
            for shard in (0, 1)
        ]
        # As shipped: its own before_identify_hook, not the tests' no-delay one.
        bots = [ImmunoBot(each, guild_ready_timeout=0.05) for each in settings]
        started = time.perf_counter()
        async with run_bot(bots[0], standin, ready_timeout=15), run_bot(bots[1], standin, ready_timeout=15):
            assert standin.gateway.refusals == []  # no IDENTIFY refused with op 9
            identifies = [r.at for r in standin.gateway.records if r.op == "IDENTIFY"]
            assert len(identifies) == 2
            gap = identifies[1] - identifies[0]
            assert 5.0 <= gap < 7.0, gap  # the bucket's window, measured on the database clock, and no more
            assert [{g.id for g in bot.guilds} for bot in bots] == [{guilds[0].id}, {guilds[1].id}]
        assert time.perf_counter() - started < 15


async def test_a_change_made_through_one_process_is_enforced_by_the_others(
    tmp_path: Path, shared_postgres: str
) -> None:
    """Hide, moderator role and an edit through process A reach process B's views and settings within 1 s."""
    shared = {"database_url": shared_postgres, "database_path": tmp_path / "shared.db", "shard_count": 2}
    async with StandIn(shards=2) as standin:
        guild = guild_on_shard(standin, "Study", 0, 2)
        moderator = standin.add_member(guild, "mod", permissions=MANAGE_GUILD)
        tutors = standin.add_role(guild, "tutors")
        a = E2EBot(load_settings(**shared, shard_ids="0"), guild_ready_timeout=0.05)
        b = E2EBot(load_settings(**shared, shard_ids="1"), guild_ready_timeout=0.05)
        async with run_bot(b, standin), run_bot(a, standin):
            editor_b = b.get_cog("Moderation").editor
            reloaded: asyncio.Queue[tuple[int, tuple[str, ...], float]] = asyncio.Queue()
            reload_b = editor_b.reload

            async def reload_and_report(guild_id: int, what: Any, concepts: tuple[str, ...] = ()) -> None:
                await reload_b(guild_id, what, concepts)
                reloaded.put_nowait((guild_id, tuple(concepts), time.perf_counter()))

            editor_b.reload = reload_and_report
            assert "Bacillus Calmette–Guérin" in names(b.catalog.view(guild.id))
            bcg = b.catalog.shipped.resolver.resolve("BCG").match.id

            async def through_a(command: str, **options: Any) -> tuple[str, float]:
                result = await standin.slash(guild, moderator, command, **options)
                content = (await result.answer()).content
                answered = time.perf_counter()
                changed_guild, concepts, applied = await asyncio.wait_for(reloaded.get(), 5)
                assert changed_guild == guild.id
                assert concepts == (() if command == "concept config" else (bcg,))  # B reads only that entry
                return content, applied - answered

            content, delay = await through_a("concept hide", term="BCG", reason="not taught")
            assert "now hidden" in content
            assert delay < 1.0
            assert "Bacillus Calmette–Guérin" not in names(b.catalog.view(guild.id))
            assert "Bacillus Calmette–Guérin" in names(b.catalog.complete_view(guild.id))

            assert (await editor_b.settings(guild.id)).moderator_role_id is None
            content, delay = await through_a("concept config", role=tutors)
            assert f"<@&{tutors.id}>" in content
            assert delay < 1.0
            assert (await editor_b.settings(guild.id)).moderator_role_id == tutors.id  # B now lets tutors edit

            content, delay = await through_a("concept unhide", term="BCG")
            assert "shown again" in content
            assert "Bacillus Calmette–Guérin" in names(b.catalog.view(guild.id))

            def revisions(bot: ImmunoBot) -> dict[str, tuple[int, bool, Any]]:
                return {key: (r.number, r.hidden, r.concept) for key, r in bot.catalog.overlay(guild.id).items()}

            assert revisions(b) == revisions(a)
            view = b.catalog.view(guild.id)
            await editor_b.resync()  # what B does after losing the feed: nothing missed, nothing rebuilt
            assert b.catalog.view(guild.id) is view
            assert b.health_report()["change_feed"] == "listening"


def names(view: Any) -> set[str]:
    return {concept.name for concept in view.concepts.values()}


async def test_health_check_reports_each_shard(tmp_path: Path) -> None:
    """The health file holds every shard's state; `health` prints one line per shard, unhealthy if one is down."""
    import os
    import subprocess
    import sys

    health = tmp_path / "health"
    async with StandIn(shards=2) as standin:
        bot = E2EBot(process_settings(tmp_path, "solo", health_file=health), guild_ready_timeout=0.05)
        async with run_bot(bot, standin):
            await bot.write_health()
        environment = {**os.environ, "HEALTH_FILE": str(health), "PYTHONPATH": str(Path(__file__).parents[2])}

        def check() -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "bot", "health"], env=environment, capture_output=True,
                                  text=True, timeout=60, check=False, cwd=tmp_path)  # fmt: skip

        running = check()
        assert running.returncode == 0, running.stderr
        lines = running.stdout.splitlines()
        assert [line.split(":")[0] for line in lines[:2]] == ["shard 0", "shard 1"]
        assert all(": connected, heartbeat " in line for line in lines[:2])
        assert lines[2].startswith("healthy: last heartbeat")
        await bot.write_health()  # the bot closed: both shards are down
        stopped = check()
        assert stopped.returncode == 1
        assert stopped.stdout.splitlines() == ["shard 0: disconnected", "shard 1: disconnected"]
        assert "unhealthy: 2 of 2 shard(s) disconnected" in stopped.stderr


async def test_each_process_posts_the_concept_of_the_day_for_its_own_guilds(
    tmp_path: Path, shared_postgres: str
) -> None:
    """Both processes know both schedules (shared data); each posts only for the guilds on its shards, once."""
    from bot.clock import ManualClock
    from bot.daily import DailyState
    from tests.e2e.test_daily import MONDAY_7AM, at, daily_posts, scheduler

    shared = {"database_url": shared_postgres, "database_path": tmp_path / "shared.db", "shard_count": 2}
    clock = ManualClock(MONDAY_7AM)
    async with StandIn(shards=2) as standin:
        guilds = [
            standin.add_guild(f"G{shard}", guild_id=(1000 + shard) << 22, channels=("general", "daily"))
            for shard in (0, 1)
        ]
        moderators = [standin.add_member(guild, "mod", permissions=MANAGE_GUILD) for guild in guilds]

        def process(shard: int) -> E2EBot:
            return E2EBot(load_settings(**shared, shard_ids=str(shard)), clock=clock, guild_ready_timeout=0.05)

        async with run_bot(process(0), standin), run_bot(process(1), standin):
            for guild, moderator in zip(guilds, moderators, strict=True):
                options = {"channel": guild.channel("daily"), "time": "08:00", "timezone": "Europe/London"}
                result = await standin.slash(guild, moderator, "daily set", options=options)
                assert (await result.answer()).embeds[0]["title"] == "Concept of the day is on"
        # Restarted, each process loads both guilds' schedules from the shared database.
        async with run_bot(process(0), standin) as first, run_bot(process(1), standin) as second:
            for shard, bot in enumerate((first, second)):
                await asyncio.wait_for(scheduler(bot).wait_idle(), 10)  # started, and nothing due yet
                planned = {guild.id for guild in guilds if scheduler(bot).next_post(guild.id) is not None}
                assert planned == {guilds[shard].id}
            await at(first, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
            await asyncio.wait_for(scheduler(second).wait_idle(), 10)
            await at(first, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
            await asyncio.wait_for(scheduler(second).wait_idle(), 10)
            for guild in guilds:
                assert len(daily_posts(standin, guild.channel("daily"))) == 1
                for bot in (first, second):
                    assert scheduler(bot).schedule_of(guild.id).state is DailyState.ACTIVE


async def test_command_line_flags_choose_the_shards(tmp_path: Path) -> None:
    """`python -m bot --shards 1 --shard-count 2`: the process identifies as shard 1 of 2 only, answers its guild."""
    import signal

    from tests.e2e.test_entry_point import start_process

    async with StandIn(shards=2) as standin:
        guilds = [guild_on_shard(standin, f"G{shard}", shard, 2) for shard in (0, 1)]
        member = standin.add_member(guilds[1], "alice")
        process = await start_process(standin, tmp_path, standin.token, "--shards", "1", "--shard-count", "2")
        try:
            first = await standin.wait_for_identify(1, within=30)
            assert first.data["shard"] == [1, 2]
            await standin.changes.wait_for(lambda: 1 in standin.gateway.by_shard, 10, "shard 1's session")
            standin.register_commands(
                [
                    {
                        "name": "define",
                        "description": "d",
                        "type": 1,
                        "options": [
                            {"type": 3, "name": "term", "description": "t", "required": True, "autocomplete": True}
                        ],
                    }
                ]
            )
            result = await standin.slash(guilds[1], member, "define", term="immunoterapy", within=15)
            assert (await result.answer()).embeds[0]["title"] == "Immunotherapy"
            assert standin.sync_count == 0  # shard 0's process syncs the commands, not this one
            assert [record.data["shard"] for record in standin.identifies] == [[1, 2]]
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
        assert process.returncode == 0, (tmp_path / "bot.log").read_text()
