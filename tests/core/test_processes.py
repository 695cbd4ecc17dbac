"""Several bot processes on one database: each process is its own Store (its own connections), all at once.

On PostgreSQL these are real concurrent transactions on separate connections; on SQLite the same code runs
one writer at a time. Either way the database decides: one claim per guild and day, one running quiz per
channel, and lookup counts that add up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

import pytest

from bot.daily import Busy, DailyRepository, DailySchedule
from bot.flashcards import Card, FlashcardRepository, Grade, GradeRefused, Member
from bot.glossary import Glossary
from bot.questions import Mode, plan_quiz
from bot.quiz import QuizRepository, QuizRequest
from bot.store import Store
from bot.usage import UsageRepository

PROCESSES = 4
DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[list[Store]]:
    """One migrated database, opened by PROCESSES stores as separate processes would."""
    first = await Store.open(database_url)
    opened = [first, *[await Store.open(database_url) for _ in range(PROCESSES - 1)]]
    try:
        yield opened
    finally:
        for store in opened:
            await store.close()


async def test_a_day_is_claimed_by_exactly_one_process(stores: list[Store]) -> None:
    """All processes claim the same guilds' day at once: each day has one owner, every other claimer is Busy,
    and each guild's cycle moved on by exactly one concept."""
    repositories = [DailyRepository(store) for store in stores]
    guilds = range(1, 6)
    for guild in guilds:
        await repositories[0].save_schedule(DailySchedule(guild, 10 + guild, time(8, 0), "UTC"))
    claims = await asyncio.gather(*[
        repository.claim_day(DailySchedule(guild, 10 + guild, time(8, 0), "UTC"), DAY, ["a", "b", "c"],
                             owner=f"process{number}:1", now=NOW)
        for guild in guilds for number, repository in enumerate(repositories)
    ])  # fmt: skip
    for index, guild in enumerate(guilds):
        mine = claims[index * PROCESSES : (index + 1) * PROCESSES]
        owned = [claim for claim in mine if isinstance(claim, tuple)]
        assert len(owned) == 1, mine
        assert all(isinstance(claim, Busy) for claim in mine if not isinstance(claim, tuple))
        history = await repositories[0].cycle_history(guild)
        assert sum(posted for _, _, posted in history) == 1
        record = await repositories[0].post(guild, DAY)
        assert record is not None
        assert record.concept_id == owned[0][0].concept_id


async def test_one_running_quiz_per_channel_across_processes(stores: list[Store], glossary: Glossary) -> None:
    """Every process starts a quiz in the same channel at once: the database's unique index lets one through."""
    plan = plan_quiz(glossary, mode=Mode.DEFINITION, category_id=None, count=5, seed=1)
    request = QuizRequest(guild_id=1, channel_id=10, starter_id=5, starter_name="a", mode=Mode.DEFINITION,
                          category_id=None, round_seconds=20, seed=1)  # fmt: skip
    created = await asyncio.gather(*[
        QuizRepository(store).create(request, len(plan.questions), plan.questions[0], NOW) for store in stores
    ])  # fmt: skip
    assert sum(session is not None for session in created) == 1
    running = await stores[0].fetch_all("SELECT channel_id FROM quiz_sessions WHERE status = 'running'")
    assert running == [(10,)]


async def test_lookup_counts_from_every_process_add_up(stores: list[Store]) -> None:
    """Each process flushes its own counts for the same concept and day at the same time: none is lost."""
    batch = Counter({(1, "cytokine", DAY): 3, (1, "bcg", DAY): 1})
    for _ in range(3):
        await asyncio.gather(*[UsageRepository(store).add(batch) for store in stores])
    top = await UsageRepository(stores[0]).top(1, DAY)
    assert [(concept.concept_id, concept.uses) for concept in top] == [("cytokine", 3 * 3 * PROCESSES),
                                                                       ("bcg", 3 * PROCESSES)]  # fmt: skip


async def test_a_new_card_graded_twice_at_once_counts_once(stores: list[Store]) -> None:
    """The same new card graded from every process at once (a double click across processes): one grade is kept,
    the others are refused as stale; the log has one review."""
    card = Card(0, "tacrolimus")
    results = await asyncio.gather(*[
        FlashcardRepository(store).grade(1, card, Grade.GOOD, 0, Member(), DAY, NOW) for store in stores
    ])  # fmt: skip
    assert sum(result.refused is None for result in results) == 1
    assert {result.refused for result in results} == {None, GradeRefused.STALE}
    assert len(await FlashcardRepository(stores[0]).log(1)) == 1
