"""Lookup counts per guild, concept and day: recorded in memory at once, written to the database in batches.

`/define` must not wait on a database write to answer, so `record()` only bumps a counter; a background task
writes what has gathered every `FLUSH_EVERY` (on the injected clock), sooner once `MAX_PENDING` lookups are
waiting, and once more when the bot stops. A failed write keeps its counts for the next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from bot.clock import Clock
from bot.store import Store

log = logging.getLogger(__name__)

FLUSH_EVERY = timedelta(seconds=30)
MAX_PENDING = 500
WEEK = 7


@dataclass(frozen=True)
class TopConcept:
    """A concept and how often it was looked up."""

    concept_id: str
    uses: int


class UsageRepository:
    """The SQL of lookup counts."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, counts: Counter[tuple[int, str, date]]) -> None:
        """Add counts in one transaction."""
        async with self._store.transaction() as db:
            await db.executemany(
                "INSERT INTO concept_uses (guild_id, concept_id, day, uses) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (guild_id, concept_id, day) DO UPDATE SET uses = uses + excluded.uses",
                [(guild_id, concept_id, day.isoformat(), uses) for (guild_id, concept_id, day), uses in counts.items()],
            )

    async def top(self, guild_id: int, since: date, limit: int = 50) -> list[TopConcept]:
        """The guild's most looked-up concepts from day `since` on, most first (ties by id, so the order is stable)."""
        rows = await self._store.fetch_all(
            "SELECT concept_id, sum(uses) AS total FROM concept_uses WHERE guild_id = ? AND day >= ? "
            "GROUP BY concept_id ORDER BY total DESC, concept_id LIMIT ?",
            (guild_id, since.isoformat(), limit),
        )
        return [TopConcept(str(row[0]), int(row[1])) for row in rows]


class UsageRecorder:
    """Counts lookups in memory and writes them in batches."""

    def __init__(
        self, repository: UsageRepository, clock: Clock, *, flush_every: timedelta = FLUSH_EVERY,
        max_pending: int = MAX_PENDING,
    ) -> None:  # fmt: skip
        self._repository = repository
        self._clock = clock
        self._flush_every = flush_every
        self._max_pending = max_pending
        self._pending: Counter[tuple[int, str, date]] = Counter()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Lookups counted but not yet written."""
        return self._pending.total()

    def record(self, guild_id: int, concept_id: str) -> None:
        """Count one lookup now; never waits."""
        self._pending[(guild_id, concept_id, self._clock.now().date())] += 1
        if self.pending >= self._max_pending:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything counted so far; return how many lookups were written."""
        async with self._flushing:
            batch, self._pending = self._pending, Counter()
            if not batch:
                return 0
            try:
                await self._repository.add(batch)
            except Exception:
                self._pending.update(batch)  # keep them for the next attempt
                raise
            return batch.total()

    async def top(self, guild_id: int, limit: int = 50) -> list[TopConcept]:
        """This week's (the last seven days', today included) most looked-up concepts, counting unwritten ones."""
        await self.flush()
        since = self._clock.now().date() - timedelta(days=WEEK - 1)
        return await self._repository.top(guild_id, since, limit)

    def start(self) -> None:
        """Start the background writer."""
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def stop(self) -> None:
        """Stop the writer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("Could not write %d lookup counts at shutdown", self.pending)

    async def _run(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self._flush_every, self._wake)
            self._wake.clear()  # after waking: a full buffer signalled before the sleep is not missed
            try:
                await self.flush()
            except Exception:
                log.exception("Writing lookup counts failed; %d will be retried", self.pending)
