"""The store: migrations, idempotent loading, and reloads that touch nothing but shipped rows."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import insert, select

from bot.db.migrate import head_revision
from bot.db.schema import bot_meta, concept_revisions, guild_settings, shipped_concepts
from bot.loader import GlossaryData
from bot.store import SchemaError, Store, bundled_migrations


async def test_fresh_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    """A new file gets every migration, WAL journaling, enforced foreign keys and full syncs."""
    async with await Store.open(tmp_path / "new.db") as store:
        assert await store.schema_version() == head_revision()
        assert (await store.fetch_all("PRAGMA journal_mode"))[0][0] == "wal"
        assert (await store.fetch_all("PRAGMA foreign_keys"))[0][0] == 1
        assert (await store.fetch_all("PRAGMA synchronous"))[0][
            0
        ] == 2  # FULL: an acknowledged write survives power loss
        assert (await store.fetch_all("PRAGMA busy_timeout"))[0][0] == 5000


async def test_old_database_is_upgraded_in_place(tmp_path: Path, shipped_data: GlossaryData) -> None:
    """A version-1 database with rows in it gains full-text search over those rows, and keeps everything."""
    path = tmp_path / "old.db"
    migrations = bundled_migrations()
    async with await Store.open(path, migrations[:1]) as store:
        async with store.transaction() as db:  # what a version-1 bot wrote
            await db.exec_driver_sql(
                "INSERT INTO shipped_concepts (id, data, origin, content_hash, loaded_at) VALUES (?, ?, 'x', 'h', 'now')",
                [(item.concept.id, item.concept.model_dump_json()) for item in shipped_data.concepts],
            )
            await db.exec_driver_sql("INSERT INTO bot_meta (key, value) VALUES ('marker', 'kept')")
        assert await store.schema_version() == 1
    async with await Store.open(path) as store:
        assert await store.schema_version() == head_revision()
        assert await store.get_meta("marker") == "kept"
        assert len(await store.shipped_concepts()) == len(shipped_data.concepts)
        hits = await store.search("calcineurin")
        assert {"tacrolimus", "cyclosporine"} <= {hit.concept_id for hit in hits}


async def test_newer_database_is_refused_clearly(tmp_path: Path) -> None:
    """A database from a newer bot is not touched, and the error says what to do."""
    path = tmp_path / "future.db"
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA user_version = 999")
        await db.commit()
    with pytest.raises(SchemaError, match="newer than this bot knows"):
        await Store.open(path)
    async with aiosqlite.connect(path) as db:
        assert (await db.execute_fetchall("PRAGMA user_version"))[0][0] == 999


STAMPS = select(shipped_concepts.c.id, shipped_concepts.c.loaded_at).order_by(shipped_concepts.c.id)


async def test_loading_twice_changes_nothing(database_url: str, shipped_data: GlossaryData) -> None:
    """The second load reports everything unchanged and writes nothing."""
    async with await Store.open(database_url) as store:
        first = await store.sync_shipped(shipped_data)
        stamps = await store.fetch_all(STAMPS)
        second = await store.sync_shipped(shipped_data)
        assert len(first.added) == len(shipped_data.concepts)
        assert (second.added, second.changed, second.removed) == ([], [], [])
        assert len(second.unchanged) == len(shipped_data.concepts)
        assert await store.fetch_all(STAMPS) == stamps


async def test_changed_data_updates_rows_and_leaves_guild_data_alone(
    database_url: str, shipped_data: GlossaryData
) -> None:
    """An edited data file updates its row; settings, revisions and metadata are untouched."""
    async with await Store.open(database_url) as store:
        await store.sync_shipped(shipped_data)
        async with store.transaction() as db:
            await db.execute(insert(guild_settings).values(guild_id=1, settings="{}", updated_at="now"))
            await db.execute(
                insert(concept_revisions).values(
                    guild_id=1, concept_id="custom", revision=1, action="add", data="{}", author_id=2, created_at="now"
                )
            )
        await store.set_meta("command_tree_hash", "abc")
        before = await store.fetch_all(select(concept_revisions))

        first = shipped_data.concepts[0]
        edited = replace(first, concept=first.concept.model_copy(update={"summary": "A corrected summary."}))
        dropped_last = GlossaryData(shipped_data.documents, (edited, *shipped_data.concepts[1:-1]))
        report = await store.sync_shipped(dropped_last)

        assert report.changed == [first.concept.id]
        gone = shipped_data.concepts[-1].concept
        assert report.removed == [gone.id]
        assert report.added == []
        concepts = {c.id: c for c in await store.shipped_concepts()}
        assert concepts[first.concept.id].summary == "A corrected summary."
        assert gone.id not in concepts
        assert [hit.concept_id for hit in await store.search(gone.name)] != [gone.id]
        assert [hit.concept_id for hit in await store.search("corrected summary")] == [first.concept.id]
        assert await store.fetch_all(select(concept_revisions)) == before
        assert await store.fetch_all(select(guild_settings.c.guild_id)) == [(1,)]
        assert await store.get_meta("command_tree_hash") == "abc"


async def test_failed_transaction_writes_nothing(database_url: str) -> None:
    """An error inside a transaction rolls all of it back."""
    async with await Store.open(database_url) as store:

        async def write_then_fail() -> None:
            async with store.transaction() as db:
                await db.execute(insert(bot_meta).values(key="a", value="1"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await write_then_fail()
        assert await store.get_meta("a") is None


async def test_cancelled_transaction_leaves_the_connection_usable(database_url: str) -> None:
    """A task cancelled inside a transaction rolls it back; the next transaction starts cleanly."""
    import asyncio

    async with await Store.open(database_url) as store:
        started = asyncio.Event()

        async def slow_writer() -> None:
            async with store.transaction() as db:
                await db.execute(insert(bot_meta).values(key="slow", value="1"))
                started.set()
                await asyncio.sleep(10)

        task = asyncio.create_task(slow_writer())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.set_meta("after", "ok")
        assert await store.get_meta("after") == "ok"
        assert await store.get_meta("slow") is None
        for _ in range(20):  # cancellations landing on BEGIN or COMMIT themselves
            racing = asyncio.create_task(store.set_meta("race", "x"))
            await asyncio.sleep(0)
            racing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await racing
        await store.set_meta("final", "ok")
        assert await store.get_meta("final") == "ok"


async def test_search_falls_back_to_any_word_and_completes_the_last_word(
    tmp_path: Path, shipped_data: GlossaryData
) -> None:
    """When no entry has every word, any word will do; the last word may be unfinished."""
    async with await Store.open(tmp_path / "s.db") as store:
        await store.sync_shipped(shipped_data)
        assert [hit.concept_id for hit in await store.search("tacrol")][:1] == ["tacrolimus"]
        either = await store.search("tacrolimus qwzxv")  # no entry has both: any word will do
        assert "tacrolimus" in [hit.concept_id for hit in either]
