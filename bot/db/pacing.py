"""IDENTIFY pacing across processes: one IDENTIFY per `max_concurrency` bucket per 5 s, through PostgreSQL.

Discord lets a bot start `max_concurrency` sessions per 5 seconds: shard `id` is in bucket
`id % max_concurrency`, and a second IDENTIFY in a bucket within 5 s is refused (op 9). discord.py paces the
shards of one process by sleeping 5 s before each; processes on several machines know nothing of each other.
Here the bucket's turn is a PostgreSQL advisory lock, and the time of its last IDENTIFY is a row stamped with
the database's clock, so every process measures from the same clock, and a process killed right after it
identified still holds the next one back (the row outlives it; a lock alone would not).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from bot.config import DatabaseUrl
from bot.db.changes import asyncpg_dsn

log = logging.getLogger(__name__)

WINDOW_SECONDS = 5.0  # gateway.mdx: max_concurrency IDENTIFY requests per 5 seconds
MARGIN_SECONDS = 0.25  # between the stamp and the IDENTIFY on the wire: the commit and one websocket send
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('immunobot.identify:' || current_schema()), $1)"
NOW_SQL = "SELECT extract(epoch FROM clock_timestamp())::float8"
LAST_SQL = "SELECT value FROM bot_meta WHERE key = $1"
STAMP_SQL = (
    "INSERT INTO bot_meta (key, value) VALUES ($1, extract(epoch FROM clock_timestamp())::text) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def bucket_key(bucket: int) -> str:
    """The `bot_meta` key holding the bucket's last IDENTIFY (seconds since the epoch, database clock)."""
    return f"identify_bucket_{bucket}"


class IdentifyPacer:
    """Waits for a shard's turn to IDENTIFY; `await close()` when the bot stops."""

    def __init__(self, url: DatabaseUrl, max_concurrency: int, *, window: float = WINDOW_SECONDS) -> None:
        if url.backend != "postgresql":
            raise ValueError("pacing across processes needs PostgreSQL")
        self._dsn = asyncpg_dsn(url)
        self.max_concurrency = max(1, max_concurrency)
        self._window = window + MARGIN_SECONDS
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one connection: this process's shards take their turns one by one

    async def wait_turn(self, shard_id: int) -> float:
        """Return once `shard_id` may IDENTIFY (its bucket's slot is stamped now); the seconds waited."""
        bucket = shard_id % self.max_concurrency
        async with self._lock:
            connection = await self._connect()
            try:
                async with connection.transaction():
                    await connection.execute(LOCK_SQL, bucket)  # held until commit: the bucket's queue
                    last = await connection.fetchval(LAST_SQL, bucket_key(bucket))
                    now = await connection.fetchval(NOW_SQL)
                    wait = 0.0 if last is None else max(0.0, float(last) + self._window - now)
                    if wait > 0:
                        log.info("Shard %d waits %.1f s for its IDENTIFY turn (bucket %d)", shard_id, wait, bucket)
                        await asyncio.sleep(wait)  # a known remainder on the database's clock, lock held
                    await connection.execute(STAMP_SQL, bucket_key(bucket))
            except (OSError, asyncpg.InterfaceError):
                self._connection = None  # reconnect next time; discord.py retries the shard
                raise
        return wait

    async def _connect(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        return self._connection

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()
