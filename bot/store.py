"""The store facade over `bot.db.Database`: SQLite (default) or PostgreSQL, one set of SQLAlchemy Core queries.

Opening a store brings its schema up to date with Alembic (bot/db/alembic), adopting SQLite files the numbered
SQL migrations made. The numbered files in `bot/migrations/` are legacy only: they bring such old files
forward before adoption (and let tests build one). The feature modules (overlay, daily, quiz, flashcards,
scores, usage) hold their own queries as Core statements and run them through `transaction()` and `fetch_*`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Executable, delete, func, inspect, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy import table as sql_table
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import DatabaseUrl
from bot.db import Database
from bot.db import search as fulltext
from bot.db.migrate import SchemaError, current_revision
from bot.db.schema import bot_meta, guild_settings, shipped_concepts, source_documents
from bot.db.search import SearchHit, SearchTerm
from bot.loader import GlossaryData
from bot.models import Concept, SourceDocument

__all__ = ["LoadReport", "Migration", "SchemaError", "SearchHit", "SearchTerm", "Store", "storage_failure", "utc_now"]

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered (legacy) SQL schema change."""

    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """Return the legacy SQL migrations shipped in the package, checked to be numbered 1..n without gaps."""
    found: list[Migration] = []
    for entry in resources.files("bot.migrations").iterdir():
        matched = _MIGRATION_NAME.match(entry.name)
        if matched:
            found.append(Migration(int(matched.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise SchemaError(f"migration {migration.name} is out of sequence (expected version {expected})")
    return found


def _apply_legacy(path: str, migrations: list[Migration]) -> None:
    """Build or extend an SQLite file with numbered SQL migrations only (old databases, for tests and tools)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        current = int(db.execute("PRAGMA user_version").fetchone()[0])
        for migration in migrations:
            if migration.version > current:
                db.executescript(f"BEGIN;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;")


@dataclass
class LoadReport:
    """What a (re)load of the shipped data did, by concept id."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a one-line human summary."""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed"
        )


def _content_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


STORAGE_FULL = "Nothing was saved: the bot's storage is full. Please try again later."
STORAGE_BUSY = "Nothing was saved: the bot's storage was busy for too long. Please try again in a moment."
STORAGE_BROKEN = "Nothing was saved: the bot could not write to its storage. Please try again later."


def storage_failure(error: BaseException) -> str | None:
    """Say, for a user, that nothing was saved and why, if `error` (or what caused it) is a database failure.

    A full disk, a database locked by another program past the busy timeout, an I/O error, a lost PostgreSQL
    connection: each leaves the database as it was (the transaction is rolled back), so "nothing was saved"
    is the truth.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.DatabaseError | sa_exc.DBAPIError | sa_exc.DisconnectionError):
            text = str(getattr(current, "orig", None) or current).casefold()
            if "full" in text or "no space" in text:
                return STORAGE_FULL
            if "locked" in text or "busy" in text or "timeout" in text:
                return STORAGE_BUSY
            return STORAGE_BROKEN
        current = getattr(current, "original", None) or current.__cause__ or current.__context__
    return None


def check_usable(path: Path) -> None:
    """Refuse, before anything is written, a database file that is corrupt, truncated or read-only.

    An existing file is first read (never written) through a read-only connection and checked page by page,
    so a damaged file stays exactly as it is for its owner to restore. Raises SchemaError with one line.
    """
    read_only = (
        f"the database {path} (or its folder) is read-only: the bot must be able to write there; "
        "fix the permissions or point DATABASE_PATH elsewhere"
    )
    try:  # can we write there at all? (SQLite also needs its -wal and -shm files next to the database)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
        if path.exists():
            with path.open("r+b"):  # opened for writing, nothing written
                pass
    except OSError:
        raise SchemaError(read_only) from None
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            verdict = db.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as error:
        raise SchemaError(_unusable(path, str(error))) from None
    if verdict is None or verdict[0] != "ok":
        raise SchemaError(_unusable(path, str(verdict[0] if verdict else "no answer")))


def _unusable(path: Path, why: str) -> str:
    return (
        f"the database {path} is damaged or not an Immunobot database ({why}); it was left untouched: "
        "restore it from a backup, or point DATABASE_PATH at another file"
    )


def utc_now() -> str:
    """Return the current time as an ISO string, timezone-aware."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _as_url(location: DatabaseUrl | str | Path) -> DatabaseUrl:
    if isinstance(location, DatabaseUrl):
        return location
    return DatabaseUrl.parse(str(location)) if "://" in str(location) else DatabaseUrl.sqlite(location)


class Store:
    """An open database. Create with `await Store.open(url_or_path)`; close with `await store.close()`."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.url = database.url
        self.path = str(database.url.sqlite_path or database.url)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.database.dialect

    @classmethod
    async def open(cls, location: DatabaseUrl | str | Path, migrations: Iterable[Migration] | None = None) -> Self:
        """Open (creating if needed) the database and bring its schema up to date.

        With `migrations` (SQLite only), only those numbered legacy SQL files are applied and Alembic is not
        run: that builds a database as an older version of the bot left it.
        """
        url = _as_url(location)
        path = url.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(check_usable, path)
            if migrations is not None:
                await asyncio.to_thread(_apply_legacy, str(path), list(migrations))
        try:
            database = await Database.open(url, migrate=migrations is None)
        except (OSError, sa_exc.DBAPIError, sa_exc.DisconnectionError) as error:
            if path is not None and isinstance(error, sa_exc.DBAPIError):
                raise SchemaError(_unusable(path, str(error.orig))) from None
            raise SchemaError(f"cannot open the database {url}: {getattr(error, 'orig', None) or error}") from None
        return cls(database)

    async def close(self) -> None:
        """Close the connections (idempotent)."""
        await self.database.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def insert(self, table: Any) -> Any:
        """An INSERT with this engine's upsert clauses (`on_conflict_do_update` / `on_conflict_do_nothing`)."""
        return self.database.insert(table)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Run the body in one write transaction: all of it is written, or on any error none of it."""
        async with self.database.transaction() as connection:
            yield connection

    async def schema_version(self) -> str | int:
        """The Alembic revision of the database; a legacy SQLite file not yet adopted: its PRAGMA user_version."""
        async with self.database.read() as connection:
            revision = await connection.run_sync(current_revision)
            if revision is not None or self.dialect != "sqlite":
                return revision or 0
            return int((await connection.exec_driver_sql("PRAGMA user_version")).scalar() or 0)

    # --- shipped glossary -------------------------------------------------------------------------------

    async def sync_shipped(self, data: GlossaryData) -> LoadReport:
        """Make the shipped tables mirror `data`, touching only rows that differ; nothing else is written."""
        report = LoadReport()
        hashes = select(shipped_concepts.c.id, shipped_concepts.c.content_hash)
        existing = {row[0]: row[1] for row in await self.fetch_all(hashes)}
        now = utc_now()
        upserts: list[dict[str, str]] = []
        for item in data.concepts:
            payload = item.concept.model_dump_json()
            digest = _content_hash(payload + item.origin)
            previous = existing.pop(item.concept.id, None)
            if previous == digest:
                report.unchanged.append(item.concept.id)
                continue
            (report.added if previous is None else report.changed).append(item.concept.id)
            upserts.append(
                {
                    "id": item.concept.id,
                    "data": payload,
                    "origin": item.origin,
                    "content_hash": digest,
                    "loaded_at": now,
                }
            )
        report.removed = sorted(existing)
        document_hashes = select(source_documents.c.id, source_documents.c.content_hash)
        documents = {row[0]: row[1] for row in await self.fetch_all(document_hashes)}
        document_upserts = []
        for document in data.documents:
            payload = document.model_dump_json()
            if documents.pop(document.id, None) != _content_hash(payload):
                document_upserts.append({"id": document.id, "data": payload, "content_hash": _content_hash(payload)})
        if not (upserts or report.removed or document_upserts or documents):
            return report
        async with self.transaction() as db:
            await fulltext.replace_search_rows(
                db,
                0,
                [*report.changed, *report.removed],
                [item.concept for item in data.concepts if item.concept.id in {*report.added, *report.changed}],
            )
            if upserts:
                statement = self.insert(shipped_concepts)
                await db.execute(
                    statement.on_conflict_do_update(
                        index_elements=[shipped_concepts.c.id],
                        set_={
                            name: statement.excluded[name] for name in ("data", "origin", "content_hash", "loaded_at")
                        },
                    ),
                    upserts,
                )
            if report.removed:
                await db.execute(delete(shipped_concepts).where(shipped_concepts.c.id.in_(report.removed)))
            if document_upserts:
                statement = self.insert(source_documents)
                await db.execute(
                    statement.on_conflict_do_update(
                        index_elements=[source_documents.c.id],
                        set_={name: statement.excluded[name] for name in ("data", "content_hash")},
                    ),
                    document_upserts,
                )
            if documents:
                await db.execute(delete(source_documents).where(source_documents.c.id.in_(list(documents))))
        return report

    async def replace_search_rows(
        self, connection: AsyncConnection, guild_id: int, stale: Iterable[str], fresh: Iterable[Concept]
    ) -> None:
        """Keep the full-text index in step with concept rows (in the caller's transaction `connection`)."""
        await fulltext.replace_search_rows(connection, guild_id, stale, fresh)

    async def search(
        self, text: str, guild_id: int = 0, limit: int = 10, *, overridden: Iterable[str] = ()
    ) -> list[SearchHit]:
        """Full-text search (FTS5 on SQLite, tsvector on PostgreSQL; names weighted highest); every word must
        match, else any word. Matches are marked as `bot.markup` emphasis.

        A guild searches its own rows and the shipped rows, except shipped entries it has `overridden`
        (edited or hidden), whose shipped text it no longer sees.
        """
        async with self.database.read() as connection:
            return await fulltext.search(connection, text, guild_id, limit, overridden=overridden)

    async def search_terms(
        self, terms: Iterable[SearchTerm], guild_id: int = 0, limit: int = 10, offset: int = 0, *,
        overridden: Iterable[str] = (),
    ) -> tuple[list[SearchHit], int]:  # fmt: skip
        """One page of full-text hits for structured terms (spellings, phrases, prefixes; see
        `bot.db.search.SearchTerm`), rendered in each engine's own query language, and how many match."""
        async with self.database.read() as connection:
            return await fulltext.search_terms(connection, terms, guild_id, limit, offset, overridden=overridden)

    async def shipped_concepts(self) -> list[Concept]:
        """Return every shipped concept, ordered by id."""
        rows = await self.fetch_all(select(shipped_concepts.c.data).order_by(shipped_concepts.c.id))
        return [Concept.model_validate_json(row[0]) for row in rows]

    async def source_documents(self) -> list[SourceDocument]:
        """Return the source documents the glossary cites."""
        rows = await self.fetch_all(select(source_documents.c.data).order_by(source_documents.c.id))
        return [SourceDocument.model_validate_json(row[0]) for row in rows]

    # --- guild settings: one JSON document per guild, a key per feature ---------------------------------------

    async def guild_setting(self, guild_id: int, key: str) -> Any:
        """One feature's value in a guild's settings (None when never set)."""
        stored = await self.database.fetch_value(
            select(guild_settings.c.settings).where(guild_settings.c.guild_id == guild_id)
        )
        return None if stored is None else json.loads(stored).get(key)

    async def set_guild_setting(
        self,
        guild_id: int,
        key: str,
        value: Any,
        *,
        at: str,
        within: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> None:
        """Set one feature's value, keeping the keys other features keep there.

        The row is created if missing, then read locked (FOR UPDATE on PostgreSQL; SQLite has one writer), so
        two processes changing different keys of one guild at once both keep their change. `within` runs last
        in the same transaction (telling the other processes).
        """
        async with self.transaction() as db:
            await db.execute(
                self.insert(guild_settings)
                .values(guild_id=guild_id, settings="{}", updated_at=at)
                .on_conflict_do_nothing(index_elements=[guild_settings.c.guild_id])
            )
            stored = (
                await db.execute(
                    select(guild_settings.c.settings).where(guild_settings.c.guild_id == guild_id).with_for_update()
                )
            ).scalar_one()
            settings = json.loads(stored or "{}")
            settings[key] = value
            await db.execute(
                update(guild_settings)
                .where(guild_settings.c.guild_id == guild_id)
                .values(settings=json.dumps(settings, separators=(",", ":")), updated_at=at)
            )
            if within is not None:
                await within(db)

    # --- metadata -----------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """Return a bot-wide metadata value (e.g. the hash of the last synced command tree)."""
        return await self.database.fetch_value(select(bot_meta.c.value).where(bot_meta.c.key == key))

    async def set_meta(self, key: str, value: str) -> None:
        """Store a bot-wide metadata value."""
        statement = self.insert(bot_meta).values(key=key, value=value)
        async with self.transaction() as db:
            await db.execute(
                statement.on_conflict_do_update(
                    index_elements=[bot_meta.c.key], set_={"value": statement.excluded.value}
                )
            )

    async def has_table(self, name: str) -> bool:
        """Whether the database has this table (tables a data upgrade drops, such as the SM-2 ones)."""
        async with self.database.read() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).has_table(name))

    async def table_counts(self) -> dict[str, int]:
        """Return row counts per table (for diagnostics and tests that check nothing else was touched)."""
        async with self.database.read() as connection:
            names = await connection.run_sync(lambda sync: sorted(inspect(sync).get_table_names()))
            counts: dict[str, int] = {}
            for name in names:
                if name.startswith("sqlite_"):
                    continue
                result = await connection.execute(select(func.count()).select_from(sql_table(name)))
                counts[name] = int(result.scalar_one())
        return counts

    async def fetch_all(
        self, statement: Executable | str, parameters: Mapping[str, Any] | tuple[Any, ...] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples.

        A Core statement is the way for code; a string is run as the driver's own SQL (diagnostics and tests,
        SQLite's PRAGMAs included) and committed, so a test can also change the database through it.
        """
        if isinstance(statement, str):
            async with self.database.engine.connect() as connection:
                result = await connection.exec_driver_sql(statement, parameters or ())
                rows = [tuple(row) for row in result.all()] if result.returns_rows else []
                await connection.commit()
            return rows
        return [tuple(row) for row in await self.database.fetch_all(statement, parameters)]

    async def fetch_value(self, statement: Executable) -> Any:
        """Run a query, return the first column of its first row (None without rows)."""
        return await self.database.fetch_value(statement)
