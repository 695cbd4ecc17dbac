"""The daily posting records without Discord: claims, results, and the per-guild shuffled cycle.

The end-to-end tests in tests/e2e/test_daily.py drive the same rules through the real client; these pin the
rows themselves, with two guilds sharing one database so a query that forgets its guild filter fails.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.daily import DailyRepository, DailySchedule
from bot.store import Store

GUILD, OTHER = 111, 222
POOL = [f"concept-{letter}" for letter in "abcdefg"]
MONDAY = date(2026, 11, 23)

CLAIMER = {"owner": "test:1", "now": datetime(2026, 11, 23, 8, 0, tzinfo=UTC)}
"""One process claiming (the lease and owner are tested in test_daily_rules)."""


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[DailyRepository]:
    """The daily SQL over a fresh database."""
    async with await Store.open(tmp_path / "daily.db") as store:
        yield DailyRepository(store)


def schedule(guild_id: int = GUILD) -> DailySchedule:
    """A guild's schedule (its channel id derived from the guild's)."""
    return DailySchedule(guild_id, guild_id + 1, time(8), "UTC")


async def post_days(
    repository: DailyRepository, pool: list[str], first: date, days: int, guild_id: int = GUILD
) -> list[str]:
    """Claim and record `days` consecutive days from `first`; return the concepts posted, in order."""
    posted: list[str] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        claimed = await repository.claim_day(schedule(guild_id), day, pool, **CLAIMER)
        assert claimed is not None, day
        record, maybe_sent = claimed
        assert not maybe_sent
        await repository.finish(guild_id, day, message_id=1000 + offset)
        posted.append(record.concept_id)
    return posted


async def test_an_entry_added_mid_cycle_joins_that_cycle(repository: DailyRepository) -> None:
    """Three days into a cycle of seven, an eighth entry appears: the cycle posts all eight before any repeats."""
    posted = await post_days(repository, POOL, MONDAY, 3)
    grown = [*POOL, "concept-new"]
    posted += await post_days(repository, grown, MONDAY + timedelta(days=3), 5)
    assert sorted(posted) == sorted(grown)
    assert {cycle for cycle, _, _ in await repository.cycle_history(GUILD)} == {1}


async def test_an_entry_removed_mid_cycle_is_not_posted(repository: DailyRepository) -> None:
    """An entry hidden (or its category dropped) after the cycle began is skipped; the rest still come once each."""
    posted = await post_days(repository, POOL, MONDAY, 2)
    gone = next(concept for concept in POOL if concept not in posted)
    smaller = [concept for concept in POOL if concept != gone]
    posted += await post_days(repository, smaller, MONDAY + timedelta(days=2), 4)
    assert gone not in posted
    assert sorted(posted) == sorted(smaller)


async def test_no_concept_two_days_running_across_cycle_boundaries(repository: DailyRepository) -> None:
    """With two entries every cycle is a coin toss; across many boundaries the same one never comes twice in a row."""
    posted = await post_days(repository, ["concept-x", "concept-y"], MONDAY, 40)
    assert all(today != yesterday for yesterday, today in itertools.pairwise(posted)), posted
    assert sorted(posted[:2]) == ["concept-x", "concept-y"]
    assert len({cycle for cycle, _, _ in await repository.cycle_history(GUILD)}) == 20


async def test_each_guild_has_its_own_cycle_and_last_day(repository: DailyRepository) -> None:
    """Two guilds on one pool: each posts the whole pool once per cycle, and neither's posts count for the other."""
    ahead = await post_days(repository, POOL, MONDAY, 9, guild_id=GUILD)  # into its second cycle
    assert await repository.last_day(OTHER) is None
    behind = await post_days(repository, POOL, MONDAY, 7, guild_id=OTHER)
    assert sorted(ahead[:7]) == sorted(POOL)
    assert sorted(behind) == sorted(POOL)
    assert {cycle for cycle, _, _ in await repository.cycle_history(OTHER)} == {1}
    assert await repository.last_day(GUILD) == MONDAY + timedelta(days=8)
    assert await repository.last_day(OTHER) == MONDAY + timedelta(days=6)
    assert [r.local_date for r in await repository.recent_posts(OTHER, 2)] == [
        MONDAY + timedelta(days=6), MONDAY + timedelta(days=5),
    ]  # fmt: skip
    assert (await repository.post(OTHER, MONDAY + timedelta(days=8))) is None


async def test_two_guilds_posting_the_same_days_keep_their_cycles_apart(repository: DailyRepository) -> None:
    """Two guilds, the second starting two days later: each posts its whole pool once in its first cycle."""
    mine: list[str] = []
    theirs: list[str] = []
    for offset in range(len(POOL) + 2):
        day = MONDAY + timedelta(days=offset)
        if offset < len(POOL):
            mine += await post_days(repository, POOL, day, 1, guild_id=GUILD)
        if offset >= 2:
            theirs += await post_days(repository, POOL, day, 1, guild_id=OTHER)
    assert sorted(mine) == sorted(POOL)
    assert sorted(theirs) == sorted(POOL)
    assert mine != theirs  # each guild's shuffle is its own
    assert [(cycle, posted) for cycle, _, posted in await repository.cycle_history(OTHER)] == [(1, True)] * len(POOL)


async def test_claims_pending_failed_and_posted(repository: DailyRepository) -> None:
    """A pending day is handed back as maybe-sent with its concept; a failed day is retried; a posted day is done."""
    first = await repository.claim_day(schedule(), MONDAY, POOL, **CLAIMER)
    assert first is not None
    record, maybe_sent = first
    assert (record.status, maybe_sent) == ("pending", False)
    again = await repository.claim_day(schedule(), MONDAY, POOL, **CLAIMER)
    assert again is not None
    assert (again[0].concept_id, again[0].status, again[1]) == (record.concept_id, "pending", True)
    assert await repository.last_day(GUILD) is None  # pending is not posted: it may still need recovery
    await repository.finish(GUILD, MONDAY, message_id=None, failure="the daily channel was deleted")
    failed = await repository.post(GUILD, MONDAY)
    assert failed is not None
    assert (failed.status, failed.detail) == ("failed", "the daily channel was deleted")
    moved = DailySchedule(GUILD, 999, time(8), "UTC")  # a moderator chose another channel
    retried = await repository.claim_day(moved, MONDAY, POOL, **CLAIMER)
    assert retried is not None
    assert (retried[0].concept_id, retried[0].status, retried[0].channel_id, retried[1]) == (
        record.concept_id, "pending", 999, False,
    )  # fmt: skip
    stored = await repository.post(GUILD, MONDAY)
    assert stored is not None
    assert (stored.status, stored.channel_id, stored.detail) == ("pending", 999, None)
    await repository.finish(GUILD, MONDAY, message_id=4242)
    assert await repository.claim_day(moved, MONDAY, POOL, **CLAIMER) is None
    done = await repository.post(GUILD, MONDAY)
    assert done is not None
    assert (done.status, done.message_id) == ("posted", 4242)
    assert await repository.last_day(GUILD) == MONDAY
    assert await repository.claim_day(schedule(), MONDAY + timedelta(days=1), [], **CLAIMER) is None  # an empty pool


async def test_another_guild_claiming_the_same_day_is_its_own_claim(repository: DailyRepository) -> None:
    """The same local day in two guilds is two claims; finishing one leaves the other pending."""
    mine = await repository.claim_day(schedule(GUILD), MONDAY, POOL, **CLAIMER)
    theirs = await repository.claim_day(schedule(OTHER), MONDAY, POOL, **CLAIMER)
    assert mine is not None
    assert theirs is not None
    assert not theirs[1]
    await repository.finish(GUILD, MONDAY, message_id=1)
    pending = await repository.post(OTHER, MONDAY)
    assert pending is not None
    assert (pending.status, pending.message_id) == ("pending", None)
    await repository.finish(OTHER, MONDAY, message_id=None, failure="gone")
    posted = await repository.post(GUILD, MONDAY)
    assert posted is not None
    assert (posted.status, posted.message_id) == ("posted", 1)
