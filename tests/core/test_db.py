"""The SQLAlchemy store foundation on both backends: migrations, adoption of old databases, search, writes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from bot.config import DatabaseUrl
from bot.db import Database
from bot.db.migrate import LEGACY_REVISIONS, SchemaError, current_revision, head_revision, include_name
from bot.db.schema import bot_meta, concept_revisions, concept_uses, metadata, quiz_sessions
from bot.db.search import SearchTerm, replace_search_rows, search
from bot.flashcards import FlashcardRepository
from bot.loader import GlossaryData
from bot.markup import EMPHASIS_START
from bot.store import Store, bundled_migrations
from tests.core.test_cli import run_bot


def schema_differences(connection: Connection) -> list[object]:
    """What Alembic's autogenerate would change to make the database match bot.db.schema."""
    context = MigrationContext.configure(connection, opts={"include_name": include_name, "compare_type": True})
    return list(compare_metadata(context, metadata))


def is_legacy_primary_key_nullability(difference: object) -> bool:
    """The SQL migrations declared `id TEXT PRIMARY KEY` without NOT NULL; SQLite then reports it nullable.

    The only difference between an adopted database and a new one: no code ever writes a NULL key.
    """
    if not isinstance(difference, list) or len(difference) != 1:
        return False
    kind, _, table, column, *_ = difference[0]
    return kind == "modify_nullable" and metadata.tables[table].c[column].primary_key


def table_counts(path: Path) -> dict[str, int]:
    """Rows per table of an SQLite file, read with the standard library (nothing of ours in between)."""
    with sqlite3.connect(path) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    connection.close()
    return counts


async def test_empty_database_migrates_to_head_matching_the_metadata(database_url: str) -> None:
    """Both engines build the whole schema, exactly as bot.db.schema describes it, and reopen without change."""
    async with await Database.open(database_url) as database, database.read() as connection:
        assert await connection.run_sync(current_revision) == head_revision()
        assert await connection.run_sync(schema_differences) == []
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert set(metadata.tables) | {"alembic_version", "concept_search"} <= tables
    async with await Database.open(database_url) as again:
        keys = ["b", "B", "a-c", "ab", "É", "e", "_x", "a c"]
        async with again.transaction() as connection:
            await connection.execute(bot_meta.insert(), [{"key": key, "value": ""} for key in keys])
        ordered = await again.fetch_all(select(bot_meta.c.key).order_by(bot_meta.c.key))
        assert [row.key for row in ordered] == sorted(keys)  # code point order on both, whatever the locale
        if again.dialect == "postgresql":
            collations = await again.fetch_all(text(
                "SELECT DISTINCT collation_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND data_type = 'text' AND table_name <> 'alembic_version'"))  # fmt: skip
            assert [row[0] for row in collations] == ["C"]


async def test_database_of_the_sql_migrations_is_adopted_without_loss(
    tmp_path: Path, shipped_data: GlossaryData
) -> None:
    """A database the numbered SQL migrations made (the newest user_version, with data) is stamped, not rebuilt:
    every row stays."""
    path = tmp_path / "old.db"
    async with await Store.open(path, bundled_migrations()) as store:
        await store.sync_shipped(shipped_data)
        async with store.transaction() as db:
            await db.exec_driver_sql("INSERT INTO guild_settings VALUES (42, '{\"moderator_role\": 7}', 'x')")
            await db.exec_driver_sql(
                "INSERT INTO concept_revisions VALUES (42, 'bcg', 1, 'edit', '{}', 1, 9, 'why', '2026-01-01')"
            )
            await db.exec_driver_sql("INSERT INTO quiz_sessions VALUES (1, 42, 5, 9, 'mixed', NULL, 5, 20, 3, 'running', "
                             "'t', NULL, NULL)")  # fmt: skip
            await db.exec_driver_sql("INSERT INTO concept_uses VALUES (42, 'bcg', '2026-01-01', 3)")
    before = table_counts(path)

    async with await Database.open(path) as database:
        async with database.read() as connection:
            assert await connection.run_sync(current_revision) == head_revision()
            differences = await connection.run_sync(schema_differences)
            assert [d for d in differences if not is_legacy_primary_key_nullability(d)] == []
            hits = await search(connection, "fk506")
        assert [hit.concept_id for hit in hits] == ["tacrolimus"]  # the old full-text index still answers
    after = table_counts(path)
    assert after.pop("alembic_version") == 1
    assert after == before
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == max(LEGACY_REVISIONS)
        assert raw.execute("SELECT settings FROM guild_settings WHERE guild_id = 42").fetchone()[0] == (
            '{"moderator_role": 7}'
        )
    raw.close()
    async with await Store.open(path) as store:  # the store opens it
        assert (await store.table_counts())["concept_uses"] == 1


async def test_older_sql_migration_database_is_brought_forward_then_adopted(tmp_path: Path) -> None:
    """A database at user_version 1 gets the numbered migrations 2-4, then the stamp; its rows stay."""
    path = tmp_path / "v1.db"
    async with await Store.open(path, bundled_migrations()[:1]) as store, store.transaction() as db:
        await db.exec_driver_sql("INSERT INTO bot_meta VALUES ('command_hash', 'abc')")
    async with await Database.open(path) as database:
        assert await database.fetch_value(select(bot_meta.c.value)) == "abc"
        async with database.read() as connection:
            differences = await connection.run_sync(schema_differences)
            assert [d for d in differences if not is_legacy_primary_key_nullability(d)] == []
            assert await connection.run_sync(current_revision) == head_revision()
            fts = await connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'concept_search'")
            assert "fts5" in fts.scalar_one()  # migration 0002 ran before the stamp


async def test_database_newer_than_the_code_is_refused_untouched(tmp_path: Path) -> None:
    """A legacy version this code has no revision for stops the start with a clear error, changing nothing."""
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE bot_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(SchemaError, match="schema version 99, newer than this bot knows"):
        await Database.open(path)
    assert table_counts(path) == {"bot_meta": 0}


async def test_failed_transaction_writes_nothing_and_upserts_add_up(database_url: str) -> None:
    """All or nothing; concurrent atomic increments from many tasks all count (the usage counters' pattern)."""
    async with await Database.open(database_url) as database:

        async def write_then_fail() -> None:
            async with database.transaction() as connection:
                await connection.execute(bot_meta.insert().values(key="a", value="1"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await write_then_fail()
        assert await database.fetch_value(select(func.count()).select_from(bot_meta)) == 0

        async def count_one_use() -> None:
            statement = database.insert(concept_uses).values(guild_id=2**62, concept_id="bcg", day="d", uses=1)
            statement = statement.on_conflict_do_update(
                index_elements=["guild_id", "concept_id", "day"], set_={"uses": concept_uses.c.uses + 1}
            )
            async with database.transaction() as connection:
                await connection.execute(statement)

        await asyncio.gather(*(count_one_use() for _ in range(25)))
        row = await database.fetch_one(select(concept_uses.c.guild_id, concept_uses.c.uses))
        assert tuple(row) == (2**62, 25)  # 64-bit Discord ids fit on both engines


async def test_cancelled_transaction_is_rolled_back_and_the_store_goes_on(database_url: str) -> None:
    """A task cancelled inside a transaction (a timed-out interaction) writes nothing and blocks no one."""
    async with await Database.open(database_url) as database:
        inside = asyncio.Event()

        async def write_then_hang() -> None:
            async with database.transaction() as connection:
                await connection.execute(bot_meta.insert().values(key="lost", value="1"))
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(write_then_hang())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with database.transaction() as connection:
            await connection.execute(bot_meta.insert().values(key="kept", value="2"))
        assert [row.key for row in await database.fetch_all(select(bot_meta.c.key))] == ["kept"]
        assert (await database.table_counts())["bot_meta"] == 1


async def test_sqlite_writers_take_turns_without_lost_updates(tmp_path: Path) -> None:
    """Read-modify-write transactions from concurrent tasks never interleave on SQLite (one writer)."""
    async with await Database.open(tmp_path / "turns.db") as database:
        async with database.transaction() as connection:
            await connection.execute(bot_meta.insert().values(key="n", value="0"))

        async def increment() -> None:
            async with database.transaction() as connection:
                value = int((await connection.execute(select(bot_meta.c.value))).scalar_one())
                await asyncio.sleep(0)  # let the others try to get in
                await connection.execute(bot_meta.update().values(value=str(value + 1)))

        await asyncio.gather(*(increment() for _ in range(20)))
        assert await database.fetch_value(select(bot_meta.c.value)) == "20"
        async with database.read() as connection:
            pragmas = [(await connection.exec_driver_sql(f"PRAGMA {name}")).scalar() for name in
                       ("journal_mode", "foreign_keys", "synchronous")]  # fmt: skip
        assert pragmas == ["wal", 1, 2]  # WAL, foreign keys on, synchronous=FULL


# Queries whose best hit both engines agree on, with what that hit is: names, aliases, stems, prefixes, accents.
AGREED_TOP_HITS = {
    "tacrolimus": "tacrolimus",
    "FK506": "tacrolimus",
    "monoclonal": "monoclonal-antibody",
    "bispecific": "bispecific-t-cell-engager",
    "PD-1": "pd-1-inhibitor",
    "adjuvant": "adjuvant-therapy",
    "tacrolímus": "tacrolimus",
}


async def test_full_text_search_gives_the_same_top_hits_on_both_engines(
    tmp_path: Path, postgres_url: str, shipped_data: GlossaryData
) -> None:
    """FTS5 and PostgreSQL's tsvector rank the shipped glossary alike; a guild's override hides the shipped row."""
    concepts = [item.concept for item in shipped_data.concepts]
    results: dict[str, dict[str, list[str]]] = {}
    for url in (f"sqlite:///{tmp_path / 'fts.db'}", postgres_url):
        async with await Database.open(url) as database:
            async with database.transaction() as connection:
                await replace_search_rows(connection, 0, [], concepts)
                await replace_search_rows(connection, 0, ["bcg"], [c for c in concepts if c.id == "bcg"])
            async with database.read() as connection:
                results[database.dialect] = {
                    query: [hit.concept_id for hit in await search(connection, query, limit=3)]
                    for query in [*AGREED_TOP_HITS, "antibodies", "calcineurin"]
                }
                hidden = await search(connection, "tacrolimus", guild_id=5, overridden=["tacrolimus"])
                assert "tacrolimus" not in [hit.concept_id for hit in hidden]
                assert await search(connection, "  ;; ") == []
                (snippet,) = [hit.snippet for hit in await search(connection, "bispecific", limit=1)]
                assert EMPHASIS_START in snippet
            counts = await database.fetch_value(text("SELECT count(*) FROM concept_search"))
            assert counts == len(concepts)  # re-indexing replaced the row, it did not add one
    sqlite_hits, postgres_hits = results["sqlite"], results["postgresql"]
    for query, expected in AGREED_TOP_HITS.items():
        assert sqlite_hits[query][0] == postgres_hits[query][0] == expected, query
    for query in ("antibodies", "calcineurin"):  # the same three best, whatever their order
        assert set(sqlite_hits[query]) == set(postgres_hits[query]), query


async def test_structured_search_terms_page_alike_on_both_engines(
    database_url: str, shipped_data: GlossaryData
) -> None:
    """Spellings, phrases and prefixes (bot.db.search.SearchTerm) in each engine's own query language: the same
    matches, every term then any term, counted in all and paged without overlap."""
    async with await Store.open(database_url) as store:
        await store.sync_shipped(shipped_data)
        hits, total = await store.search_terms([SearchTerm((("calcineurin",),))], limit=20)
        assert {"tacrolimus", "cyclosporine"} <= {hit.concept_id for hit in hits}
        assert total == len(hits)
        spellings, _ = await store.search_terms([SearchTerm((("tumour", "tumor"),))], limit=50)
        british, _ = await store.search_terms([SearchTerm((("tumour",),))], limit=50)
        assert {hit.concept_id for hit in british} <= {hit.concept_id for hit in spellings}
        phrase, _ = await store.search_terms([SearchTerm((("monoclonal",), ("antibody", "antibodies")))], limit=5)
        assert phrase[0].concept_id == "monoclonal-antibody"
        prefix, _ = await store.search_terms([SearchTerm((("tacrol",),), prefix=True)])
        assert prefix[0].concept_id == "tacrolimus"
        both, both_total = await store.search_terms([SearchTerm((("calcineurin",),)), SearchTerm((("tacrolimus",),))])
        assert both[0].concept_id == "tacrolimus"
        assert both_total <= total
        either, _ = await store.search_terms([SearchTerm((("calcineurin",),)), SearchTerm((("zzzqx",),))])
        assert {hit.concept_id for hit in either} == {hit.concept_id for hit in hits[:10]}
        first, many = await store.search_terms([SearchTerm((("cell",),))], limit=5)
        second, again = await store.search_terms([SearchTerm((("cell",),))], limit=5, offset=5)
        assert many == again > 10
        assert not {hit.concept_id for hit in first} & {hit.concept_id for hit in second}
        assert await store.search_terms([SearchTerm((("zzzqx",),))]) == ([], 0)
        assert await store.search_terms([SearchTerm(((";;",),))]) == ([], 0)


async def test_migrate_to_copies_every_table_into_postgresql_and_verifies(
    tmp_path: Path, postgres_url: str, shipped_data: GlossaryData
) -> None:
    """`python -m bot migrate-to URL` copies everything (revision history, search index) and checks the counts;
    ids continue after the copied ones; a database that is not empty is refused in one line."""
    path = tmp_path / "bot.db"
    async with await Store.open(path) as store:
        await store.sync_shipped(shipped_data)
        await FlashcardRepository(store).upgrade_sm2()  # as every start does: the SM-2 tables are gone
        async with store.transaction() as db:
            for revision in (1, 2):
                await db.exec_driver_sql("INSERT INTO concept_revisions VALUES (?, 'bcg', ?, 'edit', '{}', 0, 9, NULL, 't')",
                                 (2**60, revision))  # fmt: skip
            await db.exec_driver_sql("INSERT INTO quiz_sessions VALUES (7, 1, 5, 9, 'mixed', NULL, 5, 20, 3, 'finished', "
                             "'t', NULL, NULL)")  # fmt: skip
    expected = table_counts(path)

    result = run_bot("migrate-to", postgres_url, cwd=tmp_path, env={"DATABASE_PATH": str(path)})
    assert result.returncode == 0, result.stderr
    assert "counts verified" in result.stdout
    assert "concept_revisions: 2" in result.stdout

    async with await Database.open(postgres_url) as database:
        async with database.read() as connection:
            copied = {name: await connection.scalar(text(f"SELECT count(*) FROM {name}")) for name in expected
                      if not name.startswith(("concept_search_", "sqlite_"))}  # fmt: skip
            assert (await search(connection, "fk506"))[0].concept_id == "tacrolimus"
        revisions = await database.fetch_all(select(concept_revisions.c.guild_id, concept_revisions.c.revision))
        assert sorted(tuple(row) for row in revisions) == [(2**60, 1), (2**60, 2)]
        async with database.transaction() as connection:
            new_id = await connection.scalar(
                quiz_sessions.insert().returning(quiz_sessions.c.id).values(
                    guild_id=1, channel_id=6, starter_id=9, mode="mixed", questions=5, round_seconds=20, seed=1,
                    status="running", started_at="t")
            )  # fmt: skip
    assert new_id == 8
    assert copied == {name: count for name, count in expected.items() if name in copied}
    assert copied["shipped_concepts"] == len(shipped_data.concepts)

    again = run_bot("migrate-to", postgres_url, cwd=tmp_path, env={"DATABASE_PATH": str(path)})
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"{DatabaseUrl.parse(postgres_url)} is not empty; give migrate-to a new, empty database"
    ]
