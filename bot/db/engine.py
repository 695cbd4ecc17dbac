"""Opening the store: an SQLAlchemy async engine over aiosqlite or asyncpg, and its transactions.

`Database` is what the feature modules use: `transaction()` for writes (all or nothing), `read()` and the
`fetch_*` helpers for reads. SQLite keeps today's semantics: WAL, foreign keys on, synchronous=FULL, and one
writer at a time — writes are serialised in the process by a lock and start with BEGIN IMMEDIATE, so a
transaction never fails half-way for a lock another connection took first. PostgreSQL needs neither: each
transaction has its own pooled connection and the database arbitrates.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy import Executable, Row, Table, event, func, inspect, select
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import await_

from bot.config import DatabaseUrl
from bot.db.schema import metadata

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 5000",
)
T = TypeVar("T")
_IMMEDIATE = "immunobot_begin_immediate"  # execution option: this transaction will write
_SINGLE_READ = "immunobot_single_read"  # execution option: one SELECT, atomic by itself (no BEGIN needed)


# Every aiosqlite connection an engine opened: each has a (non-daemon) thread, which must be stopped at close even
# if a task abandoned its connection mid-use, or the process could not exit.
_OPENED: weakref.WeakKeyDictionary[object, list[Any]] = weakref.WeakKeyDictionary()


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """Pragmas on every new connection, and BEGIN emitted by us (pysqlite's own would defer it badly)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        _OPENED.setdefault(engine.sync_engine, []).append(record.driver_connection)
        dbapi_connection.isolation_level = None  # no implicit transactions: ours begin in _on_begin
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(_SINGLE_READ, False):
            return
        # Straight to aiosqlite (one trip to its thread, where a statement through SQLAlchemy takes three).
        driver = connection.connection.driver_connection
        await_(driver.execute("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN"))


def create_engine(database: DatabaseUrl, *, pool_size: int = 5, reader: bool = False) -> AsyncEngine:
    """Return an engine for `database`; SQLite files get their parent directory created.

    An SQLite file gets one writing connection, as the store always had: one writer, and per-connection state
    (PRAGMAs, TEMP objects) the same for every write. With `reader`, an engine of `pool_size` connections for
    reads, which WAL lets run beside a write transaction (seeing what was committed before it).
    """
    if database.backend == "sqlite":
        path = database.sqlite_path
        if path is None:  # in memory: one connection, or every connection would see its own empty database
            engine = create_async_engine(database.url, poolclass=StaticPool)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(database.url, pool_size=pool_size if reader else 1, max_overflow=0)
        _prepare_sqlite(engine)
        return engine
    return create_async_engine(database.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


async def _to_completion(step: Awaitable[T]) -> T:
    """Await a commit, rollback or close even if our task is cancelled meanwhile, then re-raise the cancel.

    Leaving early would return a connection to the pool with its transaction still open.
    """
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


async def count_rows(connection: AsyncConnection) -> dict[str, int]:
    """Rows per table of the schema the database has, the full-text index included (diagnostics, copies, tests).

    Tables a data upgrade dropped (the SM-2 flashcard tables, once replayed into FSRS) are left out.
    """
    present = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    counts = {}
    for table in [*(each for each in metadata.sorted_tables if each.name in present), sql_table("concept_search")]:
        counts[table.name] = int((await connection.execute(select(func.count()).select_from(table))).scalar_one())
    return counts


class Database:
    """An open store. Create with `await Database.open(url)` (migrated to the newest schema); `await close()`."""

    def __init__(self, url: DatabaseUrl, engine: AsyncEngine) -> None:
        self.url = url
        self.engine = engine
        # SQLite files: reads on connections of their own, never queued behind the one writer
        self.reader = create_engine(url, pool_size=4, reader=True) if url.sqlite_path is not None else engine
        self._write_lock = asyncio.Lock() if url.backend == "sqlite" else None

    @classmethod
    async def open(cls, url: DatabaseUrl | str | Path, *, migrate: bool = True) -> Self:
        """Connect, and bring the schema up to date (adopting a database the numbered SQL migrations made)."""
        if not isinstance(url, DatabaseUrl):
            url = DatabaseUrl.parse(url) if "://" in str(url) else DatabaseUrl.sqlite(url)
        database = cls(url, create_engine(url))
        if migrate:
            from bot.db.migrate import upgrade

            try:
                await upgrade(database)
            except BaseException:
                await database.close()
                raise
        return database

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`: for the few places (full-text search) where each engine has its own SQL."""
        return self.url.backend

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """INSERT for `table` in this engine's dialect, for upserts that read the same on both engines:

        `db.insert(t).values(...).on_conflict_do_update(index_elements=[...], set_={...})` or
        `.on_conflict_do_nothing()`; `insert(t).excluded.column` is the row that was refused.
        """
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

    async def close(self) -> None:
        """Close every pooled connection (idempotent)."""
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()
        for engine in {self.engine, self.reader}:
            for driver in _OPENED.pop(engine.sync_engine, []):
                with contextlib.suppress(Exception):  # already closed, or broken: either way its thread ends
                    await driver.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Run the body in one write transaction: all of it is committed, or on any error none of it."""
        async with self._write_lock if self._write_lock is not None else contextlib.nullcontext():
            connection = await self.engine.connect()
            try:
                if self._write_lock is not None:
                    await connection.execution_options(**{_IMMEDIATE: True})
                await connection.begin()
                try:
                    yield connection
                except BaseException:
                    await _to_completion(connection.rollback())
                    raise
                await _to_completion(connection.commit())
            finally:
                await _to_completion(connection.close())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: one consistent snapshot for the body (nothing is written)."""
        connection = await self.reader.connect()
        try:
            yield connection
        finally:  # closed (its transaction ended) even when the task is cancelled: never a leaked connection
            await _to_completion(connection.close())

    async def table_counts(self) -> dict[str, int]:
        """Rows per table (for diagnostics and tests that check nothing else was touched)."""
        async with self.read() as connection:
            return await count_rows(connection)

    @asynccontextmanager
    async def _single_read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement: on SQLite without BEGIN (a statement is atomic by itself)."""
        connection = await self.reader.connect()
        try:
            if self._write_lock is not None:
                await connection.execution_options(**{_SINGLE_READ: True})
            yield connection
        finally:
            await _to_completion(connection.close())

    async def fetch_all(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Sequence[Row]:
        """Run a query, return every row."""
        async with self._single_read() as connection:
            return (await connection.execute(statement, parameters)).all()

    async def fetch_one(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Row | None:
        """Run a query, return its first row or None."""
        async with self._single_read() as connection:
            return (await connection.execute(statement, parameters)).first()

    async def fetch_value(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        """Run a query, return the first column of its first row (None without rows)."""
        async with self._single_read() as connection:
            return (await connection.execute(statement, parameters)).scalar()
