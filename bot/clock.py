"""Time as an injectable dependency: the real clock in production, a manual one in tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

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

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Sleep until `when` (at most an hour at a time) or until woken."""
        delay = min(max((when - self.now()).total_seconds(), 0.0), LONGEST_SLEEP.total_seconds())
        if delay == 0:
            return
        try:
            await asyncio.wait_for(wake.wait(), timeout=delay)
        except TimeoutError:
            return


class ManualClock:
    """A clock that moves only when told to: tests set the time and the scheduler reacts at once."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the manual clock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        """Return the manual time."""
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (forwards or backwards) and wake sleepers."""
        self._now = when.astimezone(UTC)
        self._moved.set()
        self._moved = asyncio.Event()

    def advance(self, delta: timedelta) -> None:
        """Move forwards by `delta` and wake sleepers."""
        self.set(self._now + delta)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Wait until the manual time reaches `when`, or until woken."""
        while self._now < when and not wake.is_set():
            moved = asyncio.ensure_future(self._moved.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({moved, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                moved.cancel()
                woken.cancel()
