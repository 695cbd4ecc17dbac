"""Running as several processes: shard settings, the change feed (LISTEN/NOTIFY) and IDENTIFY pacing on a real
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import pytest
from sqlalchemy import text

from bot.__main__ import main
from bot.catalog import GlossaryCatalog
from bot.config import ConfigError, DatabaseUrl, load_settings, parse_shard_ids
from bot.db import Database
from bot.db.changes import MAX_PAYLOAD, ChangeFeed, GuildChange, asyncpg_dsn, notify_in, payload
from bot.db.migrate import MIGRATION_LOCK_SQL
from bot.db.pacing import IdentifyPacer, bucket_key
from bot.editing import ConceptEditor, Refused, Saved
from bot.flashcards import FlashcardRepository
from bot.loader import GlossaryData
from bot.overlay import ModerationSettings, OverlayRepository
from bot.store import Store
from tests.pg import PostgresServer

WAIT = 5.0  # generous bound for a notification to arrive; the tests assert the measured time separately


# --- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [("0-3", (0, 1, 2, 3)), ("0,2,5", (0, 2, 5)), (" 4 , 0-1 ", (0, 1, 4)), ("3", (3,)), ("1-1,1", (1,))],
)
def test_shard_ids_are_read_as_a_host_writes_them(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"shard_ids": "0-3"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"shard_ids": "0-3", "shard_count": "2"}, "SHARD_IDS 2, 3 not below SHARD_COUNT 2"),
        ({"shard_ids": "3-1", "shard_count": "8"}, "the range '3-1' runs backwards"),
        ({"shard_ids": "a", "shard_count": "8"}, "'a' is not a shard id"),
        ({"shard_count": "0"}, "SHARD_COUNT"),
    ],
)
def test_bad_shard_settings_are_one_clear_line(environment: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**environment)


def test_shards_from_the_environment_and_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHARD_IDS", "0,2")
    monkeypatch.setenv("SHARD_COUNT", "4")
    settings = load_settings()
    assert (settings.shard_ids, settings.shard_count, settings.sharded) == ((0, 2), 4, True)
    unsharded = load_settings(shard_ids="", shard_count="")
    assert (unsharded.shard_ids, unsharded.shard_count, unsharded.sharded) == (None, None, False)
    monkeypatch.delenv("SHARD_IDS")
    assert main(["--shards", "0-3", "--shard-count", "2", "health"]) == 2  # the flags go through the same checks
    assert "SHARD_IDS 2, 3 not below SHARD_COUNT 2" in capsys.readouterr().err


# --- the change feed -----------------------------------------------------------------------------------------


class Heard:
    """What one process's feed delivered, with arrival times."""

    def __init__(self) -> None:
        self.changes: list[tuple[GuildChange, float]] = []
        self.resyncs = 0
        self.arrived = asyncio.Event()

    async def change(self, change: GuildChange) -> None:
        self.changes.append((change, time.perf_counter()))
        self.arrived.set()

    async def resync(self) -> None:
        self.resyncs += 1
        self.arrived.set()

    async def next(self) -> None:
        await asyncio.wait_for(self.arrived.wait(), WAIT)
        self.arrived.clear()


async def test_a_change_reaches_every_other_process_and_not_its_sender(postgres_url: str) -> None:
    url = DatabaseUrl.parse(postgres_url)
    heard = [Heard(), Heard(), Heard()]
    feeds = [ChangeFeed(url, h.change, h.resync) for h in heard]
    for feed in feeds:
        await feed.start()
    try:
        sent = time.perf_counter()
        await feeds[0].notify(123, "glossary", ["bcg", "azathioprine"])
        await heard[1].next()
        await heard[2].next()
        for h in heard[1:]:
            assert [change for change, _ in h.changes] == [GuildChange(123, "glossary", ("azathioprine", "bcg"))]
            assert h.changes[0][1] - sent < 1.0  # the bound; in practice a few milliseconds
        await feeds[2].notify(7, "settings")
        await heard[0].next()
        await heard[1].next()
        assert [change for change, _ in heard[0].changes] == [GuildChange(7, "settings")]  # not its own 123
        assert [change.guild_id for change, _ in heard[2].changes] == [123]  # not its own 7
    finally:
        for feed in feeds:
            await feed.close()


async def test_bots_in_other_schemas_never_hear_each_other(postgres_server: PostgresServer) -> None:
    first, second = (DatabaseUrl.parse(postgres_server.new_database()) for _ in range(2))
    mine, theirs = Heard(), Heard()
    feeds = [ChangeFeed(first, Heard().change, Heard().resync), ChangeFeed(first, mine.change, mine.resync),
             ChangeFeed(second, theirs.change, theirs.resync)]  # fmt: skip
    for feed in feeds:
        await feed.start()
    try:
        assert feeds[0].channel == feeds[1].channel != feeds[2].channel
        await feeds[0].notify(1, "glossary")
        await mine.next()
        await feeds[2].notify(2, "glossary")  # its own, skipped: the only way `theirs` could hear 1 is a leak
        await asyncio.sleep(0)
        assert theirs.changes == []
        probe = ChangeFeed(second, theirs.change, theirs.resync)
        await probe.start()
        await probe.notify(3, "glossary")
        await theirs.next()
        await probe.close()
        assert [change.guild_id for change, _ in theirs.changes] == [3]
    finally:
        for feed in feeds:
            await feed.close()


async def test_notify_in_a_transaction_is_sent_at_commit_only(postgres_url: str) -> None:
    url = DatabaseUrl.parse(postgres_url)
    heard = Heard()
    feed = ChangeFeed(url, heard.change, heard.resync)
    await feed.start()
    try:
        async with await Database.open(url) as database:

            async def failing_change() -> None:
                async with database.transaction() as connection:
                    await notify_in(connection, 1, "glossary")
                    raise RuntimeError("the change fails")

            with pytest.raises(RuntimeError):
                await failing_change()
            async with database.transaction() as connection:
                await notify_in(connection, 2, "settings")
                await asyncio.sleep(0.2)
                assert heard.changes == []  # not before the commit
        await heard.next()
        assert [change for change, _ in heard.changes] == [GuildChange(2, "settings")]
    finally:
        await feed.close()


async def test_every_moderator_write_tells_the_others_when_it_commits_and_only_then(
    postgres_url: str, shipped_data: GlossaryData
) -> None:
    """Edits and settings announce themselves inside their own transaction; a refused edit announces nothing."""
    url = DatabaseUrl.parse(postgres_url)
    heard = Heard()
    listener = ChangeFeed(url, heard.change, heard.resync)
    writer_feed = ChangeFeed(url, Heard().change, Heard().resync)
    await listener.start()
    await writer_feed.start()
    try:
        async with await Store.open(postgres_url) as store:
            await store.sync_shipped(shipped_data)
            editor, behind = [ConceptEditor(await GlossaryCatalog.load(store), OverlayRepository(store)) for _ in "ab"]
            editor.repository.announce = behind.repository.announce = writer_feed.announce
            assert isinstance(await editor.add_alias(5, "sirolimus", "rapa drug", author_id=1, reason=None), Saved)
            await heard.next()
            stale = await behind.add_alias(5, "sirolimus", "rapamune drug", author_id=2, reason=None)
            assert isinstance(stale, Refused)  # a process that had not heard yet: the revision check refuses it
            assert "changed since you opened it" in stale.message
            refused = await editor.add_alias(5, "cyclosporine", "FK506", author_id=1, reason=None)  # taken
            assert isinstance(refused, Refused)
            await editor.save_settings(6, ModerationSettings(moderator_role_id=77))
            await heard.next()
            assert [change for change, _ in heard.changes] == [
                GuildChange(5, "glossary", ("sirolimus",)),
                GuildChange(6, "settings"),
            ]
    finally:
        await listener.close()
        await writer_feed.close()


async def test_a_lost_listener_reconnects_and_resynchronises(postgres_url: str) -> None:
    url = DatabaseUrl.parse(postgres_url)
    heard = Heard()
    feed = ChangeFeed(url, heard.change, heard.resync, ping_seconds=0.2, retry_seconds=0.1)
    sender = ChangeFeed(url, Heard().change, Heard().resync)
    await feed.start()
    await sender.start()
    try:
        admin = await asyncpg.connect(asyncpg_dsn(url))
        try:  # what a restarted server or a cut connection does to the listener
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", feed.server_pid)
        finally:
            await admin.close()
        await heard.next()
        assert heard.resyncs == 1
        assert feed.resyncs == 1
        assert feed.listening
        await sender.notify(9, "glossary")
        await heard.next()
        assert [change.guild_id for change, _ in heard.changes] == [9]  # listening again
    finally:
        await feed.close()
        await sender.close()


async def test_a_change_sent_on_a_lost_connection_is_sent_again(postgres_url: str) -> None:
    url = DatabaseUrl.parse(postgres_url)
    heard = Heard()
    listener = ChangeFeed(url, heard.change, heard.resync)
    sender = ChangeFeed(url, Heard().change, Heard().resync, ping_seconds=60)  # nothing notices it but the send
    await listener.start()
    await sender.start()
    try:
        admin = await asyncpg.connect(asyncpg_dsn(url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", sender.server_pid)
        finally:
            await admin.close()
        await sender.notify(5, "settings")
        await heard.next()
        assert [change for change, _ in heard.changes] == [GuildChange(5, "settings")]
        assert sender.resyncs == 1  # it came back, and resynchronised itself
    finally:
        await listener.close()
        await sender.close()


def test_a_change_names_its_entries_unless_they_do_not_fit() -> None:
    """The others read only the named entries; a change too big to name (an import) makes them read the guild."""
    small = json.loads(payload(1, "glossary", "me", ["bcg", "azathioprine", "bcg"]))
    assert small == {"guild": 1, "what": "glossary", "origin": "me", "concepts": ["azathioprine", "bcg"]}
    big = payload(1, "glossary", "me", [f"an-imported-entry-with-a-long-id-{n:04d}" for n in range(500)])
    assert json.loads(big) == {"guild": 1, "what": "glossary", "origin": "me"}
    assert len(big.encode()) <= MAX_PAYLOAD


def test_the_feed_and_pacing_refuse_sqlite() -> None:
    async def nothing(*_: object) -> None:
        return None

    with pytest.raises(ValueError, match="PostgreSQL"):
        ChangeFeed(DatabaseUrl.sqlite("x.db"), nothing, nothing)
    with pytest.raises(ValueError, match="PostgreSQL"):
        IdentifyPacer(DatabaseUrl.sqlite("x.db"), 1)


# --- IDENTIFY pacing -----------------------------------------------------------------------------------------


async def test_identify_turns_are_shared_by_processes_per_bucket(postgres_url: str) -> None:
    url = DatabaseUrl.parse(postgres_url)
    window = 0.6
    async with await Database.open(url) as database:  # the schema (bot_meta) as the bot's store makes it
        pacers = [IdentifyPacer(url, 2, window=window) for _ in range(3)]
        try:
            assert await pacers[0].wait_turn(0) == 0.0  # first in bucket 0
            assert await pacers[1].wait_turn(1) == 0.0  # bucket 1: another bucket, no wait
            started = time.perf_counter()
            waits = await asyncio.gather(pacers[1].wait_turn(2), pacers[2].wait_turn(4))  # both bucket 0
            elapsed = time.perf_counter() - started
            # One waited for the first's window, the other for that one's: turns follow each other by a window.
            assert elapsed >= 2 * window
            assert sorted(waits)[1] >= window
            # The turn outlives the process that took it: a killed process still holds the next one back.
            await pacers[2].close()
            fresh = IdentifyPacer(url, 2, window=window)
            assert await fresh.wait_turn(0) > window / 2
            await fresh.close()
            stamped = await database.fetch_value(
                text("SELECT value FROM bot_meta WHERE key = :key"), {"key": bucket_key(0)}
            )
            assert float(stamped) > 0
        finally:
            for pacer in pacers:
                await pacer.close()


async def test_processes_starting_together_migrate_one_at_a_time(postgres_url: str) -> None:
    """Opening a PostgreSQL database migrates under a lock: a second process waits, then finds the work done."""
    admin = await asyncpg.connect(asyncpg_dsn(DatabaseUrl.parse(postgres_url)))
    try:
        async with admin.transaction():  # another process migrating right now
            await admin.execute(MIGRATION_LOCK_SQL)
            opening = asyncio.create_task(Database.open(postgres_url))
            done, _ = await asyncio.wait({opening}, timeout=1.0)
            assert not done  # it waits for the lock instead of migrating alongside
        database = await asyncio.wait_for(opening, 30)
    finally:
        await admin.close()
    others = await asyncio.gather(*(Database.open(postgres_url) for _ in range(2)))
    try:
        counts = [await each.table_counts() for each in (database, *others)]
        assert counts[0] == counts[1] == counts[2]
        assert "bot_meta" in counts[0]
    finally:
        for each in (database, *others):
            await each.close()


async def test_processes_starting_together_upgrade_flashcards_one_at_a_time(postgres_url: str) -> None:
    """Every start moves SM-2 flashcards to FSRS and drops the SM-2 tables: processes starting together on a new
    database take turns (two dropping the tables at once deadlocked, and one process died at start-up)."""
    stores = [await Store.open(postgres_url) for _ in range(3)]
    try:
        assert await stores[0].has_table("flashcard_reviews")  # a new database has them, empty
        moved = await asyncio.gather(*(FlashcardRepository(store).upgrade_sm2() for store in stores))
        assert moved == [0, 0, 0]
        assert not await stores[0].has_table("flashcard_reviews")
        assert not await stores[0].has_table("flashcards")
    finally:
        for store in stores:
            await store.close()
