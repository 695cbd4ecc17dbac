"""SM-2 scheduling over simulated days, the review queue, and days in the user's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.flashcards import NEW_PER_DAY, Card, CardState, FlashcardRepository, Grade, deck, local_day, review_queue, sm2
from bot.glossary import Glossary
from bot.store import Store

DAY0 = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)


def simulate(grades: list[Grade]) -> list[tuple[date, int, float]]:
    """Review one card each time it falls due with the given grades; return (review day, interval, ease)."""
    state: CardState | None = None
    day = DAY0
    history = []
    for grade in grades:
        state = sm2(state, grade, day, datetime.combine(day, NOON.timetz()))
        history.append((day, state.interval_days, state.ease))
        day = state.due_on
    return history


def test_good_every_time_gives_1_6_then_times_ease() -> None:
    """SM-2's intervals: 1 day, 6 days, then the previous interval × ease (2.5 with Good)."""
    history = simulate([Grade.GOOD] * 5)
    assert [interval for _, interval, _ in history] == [1, 6, 15, 38, 95]
    assert [day for day, _, _ in history] == [DAY0, date(2026, 11, 24), date(2026, 11, 30), date(2026, 12, 15),
                                              date(2027, 1, 22)]  # fmt: skip
    assert {ease for _, _, ease in history} == {2.5}


def test_grades_move_the_ease_by_the_sm2_formula() -> None:
    """Easy +0.1, Good ±0, Hard −0.14, Again −0.54, never below 1.3."""
    assert simulate([Grade.EASY])[0][2] == pytest.approx(2.6)
    assert simulate([Grade.HARD])[0][2] == pytest.approx(2.36)
    assert simulate([Grade.AGAIN])[0][2] == pytest.approx(1.96)
    floor = simulate([Grade.AGAIN] * 6)
    assert floor[-1][2] == 1.3


def test_hard_and_easy_change_later_intervals() -> None:
    """The ease a grade leaves scales every later interval."""
    easy = simulate([Grade.EASY, Grade.EASY, Grade.EASY])
    hard = simulate([Grade.HARD, Grade.HARD, Grade.HARD])
    assert easy[2][1] == round(6 * 2.8) == 17
    assert hard[2][1] == round(6 * 2.08) == 12


def test_again_resets_and_repeats_the_same_day() -> None:
    """A lapse sends a learned card back to the start; it is due again today, then 1 and 6 days."""
    state = None
    for grade, day in ((Grade.GOOD, DAY0), (Grade.GOOD, DAY0 + timedelta(days=1))):
        state = sm2(state, grade, day, NOON)
    assert state is not None
    assert state.due_on == DAY0 + timedelta(days=7)
    lapsed = sm2(state, Grade.AGAIN, DAY0 + timedelta(days=7), NOON)
    assert (lapsed.repetitions, lapsed.interval_days, lapsed.due_on, lapsed.lapses) == (
        0,
        0,
        DAY0 + timedelta(days=7),
        1,
    )
    relearned = sm2(lapsed, Grade.GOOD, DAY0 + timedelta(days=7), NOON)
    assert (relearned.interval_days, relearned.reviews) == (1, 4)


def state_due(day: date, reviewed: date, at_hour: int = 9) -> CardState:
    """A card state due on `day`, last reviewed on `reviewed`."""
    return CardState(1, 2.5, 1, day, 1, 0, reviewed, reviewed, datetime(reviewed.year, reviewed.month, reviewed.day,
                                                                           at_hour, tzinfo=UTC))  # fmt: skip


def test_queue_reviews_first_new_within_allowance_failed_last() -> None:
    """Due reviews (oldest first), then new cards up to the day's allowance, then today's failures."""
    cards = [Card(0, f"c{i:02d}") for i in range(20)]
    states = {
        cards[0]: state_due(DAY0, DAY0, at_hour=8),  # failed earlier today
        cards[1]: state_due(DAY0 - timedelta(days=2), DAY0 - timedelta(days=3)),
        cards[2]: state_due(DAY0, DAY0 - timedelta(days=1)),
        cards[3]: state_due(DAY0 + timedelta(days=1), DAY0),  # not due
    }
    queue = review_queue(7, cards, states, DAY0, new_today=4)
    assert queue[:2] == [cards[1], cards[2]]
    assert queue[-1] == cards[0]
    new = queue[2:-1]
    assert len(new) == NEW_PER_DAY - 4
    assert all(card not in states for card in new)
    assert review_queue(7, cards, states, DAY0, new_today=4) == queue  # stable
    assert review_queue(8, cards, states, DAY0, new_today=4)[2:-1] != new  # each user gets their own order


@pytest.mark.parametrize(
    ("zone", "moment", "day"),
    [
        ("Pacific/Auckland", datetime(2026, 11, 23, 10, 59, tzinfo=UTC), date(2026, 11, 23)),
        ("Pacific/Auckland", datetime(2026, 11, 23, 11, 0, tzinfo=UTC), date(2026, 11, 24)),
        ("America/Los_Angeles", datetime(2026, 11, 24, 7, 59, tzinfo=UTC), date(2026, 11, 23)),
        ("UTC", datetime(2026, 11, 24, 0, 0, tzinfo=UTC), date(2026, 11, 24)),
    ],
)
def test_days_are_the_users_local_days(zone: str, moment: datetime, day: date) -> None:
    """The day a card falls due is the user's calendar day in their timezone."""
    assert local_day(moment, zone) == day


def test_deck_scopes_guild_entries_to_their_guild(glossary: Glossary) -> None:
    """Shipped entries are scope 0 everywhere; an entry the shipped glossary lacks belongs to the guild."""
    from bot.models import Concept, Source

    extra = Concept(
        id="house-rule", name="House rule", summary="s", definition="d", source=Source(document="editorial")
    )
    view = Glossary([*glossary.concepts.values(), extra], glossary.documents.values())
    cards = deck(view, glossary, 99)
    assert Card(99, "house-rule") in cards
    assert Card(0, "tacrolimus") in cards
    assert all(card.concept_id not in {a.id for a, _ in glossary.axes()} for card in cards)
    assert {c.concept_id for c in deck(glossary, glossary, 99, "immunosuppressant")} == {
        "azathioprine", "cyclophosphamide", "cyclosporine", "glucocorticoid", "mycophenolate-mofetil",
        "sirolimus", "tacrolimus",
    }  # fmt: skip


async def test_grading_is_compare_and_set(tmp_path: Path) -> None:
    """A grade applies only to the card as it was shown: the second of two clicks changes nothing."""
    async with await Store.open(tmp_path / "cards.db") as store:
        repository = FlashcardRepository(store)
        card = Card(0, "tacrolimus")
        first = await repository.grade(1, card, Grade.GOOD, 0, DAY0, NOON)
        second = await repository.grade(1, card, Grade.EASY, 0, DAY0, NOON)
        assert first is not None
        assert first.reviews == 1
        assert second is None
        states = await repository.states(1, {0})
        assert states[card].ease == 2.5
        assert await store.fetch_all("SELECT count(*) FROM flashcard_reviews") == [(1,)]
        assert await repository.new_today(1, DAY0) == 1
        assert await repository.states(2, {0}) == {}
