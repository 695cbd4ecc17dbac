"""Time as an injectable dependency: the real clock in production, a manual one in tests."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, Self

LONGEST_SLEEP = timedelta(hours=1)
"""Even with nothing due, wake hourly: a suspended machine or a changed system clock is noticed soon."""


class Clock(Protocol):
    """What schedulers need of time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Return at `when`, or earlier if `wake` is set (new work arrived)."""
        ...


class SystemClock:
    """The machine's clock."""

    speed = 1.0
    """How many of this clock's seconds pass in a real second."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Sleep until the clock reads `when` (at most an hour of its time at a time) or until woken."""
        delay = min(max((when - self.now()).total_seconds(), 0.0), LONGEST_SLEEP.total_seconds()) / self.speed
        if delay == 0:
            return
        try:
            await asyncio.wait_for(wake.wait(), timeout=delay)
        except TimeoutError:
            return


_SCALED = re.compile(r"^\s*(?P<start>[^@]+?)\s*@\s*(?P<at>\d+(?:\.\d+)?)\s*(?:x\s*(?P<speed>\d+(?:\.\d+)?))?\s*$")


class ScaledClock(SystemClock):
    """The machine's clock set to another time and optionally sped up (TEST_CLOCK, testing only).

    Bot processes started as a host starts them (`python -m bot`) cannot be handed a `ManualClock`; several of
    them given the same TEST_CLOCK agree on the time, and at 60x a day's schedule (minutes, a claim's
    5-minute lease) plays out in seconds. The event loop, discord.py and the database keep real time.
    """

    def __init__(self, start: datetime, started_at: float, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start needs a timezone, e.g. 2026-11-23T06:00:00+00:00")
        if speed <= 0:
            raise ValueError("the clock's speed must be above 0")
        self.start = start.astimezone(UTC)
        self.started_at = started_at
        self.speed = speed

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read `<ISO time>@<Unix time>[x<speed>]`: the clock read that time at that moment and runs `speed`
        times faster than real time since (`2026-11-23T06:00:00+00:00@1795932000x60`)."""
        matched = _SCALED.match(text)
        if matched is None:
            raise ValueError("use <ISO time>@<Unix time when the clock read it>[x<speed>], e.g. "
                             "2026-11-23T06:00:00+00:00@1795932000x60")  # fmt: skip
        try:
            start = datetime.fromisoformat(matched["start"])
        except ValueError:
            raise ValueError(f"“{matched['start'][:40]}” is not an ISO time") from None
        return cls(start, float(matched["at"]), float(matched["speed"] or 1))

    def now(self) -> datetime:
        """The shifted, scaled time (UTC)."""
        return self.start + timedelta(seconds=(time.time() - self.started_at) * self.speed)


class ManualClock:
    """A clock that moves only when told to: tests set the time and the scheduler reacts at once."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the manual clock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._moved = asyncio.Event()
        self._moves = 0
        self._asleep: dict[asyncio.Task[object], int] = {}  # task -> the move it sleeps past
        self._alarms: dict[asyncio.Task[object], datetime] = {}  # task -> when it wants to wake
        self._woken: set[asyncio.Task[object]] = set()
        self._watched: set[asyncio.Task[object]] = set()
        self._stirred = asyncio.Event()

    def now(self) -> datetime:
        """Return the manual time."""
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (forwards or backwards) and wake sleepers."""
        self._now = when.astimezone(UTC)
        self._moves += 1
        self._woken.update(self._asleep)
        self._moved.set()
        self._moved = asyncio.Event()

    def advance(self, delta: timedelta) -> None:
        """Move forwards by `delta` and wake sleepers."""
        self.set(self._now + delta)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Wait until the manual time reaches `when`, or until woken."""
        task = asyncio.current_task()
        try:
            while self._now < when and not wake.is_set():
                if task is not None:
                    if task not in self._watched:
                        self._watched.add(task)
                        task.add_done_callback(self._ended)
                    self._asleep[task] = self._moves
                    self._alarms[task] = when
                    self._stirred.set()
                moved = asyncio.ensure_future(self._moved.wait())
                woken = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait({moved, woken}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    moved.cancel()
                    woken.cancel()
        finally:
            self._asleep.pop(task, None)  # type: ignore[arg-type]
            self._alarms.pop(task, None)  # type: ignore[arg-type]
            self._stirred.set()

    @property
    def alarms(self) -> list[datetime]:
        """When the tasks sleeping on the clock want to wake, earliest first (what each is waiting for)."""
        return sorted(self._alarms.values())

    def _ended(self, task: asyncio.Task[object]) -> None:
        self._watched.discard(task)
        self._stirred.set()

    async def sleeping(self, count: int = 1) -> None:
        """Wait until at least `count` tasks sleep on the clock (a task just started has reached its first sleep)."""
        while len(self._asleep) < count:
            self._stirred.clear()
            await self._stirred.wait()

    async def settled(self) -> None:
        """Wait until every task the last move woke sleeps on the clock again or has ended.

        Tests check that nothing happened *yet* (a question still open at 19 of 20 seconds) after this, not
        after a guessed number of event-loop turns: a task that acted on the move has finished acting by then.
        """
        while True:
            self._stirred.clear()
            restless = {task for task in self._woken if not task.done() and self._asleep.get(task, -1) < self._moves}
            self._woken = restless
            if not restless:
                return
            await self._stirred.wait()
