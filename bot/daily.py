"""Concept of the day: schedules, the exactly-once posting protocol, the per-guild cycle, and the scheduler.

Nothing here knows Discord: sending goes through a `PostSender`, time through a `Clock`. The rules:
- one post per guild per local calendar day, at the guild's time in its timezone (DST-safe: the day is the key);
- down at post time and back the same day: post once (catch-up); back a later day: today's only, no burst;
- intent is recorded before sending and the result after, so a restart can tell (by asking the sender to look
  for the post) whether a message went out, and never posts twice;
- a permanent failure (channel gone, permission lost, bot removed) stops the guild's schedule, once, with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aiolimiter import AsyncLimiter
from sqlalchemy import ScalarSelect, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.db.schema import daily_posts, daily_queue, daily_schedules
from bot.glossary import Glossary
from bot.scores import WEAK_MIN_ANSWERS, weak_concepts_query, weak_order
from bot.store import Store, utc_now

log = logging.getLogger(__name__)

PARALLEL_POSTS = 8
"""Guilds posted at once when many are due together; discord.py paces each channel's rate limit."""

POSTS_PER_SECOND = 40.0
"""Posts a whole bot starts per second when many guilds are due at once: Discord allows a bot 50 requests per
second across all its processes (rate-limits.mdx); the rest is left for everything else. Each process takes
its share of shards' part of it, so a cluster's daily burst stays under the global limit without a 429."""

CLAIM_LEASE = timedelta(minutes=5)
"""How long a claim on a day's post is its owner's alone; after that another claimer may take it over."""

RETRY_AFTER_TRANSIENT = timedelta(minutes=5)
"""When Discord fails in a way that may pass (5xx, network), try that guild again after this long."""

_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


class DailyState(StrEnum):
    """Whether a guild's schedule runs."""

    ACTIVE = "active"
    PAUSED = "paused"
    OFF = "off"
    STOPPED = "stopped"  # by a failure the moderators must fix; `/daily show` says why


@dataclass(frozen=True)
class DailySchedule:
    """One guild's concept-of-the-day settings."""

    guild_id: int
    channel_id: int
    post_time: time
    timezone: str
    categories: tuple[str, ...] = ()
    state: DailyState = DailyState.ACTIVE
    stopped_reason: str | None = None
    active_since: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    """Set when a moderator turns posting on or resumes it: a time already past then is not "missed"."""
    pool: str = "cycle"
    """"cycle": the shuffled cycle; "weak": what the server keeps missing in quizzes first, else the cycle."""

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's timezone."""
        return ZoneInfo(self.timezone)

    def local_date(self, moment: datetime) -> date:
        """The guild's calendar day at `moment`."""
        return moment.astimezone(self.zone).date()

    def post_moment(self, day: date) -> datetime:
        """When the post for local `day` is due, in UTC.

        A time that does not exist that day (02:30 on a spring-forward day) falls an hour later, as clocks do;
        a time that exists twice (autumn) is the first one. Posting is keyed by the day, so it happens once.
        """
        return datetime.combine(day, self.post_time, tzinfo=self.zone).astimezone(UTC)


def parse_post_time(text: str) -> time:
    """Read a 24-hour time like `08:00`, `8:00`, `20.30` or `7h15`; raise ValueError with a usable message."""
    matched = _TIME.match(text)
    if matched:
        hours, minutes = int(matched.group(1)), int(matched.group(2))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError(f"“{text.strip()[:20]}” is not a time. Use 24-hour HH:MM, for example 08:00 or 19:30.")


def next_due(schedule: DailySchedule, now: datetime, last_day: date | None) -> datetime:
    """When this guild should post next, given the last local day it has a post for.

    Today's post time already past means due now (the bot was down then: catch up today only), unless it
    passed before the schedule was switched on: a new schedule starts at its next post time.
    """
    today = schedule.local_date(now)
    if (last_day is not None and last_day >= today) or schedule.post_moment(today) < schedule.active_since:
        return schedule.post_moment(today + timedelta(days=1))
    return schedule.post_moment(today)


class PostError(Exception):
    """Sending failed. `permanent` failures stop the schedule until a moderator fixes it."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class PostSender(Protocol):
    """How the scheduler reaches a channel (Discord in production)."""

    async def send(self, schedule: DailySchedule, concept_id: str, day: date) -> int:
        """Post the concept for `day`; return the message id or raise PostError."""
        ...

    async def find_post(self, schedule: DailySchedule, day: date, since: datetime) -> int | None:
        """Return the id of the bot's post for `day` in the channel if one exists (crash recovery)."""
        ...


@dataclass(frozen=True)
class PostRecord:
    """One row of the daily post history."""

    local_date: date
    concept_id: str
    status: str
    message_id: int | None
    channel_id: int
    detail: str | None


@dataclass(frozen=True)
class Busy:
    """Another claimer owns the day's post until `until` (it may be sending it right now)."""

    owner: str
    until: datetime


_SCHEDULE_COLUMNS = tuple(
    daily_schedules.c[name]
    for name in ("guild_id", "channel_id", "post_time", "timezone", "categories", "state", "stopped_reason",
                 "active_since", "pool")
)  # fmt: skip
WEAK_POOL_DAYS = 30
"""How far back the weak pool looks at quiz answers."""
WEAK_POOL_GAP_DAYS = 7
"""A weak concept is not posted again within this many days."""


_POST = daily_posts.c
_QUEUE = daily_queue.c
_SCHEDULE = daily_schedules.c
_RECORD_COLUMNS = (_POST.local_date, _POST.concept_id, _POST.status, _POST.message_id, _POST.channel_id, _POST.detail)


def _day(guild_id: int, day: date) -> tuple[object, ...]:
    """The criteria naming one guild's post of one day."""
    return (_POST.guild_id == guild_id, _POST.local_date == day.isoformat())


class _ClaimLostError(Exception):
    """Another process claimed the day between our look and our write (PostgreSQL): undo, and report Busy."""


class DailyRepository:
    """The SQL of the daily feature."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def schedules(self) -> list[DailySchedule]:
        """Every guild's schedule."""
        rows = await self._store.fetch_all(select(*_SCHEDULE_COLUMNS))
        return [self._schedule(row) for row in rows]

    async def schedule(self, guild_id: int) -> DailySchedule | None:
        """One guild's schedule, if it ever set one."""
        rows = await self._store.fetch_all(select(*_SCHEDULE_COLUMNS).where(_SCHEDULE.guild_id == guild_id))
        return self._schedule(rows[0]) if rows else None

    @staticmethod
    def _schedule(row: Sequence[object]) -> DailySchedule:
        guild_id, channel_id, post_time, timezone, categories, state, reason, active_since, pool = row
        return DailySchedule(
            guild_id=int(str(guild_id)),
            channel_id=int(str(channel_id)),
            post_time=time.fromisoformat(str(post_time)),
            timezone=str(timezone),
            categories=tuple(json.loads(str(categories))),
            state=DailyState(str(state)),
            stopped_reason=None if reason is None else str(reason),
            active_since=datetime.fromisoformat(str(active_since)),
            pool=str(pool),
        )

    async def save_schedule(self, schedule: DailySchedule) -> None:
        """Create or replace a guild's schedule."""
        statement = self._store.insert(daily_schedules).values(
            guild_id=schedule.guild_id,
            channel_id=schedule.channel_id,
            post_time=schedule.post_time.strftime("%H:%M"),
            timezone=schedule.timezone,
            categories=json.dumps(list(schedule.categories)),
            state=schedule.state.value,
            stopped_reason=schedule.stopped_reason,
            active_since=schedule.active_since.isoformat(),
            updated_at=utc_now(),
            pool=schedule.pool,
        )
        replaced = ("channel_id", "post_time", "timezone", "categories", "state", "stopped_reason", "active_since",
                    "updated_at", "pool")  # fmt: skip
        async with self._store.transaction() as db:
            await db.execute(
                statement.on_conflict_do_update(
                    index_elements=[_SCHEDULE.guild_id], set_={name: statement.excluded[name] for name in replaced}
                )
            )

    async def last_day(self, guild_id: int) -> date | None:
        """The latest local day this guild has a sent post for (a pending day is still due: it may need recovery)."""
        value = await self._store.fetch_value(
            select(func.max(_POST.local_date)).where(_POST.guild_id == guild_id, _POST.status == "posted")
        )
        return None if value is None else date.fromisoformat(str(value))

    async def post(self, guild_id: int, day: date) -> PostRecord | None:
        """The post row for a guild's day."""
        rows = await self._store.fetch_all(select(*_RECORD_COLUMNS).where(*_day(guild_id, day)))
        return self._record(rows[0]) if rows else None

    async def recent_posts(self, guild_id: int, limit: int = 5) -> list[PostRecord]:
        """The latest post rows, newest first."""
        rows = await self._store.fetch_all(
            select(*_RECORD_COLUMNS).where(_POST.guild_id == guild_id).order_by(_POST.local_date.desc()).limit(limit)
        )
        return [self._record(row) for row in rows]

    @staticmethod
    def _record(row: Sequence[object]) -> PostRecord:
        day, concept_id, status, message_id, channel_id, detail = row
        return PostRecord(
            date.fromisoformat(str(day)),
            str(concept_id),
            str(status),
            None if message_id is None else int(str(message_id)),
            int(str(channel_id)),
            None if detail is None else str(detail),
        )

    async def claim_day(
        self, schedule: DailySchedule, day: date, candidates: list[str], *, owner: str, now: datetime,
        lease: timedelta = CLAIM_LEASE,
    ) -> tuple[PostRecord, bool] | Busy | None:  # fmt: skip
        """Record the intent to post for `day` (choosing the next concept of the cycle), owned by `owner` until
        `now + lease`.

        Returns the pending record to act on and whether an earlier attempt may already have sent it (a pending
        row taken over); `Busy` when another owner's lease still runs (it may be sending right now); None when
        the day is already posted or the pool is empty. One transaction: two callers cannot both claim a day.
        An owner token is "<process>:<attempt>": a pending row of this very process is never busy, since this
        process runs one attempt per guild at a time.

        Across processes (PostgreSQL) the guild's schedule row is locked first with FOR UPDATE SKIP LOCKED: a
        process that finds it locked is Busy at once rather than waiting; the unique key (guild, local date)
        refuses a second claim in any case. On SQLite (one writer) the lock clauses are left out.
        """
        expires = (now + lease).isoformat()
        try:
            async with self._store.transaction() as db:
                return await self._claim(db, schedule, day, candidates, owner=owner, now=now, lease=expires)
        except (_ClaimLostError, IntegrityError):
            return Busy("another process", now + lease)

    async def _claim(
        self, db: AsyncConnection, schedule: DailySchedule, day: date, candidates: list[str], *, owner: str,
        now: datetime, lease: str,
    ) -> tuple[PostRecord, bool] | Busy | None:  # fmt: skip
        guild = _SCHEDULE.guild_id == schedule.guild_id
        if self._store.dialect != "sqlite":
            locked = (
                await db.execute(select(_SCHEDULE.guild_id).where(guild).with_for_update(skip_locked=True))
            ).first()
            if locked is None and (await db.execute(select(_SCHEDULE.guild_id).where(guild))).first() is not None:
                raise _ClaimLostError  # another process is claiming this guild's day right now
        row = (
            await db.execute(
                select(*_RECORD_COLUMNS, _POST.claim_owner, _POST.claim_expires)
                .where(*_day(schedule.guild_id, day))
                .with_for_update(skip_locked=True)
            )
        ).first()
        if (
            row is None
            and self._store.dialect != "sqlite"
            and (await db.execute(select(_POST.status).where(*_day(schedule.guild_id, day)))).first() is not None
        ):
            raise _ClaimLostError  # its row is locked by another claimer
        if row is not None:
            existing = self._record(tuple(row)[:6])
            if existing.status == "posted":
                return None
            if existing.status == "failed":
                await db.execute(
                    update(daily_posts)
                    .where(*_day(schedule.guild_id, day))
                    .values(status="pending", channel_id=schedule.channel_id, intent_at=utc_now(), detail=None,
                            claim_owner=owner, claim_expires=lease)
                )  # fmt: skip
                return replace(existing, status="pending", channel_id=schedule.channel_id, detail=None), False
            holder, expires = row[6], row[7]
            same_process = holder is not None and str(holder).split(":")[0] == owner.split(":")[0]
            if holder is not None and not same_process and expires and datetime.fromisoformat(str(expires)) > now:
                return Busy(str(holder), datetime.fromisoformat(str(expires)))
            await db.execute(
                update(daily_posts).where(*_day(schedule.guild_id, day)).values(claim_owner=owner, claim_expires=lease)
            )
            return existing, True
        concept_id, reason = await self._choose(db, schedule, day, candidates)
        if concept_id is None:
            return None
        inserted = (
            await db.execute(
                self._store.insert(daily_posts)
                .values(guild_id=schedule.guild_id, local_date=day.isoformat(), concept_id=concept_id,
                        channel_id=schedule.channel_id, status="pending", intent_at=utc_now(), claim_owner=owner,
                        claim_expires=lease, reason=reason)
                .on_conflict_do_nothing()
                .returning(_POST.guild_id)
            )
        ).first()  # fmt: skip
        if inserted is None:
            raise _ClaimLostError  # claimed by another process meanwhile: our queue changes are rolled back too
        return PostRecord(day, concept_id, "pending", None, schedule.channel_id, None), False

    async def _choose(
        self, db: AsyncConnection, schedule: DailySchedule, day: date, candidates: list[str]
    ) -> tuple[str | None, str | None]:
        """The day's concept and, for the weak pool, why it was chosen: the concept the server's quiz answers
        miss most (over WEAK_POOL_DAYS, not posted in the last WEAK_POOL_GAP_DAYS), else the cycle's next."""
        if schedule.pool != "weak":
            return await self._next_in_cycle(db, schedule.guild_id, candidates), None
        since = (day - timedelta(days=WEAK_POOL_DAYS)).isoformat()
        gap_start = (day - timedelta(days=WEAK_POOL_GAP_DAYS)).isoformat()
        recent = {
            str(row[0])
            for row in await db.execute(
                select(_POST.concept_id).where(_POST.guild_id == schedule.guild_id, _POST.local_date >= gap_start)
            )
        }
        allowed = set(candidates) - recent
        scores = weak_order((await db.execute(weak_concepts_query(schedule.guild_id, since, WEAK_MIN_ANSWERS))).all())
        weakest = next((score for score in scores if score.concept_id in allowed), None)
        if weakest is None:
            reason = (
                "Chosen from the usual cycle: no concept stands out in this server's quiz answers of the last "
                f"{WEAK_POOL_DAYS} days."
            )
            return await self._next_in_cycle(db, schedule.guild_id, candidates), reason
        await db.execute(  # taken out of the current cycle, so the cycle does not bring it back soon
            update(daily_queue)
            .where(
                _QUEUE.guild_id == schedule.guild_id,
                _QUEUE.concept_id == weakest.concept_id,
                _QUEUE.cycle == _latest_cycle(schedule.guild_id),
            )
            .values(posted=1)
        )
        reason = (
            f"Chosen because this server keeps missing it: {weakest.correct} of {weakest.answered} quiz answers "
            f"right in the last {WEAK_POOL_DAYS} days."
        )
        return weakest.concept_id, reason

    async def reason(self, guild_id: int, day: date) -> str | None:
        """Why the day's concept was chosen (weak pool only)."""
        value = await self._store.fetch_value(select(_POST.reason).where(*_day(guild_id, day)))
        return None if value is None else str(value)

    async def _next_in_cycle(self, db: AsyncConnection, guild_id: int, candidates: list[str]) -> str | None:
        """Take the next concept of the guild's shuffled cycle, extending or renewing the cycle as needed."""
        connection = db
        if not candidates:
            return None
        rows = await connection.execute(
            select(_QUEUE.cycle, _QUEUE.position, _QUEUE.concept_id, _QUEUE.posted)
            .where(_QUEUE.guild_id == guild_id, _QUEUE.cycle == _latest_cycle(guild_id))
            .order_by(_QUEUE.position)
        )
        queue = [tuple(row) for row in rows]
        cycle = int(queue[0][0]) if queue else 0
        allowed = set(candidates)
        in_cycle = {str(row[2]) for row in queue}
        newcomers = [concept_id for concept_id in candidates if concept_id not in in_cycle]
        remaining = [row for row in queue if not row[3] and str(row[2]) in allowed]
        if newcomers and queue:  # entries added since the cycle began join it, at random places among the rest
            rng = random.Random(f"{guild_id}:{cycle}:{len(queue)}")
            rng.shuffle(newcomers)
            next_position = max(int(row[1]) for row in queue) + 1
            await connection.execute(
                insert(daily_queue),
                [{"guild_id": guild_id, "cycle": cycle, "position": next_position + i, "concept_id": concept_id}
                 for i, concept_id in enumerate(newcomers)],
            )  # fmt: skip
            remaining += [(cycle, next_position + i, concept_id, 0) for i, concept_id in enumerate(newcomers)]
            rng.shuffle(remaining)
        if not remaining:
            cycle += 1
            order = list(candidates)
            random.Random(f"{guild_id}:{cycle}").shuffle(order)
            last = next((str(row[2]) for row in reversed(queue) if row[3]), None)
            if len(order) > 1 and order[0] == last:  # never the same concept two days running across cycles
                order.append(order.pop(0))
            await connection.execute(
                insert(daily_queue),
                [{"guild_id": guild_id, "cycle": cycle, "position": position, "concept_id": concept_id}
                 for position, concept_id in enumerate(order)],
            )  # fmt: skip
            remaining = [(cycle, position, concept_id, 0) for position, concept_id in enumerate(order)]
        chosen = remaining[0]
        await connection.execute(
            update(daily_queue)
            .where(_QUEUE.guild_id == guild_id, _QUEUE.cycle == int(chosen[0]), _QUEUE.concept_id == str(chosen[2]))
            .values(posted=1)
        )
        return str(chosen[2])

    async def finish(self, guild_id: int, day: date, *, message_id: int | None, failure: str | None = None) -> None:
        """Record the result of a post: sent (with its message id) or failed (with why)."""
        if failure is None:
            values: dict[str, object] = {"status": "posted", "message_id": message_id, "posted_at": utc_now(),
                                         "detail": None}  # fmt: skip
        else:
            values = {"status": "failed", "detail": failure}
        async with self._store.transaction() as db:
            await db.execute(update(daily_posts).where(*_day(guild_id, day)).values(**values))

    async def cycle_history(self, guild_id: int) -> list[tuple[int, str, bool]]:
        """(cycle, concept id, posted) in order: for tests and diagnostics."""
        rows = await self._store.fetch_all(
            select(_QUEUE.cycle, _QUEUE.concept_id, _QUEUE.posted)
            .where(_QUEUE.guild_id == guild_id)
            .order_by(_QUEUE.cycle, _QUEUE.position)
        )
        return [(int(row[0]), str(row[1]), bool(row[2])) for row in rows]


def _latest_cycle(guild_id: int) -> ScalarSelect[Any]:
    """The guild's current cycle number, as a subquery."""
    return select(func.max(_QUEUE.cycle)).where(_QUEUE.guild_id == guild_id).scalar_subquery()


class DailyScheduler:
    """One task for all guilds: it sleeps until the earliest due post, posts what is due, and repeats."""

    def __init__(
        self,
        repository: DailyRepository,
        glossary_for: _GlossaryFor,
        sender: PostSender,
        clock: Clock,
        owns: Callable[[int], bool] = lambda _guild_id: True,
        lease: timedelta = CLAIM_LEASE,
        share: float = 1.0,
    ) -> None:
        self._repository = repository
        # one post per slot, evenly spaced (no burst): never more than the rate in any second, in real seconds
        self._pace = AsyncLimiter(1, 1.0 / max(1.0, POSTS_PER_SECOND * share))
        self._lease = lease  # DAILY_CLAIM_LEASE_SECONDS: how long a crashed process's claim holds the others back
        self._owns = owns  # several processes: each posts for the guilds on its own shards (issue 12)
        self._glossary_for = glossary_for
        self._sender = sender
        self._clock = clock
        self._schedules: dict[int, DailySchedule] = {}
        self._due: dict[int, datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._limit = asyncio.Semaphore(PARALLEL_POSTS)
        self._process = secrets.token_hex(8)
        self._attempts = itertools.count(1)
        self._posting: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._busy_until: dict[int, datetime] = {}

    async def start(self) -> None:
        """Load every schedule and start the scheduling task."""
        for schedule in await self._repository.schedules():
            await self._plan(schedule)
        self._task = asyncio.create_task(self._run(), name="daily-scheduler")

    async def stop(self) -> None:
        """Cancel the scheduling task (posts in flight finish their database writes first)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def schedule_of(self, guild_id: int) -> DailySchedule | None:
        """The guild's schedule as the scheduler knows it."""
        return self._schedules.get(guild_id)

    def next_post(self, guild_id: int) -> datetime | None:
        """When the guild posts next (None when it does not)."""
        return self._due.get(guild_id)

    async def update(self, schedule: DailySchedule) -> None:
        """Save a changed schedule and re-plan it at once."""
        await self._repository.save_schedule(schedule)
        await self._plan(schedule)
        self._wake.set()

    async def halt(self, guild_id: int, reason: str) -> None:
        """Stop a guild's schedule because posting cannot work (logged once, shown by `/daily show`)."""
        schedule = self._schedules.get(guild_id)
        if schedule is None or schedule.state is not DailyState.ACTIVE:
            return
        log.warning("Daily posts stopped for guild %s: %s", guild_id, reason)
        await self.update(replace(schedule, state=DailyState.STOPPED, stopped_reason=reason))

    async def post_now(self, guild_id: int) -> tuple[str, PostRecord | None]:
        """Post today's concept immediately; return ('posted' | 'already' | 'empty' | 'failed: …', record)."""
        schedule = self._schedules.get(guild_id)
        if schedule is None:
            return "unset", None
        day = schedule.local_date(self._clock.now())
        existing = await self._repository.post(guild_id, day)
        if existing is not None and existing.status == "posted":
            return "already", existing
        outcome = await self._post(schedule, day)
        await self._plan(self._schedules.get(guild_id, schedule))
        self._wake.set()
        return outcome, await self._repository.post(guild_id, day)

    async def recent_posts(self, guild_id: int, limit: int = 5) -> list[PostRecord]:
        """The guild's latest posts, newest first."""
        return await self._repository.recent_posts(guild_id, limit)

    async def wait_idle(self) -> None:
        """Wait until the scheduler has nothing due at the current time (tests use this after moving the clock)."""
        self._wake.set()
        while True:
            self._idle.clear()
            await self._idle.wait()
            now = self._clock.now()
            if all(due > now for due in self._due.values()):
                return

    async def _plan(self, schedule: DailySchedule) -> None:
        self._schedules[schedule.guild_id] = schedule
        if schedule.state is DailyState.ACTIVE and self._owns(schedule.guild_id):
            last = await self._repository.last_day(schedule.guild_id)
            self._due[schedule.guild_id] = next_due(schedule, self._clock.now(), last)
        else:
            self._due.pop(schedule.guild_id, None)

    async def _run(self) -> None:
        while True:
            now = self._clock.now()
            due = [guild_id for guild_id, moment in self._due.items() if moment <= now]
            if due:
                await asyncio.gather(*(self._post_due(guild_id) for guild_id in due))
                continue
            self._idle.set()
            self._wake.clear()
            upcoming = min(self._due.values(), default=now + timedelta(days=1))
            await self._clock.sleep_until(upcoming, self._wake)

    async def _post_due(self, guild_id: int) -> None:
        schedule = self._schedules[guild_id]
        async with self._limit:
            await self._pace.acquire()
            try:
                outcome = await self._post(schedule, schedule.local_date(self._clock.now()))
            except Exception:  # one guild's unexpected failure must not stop the others; try it again later
                log.exception("Daily post for guild %s failed unexpectedly", guild_id)
                outcome = "retry"
        current = self._schedules.get(guild_id, schedule)
        if outcome == "retry":
            self._due[guild_id] = self._clock.now() + RETRY_AFTER_TRANSIENT
        elif outcome == "busy":  # another claimer's lease: look again when it ends
            self._due[guild_id] = self._busy_until.pop(guild_id, self._clock.now() + self._lease)
        else:
            await self._plan(current)

    async def _post(self, schedule: DailySchedule, day: date) -> str:
        """Post for `day` exactly once: claim, check for an earlier attempt's message, send, record.

        One attempt per guild at a time in this process (a second one, say `/daily now` while the scheduler's
        send waits out a 429, waits for the first and then finds the day posted); across processes the claim's
        owner and lease decide ("busy": someone else is on it).
        """
        async with self._posting[schedule.guild_id]:
            return await self._post_once(schedule, day)

    async def _post_once(self, schedule: DailySchedule, day: date) -> str:
        glossary = self._glossary_for(schedule.guild_id)
        owner = f"{self._process}:{next(self._attempts)}"
        claimed = await self._repository.claim_day(
            schedule, day, glossary.pool(schedule.categories), owner=owner, now=self._clock.now(), lease=self._lease
        )
        if isinstance(claimed, Busy):
            log.info("Daily post for guild %s is being sent by %s until %s", schedule.guild_id, claimed.owner,
                     claimed.until)  # fmt: skip
            self._busy_until[schedule.guild_id] = claimed.until
            return "busy"
        if claimed is None:
            existing = await self._repository.post(schedule.guild_id, day)
            return "already" if existing is not None else "empty"
        record, maybe_sent = claimed
        if maybe_sent:
            found = await self._sender.find_post(schedule, day, self._clock.now() - timedelta(days=1))
            if found is not None:  # an earlier run sent it and stopped before recording the result
                await self._repository.finish(schedule.guild_id, day, message_id=found)
                return "posted"
        try:
            message_id = await self._sender.send(schedule, record.concept_id, day)
        except PostError as failure:
            if failure.permanent:
                await self._repository.finish(schedule.guild_id, day, message_id=None, failure=failure.reason)
                await self.halt(schedule.guild_id, failure.reason)
                return f"failed: {failure.reason}"
            log.warning("Daily post for guild %s will be retried: %s", schedule.guild_id, failure.reason)
            return "retry"
        await self._repository.finish(schedule.guild_id, day, message_id=message_id)
        return "posted"


class _GlossaryFor(Protocol):
    def __call__(self, guild_id: int) -> Glossary: ...
