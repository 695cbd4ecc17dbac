"""Lookup counts: recorded in memory at once, written in batches, never lost on a failed write or at shutdown."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.store import Store
from bot.usage import TopConcept, UsageRecorder, UsageRepository

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, migrated database."""
    async with await Store.open(tmp_path / "usage.db") as opened:
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
            recorder.record(1, concept)
        recorder.record(2, "tacrolimus")
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
            recorder.record(1, "cytokine")
        clock.advance(timedelta(0))  # nudge the writer without letting time pass: four is not enough
        await clock.settled()
        assert await written(store) == 0
        recorder.record(1, "cytokine")
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
    recorder.record(1, "bcg")
    await recorder.stop()
    assert await written(store) == 1


async def test_failed_write_keeps_the_counts(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails puts its counts back for the next attempt: nothing is lost, nothing doubled."""
    repository = UsageRepository(store)
    recorder = UsageRecorder(repository, ManualClock(T0))
    original = repository.add

    async def broken(counts: Counter[tuple[int, str, date]]) -> None:
        raise RuntimeError("disk full")

    recorder.record(1, "bcg")
    monkeypatch.setattr(repository, "add", broken)
    with pytest.raises(RuntimeError):
        await recorder.flush()
    recorder.record(1, "bcg")
    assert recorder.pending == 2
    monkeypatch.setattr(repository, "add", original)
    assert await recorder.flush() == 2
    assert await written(store) == 2


async def test_top_is_this_weeks_and_ties_are_stable(store: Store) -> None:
    """The last seven days (today included) per guild, most first, equal counts by id."""
    clock = ManualClock(T0)
    recorder = UsageRecorder(UsageRepository(store), clock)
    clock.set(T0 - timedelta(days=7))
    recorder.record(1, "old")
    clock.set(T0 - timedelta(days=6))
    recorder.record(1, "b-entry")
    clock.set(T0)
    for concept in ("a-entry", "c-entry", "c-entry"):
        recorder.record(1, concept)
    recorder.record(2, "other-guild")
    assert await recorder.top(1) == [TopConcept("c-entry", 2), TopConcept("a-entry", 1), TopConcept("b-entry", 1)]
    assert recorder.pending == 0
