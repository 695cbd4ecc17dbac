"""Lookup counts: recorded in memory at once, written in batches, never lost on a failed write or at shutdown."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.store import Store
from bot.usage import COUNTED_PER_DAY, LOOKUPS_PER_MINUTE, LookupPace, TopConcept, UsageRecorder, UsageRepository

USERS = itertools.count(1)
"""A new member for each lookup, where a test is about counting, not about one member's repeats."""

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A fresh, migrated database (each test runs on SQLite and on PostgreSQL)."""
    async with await Store.open(database_url) as opened:
        yield opened


async def written(store: Store) -> int:
    """Lookups written so far."""
    rows = await store.fetch_all("SELECT coalesce(sum(uses), 0) FROM concept_uses")
    return int(rows[0][0])


async def test_record_waits_for_nothing_and_writes_in_one_batch(store: Store) -> None:
    """Counts stay in memory until the flush interval passes on the clock, then go in one transaction."""
    clock = ManualClock(T0)
    recorder = UsageRecorder(UsageRepository(store), clock, flush_every=timedelta(seconds=30))
    recorder.start()
    try:
        await clock.sleeping()  # the writer waits for its interval
        for concept in ("tacrolimus", "tacrolimus", "sirolimus"):
            recorder.record(1, concept, next(USERS))
        recorder.record(2, "tacrolimus", next(USERS))
        assert recorder.pending == 4
        clock.advance(timedelta(seconds=29))
        await clock.settled()  # the writer saw 29 s pass and sleeps again
        assert await written(store) == 0
        clock.advance(timedelta(seconds=1))
        await clock.settled()  # the writer wrote, and sleeps again
        assert await written(store) == 4
        assert recorder.pending == 0
        rows = await store.fetch_all(
            "SELECT guild_id, concept_id, uses FROM concept_uses ORDER BY guild_id, concept_id"
        )
        assert rows == [(1, "sirolimus", 1), (1, "tacrolimus", 2), (2, "tacrolimus", 1)]
    finally:
        await recorder.stop()


async def test_a_full_buffer_is_written_early(store: Store) -> None:
    """Once `max_pending` lookups wait, the writer does not wait for the interval."""
    clock = ManualClock(T0)
    recorder = UsageRecorder(UsageRepository(store), clock, max_pending=5)
    recorder.start()
    try:
        await clock.sleeping()
        for _ in range(4):
            recorder.record(1, "cytokine", next(USERS))
        clock.advance(timedelta(0))  # nudge the writer without letting time pass: four is not enough
        await clock.settled()
        assert await written(store) == 0
        recorder.record(1, "cytokine", next(USERS))
        clock.advance(timedelta(0))
        await clock.settled()
        rows = await store.fetch_all("SELECT guild_id, concept_id, day, uses FROM concept_uses")
        assert rows == [(1, "cytokine", "2026-11-23", 5)]
    finally:
        await recorder.stop()


async def test_stop_writes_what_is_left(store: Store) -> None:
    """Shutdown flushes the last counts."""
    recorder = UsageRecorder(UsageRepository(store), ManualClock(T0))
    recorder.start()
    recorder.record(1, "bcg", next(USERS))
    await recorder.stop()
    assert await written(store) == 1


async def test_failed_write_keeps_the_counts(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails puts its counts back for the next attempt: nothing is lost, nothing doubled."""
    repository = UsageRepository(store)
    recorder = UsageRecorder(repository, ManualClock(T0))
    original = repository.add

    async def broken(counts: Counter[tuple[int, str, date]]) -> None:
        raise RuntimeError("disk full")

    recorder.record(1, "bcg", next(USERS))
    monkeypatch.setattr(repository, "add", broken)
    with pytest.raises(RuntimeError):
        await recorder.flush()
    recorder.record(1, "bcg", next(USERS))
    assert recorder.pending == 2
    monkeypatch.setattr(repository, "add", original)
    assert await recorder.flush() == 2
    assert await written(store) == 2


async def test_top_is_this_weeks_and_ties_are_stable(store: Store) -> None:
    """The last seven days (today included) per guild, most first, equal counts by id."""
    clock = ManualClock(T0)
    recorder = UsageRecorder(UsageRepository(store), clock)
    clock.set(T0 - timedelta(days=7))
    recorder.record(1, "old", next(USERS))
    clock.set(T0 - timedelta(days=6))
    recorder.record(1, "b-entry", next(USERS))
    clock.set(T0)
    for concept in ("a-entry", "c-entry", "c-entry"):
        recorder.record(1, concept, next(USERS))
    recorder.record(2, "other-guild", next(USERS))
    assert await recorder.top(1) == [TopConcept("c-entry", 2), TopConcept("a-entry", 1), TopConcept("b-entry", 1)]
    assert recorder.pending == 0


async def test_a_members_repeats_count_once_a_day_and_up_to_a_cap(store: Store) -> None:
    """One member's lookups of one entry count once a day; at most COUNTED_PER_DAY of theirs count in a day."""
    clock = ManualClock(T0)
    recorder = UsageRecorder(UsageRepository(store), clock)
    assert [recorder.record(1, "bcg", 7) for _ in range(100)].count(True) == 1
    assert recorder.record(2, "bcg", 7)  # another server counts on its own
    assert recorder.record(1, "bcg", 8)  # another member too
    counted = [recorder.record(1, f"entry-{i}", 7) for i in range(COUNTED_PER_DAY + 10)]
    assert counted.count(True) == COUNTED_PER_DAY - 1  # bcg was the first
    clock.advance(timedelta(days=1))
    assert recorder.record(1, "bcg", 7)
    assert await recorder.top(1, limit=1) == [TopConcept("bcg", 3)]


def test_pace_allows_a_minute_of_lookups_then_says_how_long_to_wait() -> None:
    """LOOKUPS_PER_MINUTE in any rolling minute, per member and server; the wait is until the oldest expires."""
    clock = ManualClock(T0)
    pace = LookupPace(clock)
    for _ in range(LOOKUPS_PER_MINUTE):
        assert pace.wait(1, 7) == 0
        clock.advance(timedelta(seconds=1))
    assert pace.wait(1, 7) == 30.0  # the first lookup was 30 s ago
    assert pace.wait(1, 8) == 0
    assert pace.wait(2, 7) == 0
    clock.advance(timedelta(seconds=30))
    assert pace.wait(1, 7) == 0
