"""Lookup counts per guild, concept and day: recorded in memory at once, written to the database in batches;
and the pace at which one member may look things up.

`/define` must not wait on a database write to answer, so `record()` only bumps a counter; a background task
writes what has gathered every `FLUSH_EVERY` (on the injected clock), sooner once `MAX_PENDING` lookups are
waiting, and once more when the bot stops. A failed write keeps its counts for the next attempt.

/top should say what a server studies, not what one member repeats: a member's lookups of one entry count
once a day, and at most `COUNTED_PER_DAY` of a member's lookups count in a day. (Kept in memory: after a
restart a member's lookup of the same entry that day may count once more.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from bot.clock import Clock
from bot.db.schema import concept_uses
from bot.store import Store, storage_failure

log = logging.getLogger(__name__)

FLUSH_EVERY = timedelta(seconds=30)
MAX_PENDING = 500
WEEK = 7
LOOKUPS_PER_MINUTE = 30
"""Lookups (/define, /search) one member may make in any 60 seconds: more than anyone reads, fewer than a script."""
COUNTED_PER_DAY = 50
"""A member's lookups that count towards /top in one day (each entry once)."""


class LookupPace:
    """A rolling one-minute window of each member's lookups, on the injected clock."""

    def __init__(self, clock: Clock, per_minute: int = LOOKUPS_PER_MINUTE) -> None:
        self._clock = clock
        self._per_minute = per_minute
        self._recent: dict[tuple[int, int], deque[datetime]] = {}

    def wait(self, guild_id: int | None, user_id: int) -> float:
        """Take one lookup for the member if the pace allows (0.0); else the seconds until it will (nothing taken)."""
        now = self._clock.now()
        window_start = now - timedelta(minutes=1)
        if len(self._recent) > 10_000:  # forget members who stopped: memory stays bounded
            self._recent = {key: times for key, times in self._recent.items() if times and times[-1] > window_start}
        times = self._recent.setdefault((guild_id or 0, user_id), deque())
        while times and times[0] <= window_start:
            times.popleft()
        if len(times) >= self._per_minute:
            return max(1.0, (times[0] - window_start).total_seconds())
        times.append(now)
        return 0.0


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
        """Add counts in one transaction; the increment happens in the database, so every process's counts add up."""
        if not counts:
            return
        statement = self._store.insert(concept_uses)
        async with self._store.transaction() as db:
            await db.execute(
                statement.on_conflict_do_update(
                    index_elements=[concept_uses.c.guild_id, concept_uses.c.concept_id, concept_uses.c.day],
                    set_={"uses": concept_uses.c.uses + statement.excluded.uses},
                ),
                [
                    {"guild_id": guild_id, "concept_id": concept_id, "day": day.isoformat(), "uses": uses}
                    for (guild_id, concept_id, day), uses in counts.items()
                ],
            )

    async def top(self, guild_id: int, since: date, limit: int = 50) -> list[TopConcept]:
        """The guild's most looked-up concepts from day `since` on, most first (ties by id, so the order is stable)."""
        total = func.sum(concept_uses.c.uses).label("total")
        rows = await self._store.fetch_all(
            select(concept_uses.c.concept_id, total)
            .where(concept_uses.c.guild_id == guild_id, concept_uses.c.day >= since.isoformat())
            .group_by(concept_uses.c.concept_id)
            .order_by(total.desc(), concept_uses.c.concept_id)
            .limit(limit)
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
        self._counted_day: date | None = None
        self._counted: set[tuple[int, int, str]] = set()
        self._counted_per_member: Counter[tuple[int, int]] = Counter()
        self.pace = LookupPace(clock)

    @property
    def pending(self) -> int:
        """Lookups counted but not yet written."""
        return self._pending.total()

    def record(self, guild_id: int, concept_id: str, user_id: int) -> bool:
        """Count one lookup now, unless the member already counted this entry today or reached the day's cap;
        return whether it counted. Never waits."""
        today = self._clock.now().date()
        if today != self._counted_day:
            self._counted_day = today
            self._counted.clear()
            self._counted_per_member.clear()
        key = (guild_id, user_id, concept_id)
        if key in self._counted or self._counted_per_member[(guild_id, user_id)] >= COUNTED_PER_DAY:
            return False
        self._counted.add(key)
        self._counted_per_member[(guild_id, user_id)] += 1
        self._pending[(guild_id, concept_id, today)] += 1
        if self.pending >= self._max_pending:
            self._wake.set()
        return True

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
            except Exception as error:
                if storage_failure(error) is None:
                    log.exception("Writing lookup counts failed; %d will be retried", self.pending)
                else:  # a full or busy disk passes: keep counting in memory and try again
                    log.warning("Lookup counts not written (%s); %d will be retried", error, self.pending)
