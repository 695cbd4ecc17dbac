"""The SQLite store (aiosqlite): schema migrations, the shipped glossary, settings and metadata.

All SQL lives in this package. Migrations are numbered files in `bot/migrations/` applied in order, each
in its own transaction, the schema version kept in `PRAGMA user_version`.
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
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.loader import GlossaryData
from bot.markup import EMPHASIS_END, EMPHASIS_START
from bot.models import Concept, SourceDocument

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


_SEARCH_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchHit:
    """One full-text search result: which concept, the matching passage (matches marked as `bot.markup` emphasis),
    and its relevance (higher is better)."""

    concept_id: str
    snippet: str
    relevance: float


class SchemaError(RuntimeError):
    """The database cannot be used by this version of the bot."""


@dataclass(frozen=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """Return the migrations shipped in the package, checked to be numbered 1..n without gaps."""
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


async def _to_completion(statement: Awaitable[object]) -> None:
    """Await a transaction-control statement even if our task is cancelled meanwhile.

    The statement runs in aiosqlite's thread whatever happens to the awaiting task; returning before it has
    finished would let the next BEGIN meet a transaction still open ("cannot start a transaction within a
    transaction"). The cancellation is re-raised once the statement is done.
    """
    task = asyncio.ensure_future(statement)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


STORAGE_FULL = "Nothing was saved: the bot's storage is full. Please try again later."
STORAGE_BUSY = "Nothing was saved: the bot's storage was busy for too long. Please try again in a moment."
STORAGE_BROKEN = "Nothing was saved: the bot could not write to its storage. Please try again later."


def storage_failure(error: BaseException) -> str | None:
    """Say, for a user, that nothing was saved and why, if `error` (or what caused it) is a database failure.

    A full disk, a database locked by another program past the busy timeout, an I/O error: each leaves the
    database as it was (the transaction is rolled back), so "nothing was saved" is the truth.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.DatabaseError):
            text = str(current).casefold()
            if "full" in text:
                return STORAGE_FULL
            if "locked" in text or "busy" in text:
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


class Store:
    """An open database. Create with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(self, connection: aiosqlite.Connection, path: str) -> None:
        self._db = connection
        self.path = path
        self._write_lock = asyncio.Lock()  # one connection: transactions from concurrent tasks must not interleave

    @classmethod
    async def open(cls, path: str | Path, migrations: Iterable[Migration] | None = None) -> Self:
        """Open (creating if needed) and migrate the database at `path`."""
        location = str(path)
        if location != ":memory:":
            Path(location).parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(check_usable, Path(location))
        connection = await aiosqlite.connect(location, isolation_level=None)  # transactions are explicit
        store = cls(connection, location)
        try:
            await connection.execute("PRAGMA foreign_keys = ON")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = FULL")
            await connection.execute("PRAGMA busy_timeout = 5000")
            await store.migrate(bundled_migrations() if migrations is None else list(migrations))
        except BaseException:
            await connection.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the body in one transaction: all of it is written, or on any error none of it.

        Transactions are serialised by a lock, because every task shares the one connection.
        """
        async with self._write_lock:
            try:
                await _to_completion(self._db.execute("BEGIN IMMEDIATE"))
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # no transaction to roll back if BEGIN itself failed
                    await _to_completion(self._db.execute("ROLLBACK"))
                raise
            await _to_completion(self._db.execute("COMMIT"))

    async def schema_version(self) -> int:
        """Return the schema version recorded in the database."""
        rows = await self._db.execute_fetchall("PRAGMA user_version")
        return int(next(iter(rows))[0])

    async def migrate(self, migrations: list[Migration]) -> list[int]:
        """Apply the migrations newer than the database, in order; refuse a database newer than the code."""
        current = await self.schema_version()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise SchemaError(
                f"the database {self.path} has schema version {current}, newer than this bot knows ({latest}); "
                "run a newer Immunobot or point DATABASE_PATH at another file"
            )
        applied: list[int] = []
        for migration in migrations:
            if migration.version <= current:
                continue
            log.info("Applying database migration %s", migration.name)
            await self._db.executescript(
                f"BEGIN;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
            )
            applied.append(migration.version)
        return applied

    # --- shipped glossary -------------------------------------------------------------------------------

    async def sync_shipped(self, data: GlossaryData) -> LoadReport:
        """Make the shipped tables mirror `data`, touching only rows that differ; nothing else is written."""
        report = LoadReport()
        existing = {
            row[0]: row[1] for row in await self._db.execute_fetchall("SELECT id, content_hash FROM shipped_concepts")
        }
        now = utc_now()
        upserts: list[tuple[str, str, str, str, str]] = []
        for item in data.concepts:
            payload = item.concept.model_dump_json()
            digest = _content_hash(payload + item.origin)
            previous = existing.pop(item.concept.id, None)
            if previous == digest:
                report.unchanged.append(item.concept.id)
                continue
            (report.added if previous is None else report.changed).append(item.concept.id)
            upserts.append((item.concept.id, payload, item.origin, digest, now))
        report.removed = sorted(existing)
        documents = {
            row[0]: row[1] for row in await self._db.execute_fetchall("SELECT id, content_hash FROM source_documents")
        }
        document_upserts = []
        for document in data.documents:
            payload = document.model_dump_json()
            if documents.pop(document.id, None) != _content_hash(payload):
                document_upserts.append((document.id, payload, _content_hash(payload)))
        if not (upserts or report.removed or document_upserts or documents):
            return report
        async with self.transaction():
            await self.replace_search_rows(
                0,
                [*report.changed, *report.removed],
                [item.concept for item in data.concepts if item.concept.id in {*report.added, *report.changed}],
            )
            await self._db.executemany(
                "INSERT INTO shipped_concepts (id, data, origin, content_hash, loaded_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, origin = excluded.origin, "
                "content_hash = excluded.content_hash, loaded_at = excluded.loaded_at",
                upserts,
            )
            await self._db.executemany("DELETE FROM shipped_concepts WHERE id = ?", [(i,) for i in report.removed])
            await self._db.executemany(
                "INSERT INTO source_documents (id, data, content_hash) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, content_hash = excluded.content_hash",
                document_upserts,
            )
            await self._db.executemany("DELETE FROM source_documents WHERE id = ?", [(i,) for i in documents])
        return report

    async def replace_search_rows(self, guild_id: int, stale: Iterable[str], fresh: Iterable[Concept]) -> None:
        """Keep the full-text index in step with concept rows (call inside `transaction()`)."""
        await self._db.executemany(
            "DELETE FROM concept_search WHERE guild_id = ? AND concept_id = ?", [(guild_id, i) for i in stale]
        )
        await self._db.executemany(
            "INSERT INTO concept_search (concept_id, guild_id, name, aliases, summary, definition) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(c.id, guild_id, c.name, " ; ".join(c.aliases), c.summary, c.definition) for c in fresh],
        )

    async def search(
        self, text: str, guild_id: int = 0, limit: int = 10, *, overridden: Iterable[str] = ()
    ) -> list[SearchHit]:
        """Full-text search (FTS5, BM25 with names weighted highest); every word must match, else any word.

        A guild searches its own rows and the shipped rows, except shipped entries it has `overridden`
        (edited or hidden), whose shipped text it no longer sees.
        """
        words = _SEARCH_WORD.findall(text.casefold())[:12]
        if not words:
            return []
        quoted = [f'"{word}"' for word in words]
        quoted[-1] += "*"  # the last word may be unfinished
        hidden_shipped = json.dumps(sorted(overridden))
        for expression in (" ".join(quoted), " OR ".join(quoted)):
            rows = await self._db.execute_fetchall(
                "SELECT concept_id, snippet(concept_search, -1, ?, ?, '…', 14), "
                "bm25(concept_search, 0.0, 0.0, 10.0, 6.0, 2.0, 1.0) AS score "
                "FROM concept_search WHERE concept_search MATCH ? AND (guild_id = ? OR (guild_id = 0 AND "
                "concept_id NOT IN (SELECT value FROM json_each(?)))) ORDER BY score LIMIT ?",
                (EMPHASIS_START, EMPHASIS_END, expression, guild_id, hidden_shipped, limit),
            )
            if rows:
                return [SearchHit(row[0], row[1], -float(row[2])) for row in rows]
        return []

    async def search_expressions(
        self,
        expressions: Iterable[str],
        guild_id: int = 0,
        limit: int = 10,
        offset: int = 0,
        *,
        overridden: Iterable[str] = (),
    ) -> tuple[list[SearchHit], int]:
        """One page of full-text hits for the first FTS5 expression that matches anything, and how many it matches.

        The expressions come from `bot.search` (spellings, phrases and prefixes already worked out); the scope
        is that of `search`.
        """
        hidden_shipped = json.dumps(sorted(overridden))
        scope = (
            "FROM concept_search WHERE concept_search MATCH ? AND (guild_id = ? OR (guild_id = 0 AND "
            "concept_id NOT IN (SELECT value FROM json_each(?))))"
        )
        for expression in expressions:
            try:
                counted = await self._db.execute_fetchall(
                    f"SELECT count(*) {scope}", (expression, guild_id, hidden_shipped)
                )
            except sqlite3.OperationalError:  # an expression FTS5 cannot parse matches nothing
                log.warning("unusable search expression %r", expression)
                continue
            total = int(next(iter(counted))[0])
            if not total:
                continue
            rows = await self._db.execute_fetchall(
                "SELECT concept_id, snippet(concept_search, -1, ?, ?, '…', 14), "
                f"bm25(concept_search, 0.0, 0.0, 10.0, 6.0, 2.0, 1.0) AS score {scope} "
                "ORDER BY score, concept_id LIMIT ? OFFSET ?",
                (EMPHASIS_START, EMPHASIS_END, expression, guild_id, hidden_shipped, limit, offset),
            )
            return [SearchHit(row[0], row[1], -float(row[2])) for row in rows], total
        return [], 0

    async def shipped_concepts(self) -> list[Concept]:
        """Return every shipped concept, ordered by id."""
        rows = await self._db.execute_fetchall("SELECT data FROM shipped_concepts ORDER BY id")
        return [Concept.model_validate_json(row[0]) for row in rows]

    async def source_documents(self) -> list[SourceDocument]:
        """Return the source documents the glossary cites."""
        rows = await self._db.execute_fetchall("SELECT data FROM source_documents ORDER BY id")
        return [SourceDocument.model_validate_json(row[0]) for row in rows]

    # --- metadata -----------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """Return a bot-wide metadata value (e.g. the hash of the last synced command tree)."""
        rows = await self._db.execute_fetchall("SELECT value FROM bot_meta WHERE key = ?", (key,))
        return next((row[0] for row in rows), None)

    async def set_meta(self, key: str, value: str) -> None:
        """Store a bot-wide metadata value."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO bot_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def table_counts(self) -> dict[str, int]:
        """Return row counts per table (for diagnostics and tests that check nothing else was touched)."""
        names = await self._db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        counts: dict[str, int] = {}
        for (name,) in names:
            rows = await self._db.execute_fetchall(f'SELECT count(*) FROM "{name}"')  # noqa: S608 - names from schema
            counts[name] = int(next(iter(rows))[0])
        return counts

    async def fetch_all(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query for diagnostics and tests."""
        return [tuple(row) for row in await self._db.execute_fetchall(sql, parameters)]
