"""FSRS scheduling over simulated days, distinct choices, clamping, the review queue, days in the user's
timezone, the review log, and the upgrade of a database made by the SM-2 version of the bot."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fsrs import Card as FsrsCard
from fsrs import Scheduler, State

from bot.flashcards import (
    LATEST_DUE,
    NEW_PER_DAY,
    Card,
    CardState,
    FlashcardRepository,
    Grade,
    GradeRefused,
    Member,
    choice_labels,
    deck,
    estimate_daily_reviews,
    interval_text,
    local_day,
    outcomes,
    retrievability,
    review,
    review_queue,
)
from bot.glossary import Glossary
from bot.store import Store, bundled_migrations

DAY0 = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)
DATA = Path(__file__).parent / "data"


def test_new_card_choices_are_fsrs_steps_and_distinct() -> None:
    """A new card: Again 1 min, Hard 6 min, Good 10 min (learning steps), Easy FSRS-6's first stability (8 days)."""
    choices = outcomes(None, NOON, DAY0)
    assert [interval_text(s.due_at - NOON) for s in choices.values()] == ["1 min", "6 min", "10 min", "8 days"]
    assert choices[Grade.EASY].state is State.Review
    assert choices[Grade.EASY].stability == pytest.approx(8.2956)  # FSRS-6 default w[3]


def test_good_every_time_follows_the_library() -> None:
    """Our schedule is fsrs's own (no fuzz) when no adjustment is needed: same stability and due day."""
    library = Scheduler(enable_fuzzing=False)
    theirs = FsrsCard(card_id=1, due=NOON)
    ours: CardState | None = None
    moment = NOON
    for _ in range(6):
        theirs, _ = library.review_card(theirs, Grade.GOOD.rating, moment)
        ours = review(ours, Grade.GOOD, moment, moment.date())
        assert ours.stability == pytest.approx(theirs.stability)
        assert ours.due_at == theirs.due
        moment = ours.due_at
    assert ours is not None
    assert ours.reviews == 6
    assert (ours.due_at - ours.last_review_at).days > 100  # intervals grow as recall is shown


def test_choices_are_distinct_and_ordered_for_any_history() -> None:
    """Whatever the history, Again < Hard < Good < Easy in time to the next review, as the buttons show."""
    rng = random.Random(5)
    for _ in range(300):
        state: CardState | None = None
        moment = NOON
        for _ in range(rng.randrange(1, 12)):
            state = review(state, rng.choice(list(Grade)), moment, moment.date(), rng.choice([0.8, 0.9, 0.97]))
            moment = state.due_at + timedelta(days=rng.choice([0, 0, 1, 5]))
        choices = outcomes(state, moment, moment.date())
        waits = [s.due_at - moment for s in choices.values()]
        assert waits == sorted(waits)
        assert len(set(waits)) == 4
        assert len(set(choice_labels(choices).values())) == 4, choice_labels(choices)


def test_higher_retention_brings_cards_back_sooner() -> None:
    """The same review at 0.97 schedules sooner than at 0.90, which is sooner than at 0.80."""
    learnt = review(review(None, Grade.GOOD, NOON, DAY0), Grade.GOOD, NOON + timedelta(minutes=10), DAY0)
    later = learnt.due_at
    waits = [review(learnt, Grade.GOOD, later, later.date(), r).due_at for r in (0.97, 0.90, 0.80)]
    assert waits[0] < waits[1] < waits[2]
    assert estimate_daily_reviews(61, 0.97) > estimate_daily_reviews(61, 0.90) > estimate_daily_reviews(61, 0.80)


def test_again_on_a_learnt_card_is_a_lapse_and_relearns_today() -> None:
    """Again in review: a lapse, relearning 10 minutes later, lower stability."""
    state = review(None, Grade.EASY, NOON, DAY0)
    due = state.due_at
    lapsed = review(state, Grade.AGAIN, due, due.date())
    assert (lapsed.lapses, lapsed.state, lapsed.due_at - due) == (1, State.Relearning, timedelta(minutes=10))
    assert lapsed.stability < state.stability


def test_intervals_are_clamped_never_past_year_9999() -> None:
    """Easy after Easy stops at FSRS's 36,500-day maximum; a due date never passes the year 9999."""
    state = None
    moment = NOON
    for _ in range(40):
        state = review(state, Grade.EASY, moment, moment.date())
        moment = state.due_at
    assert state is not None
    assert state.due_at - state.last_review_at <= timedelta(days=36500)
    late = datetime(9990, 1, 1, tzinfo=UTC)
    near_end = review(state, Grade.EASY, late, late.date())
    assert near_end.due_at == LATEST_DUE


def test_retrievability_falls_with_time() -> None:
    """FSRS's recall estimate: 90 % after `stability` days, lower later."""
    state = review(None, Grade.EASY, NOON, DAY0)
    at_stability = NOON + timedelta(days=round(state.stability))
    assert retrievability(state, NOON) == pytest.approx(1.0)
    assert retrievability(state, at_stability) == pytest.approx(0.9, abs=0.01)
    assert retrievability(state, at_stability + timedelta(days=30)) < 0.8


def state_due(day: date, reviewed: date, at_hour: int = 9, learning: bool = False) -> CardState:
    """A card state due on `day` (UTC), last reviewed on `reviewed`."""
    return CardState(
        State.Learning if learning else State.Review, 0 if learning else None, 3.0, 5.0,
        datetime(day.year, day.month, day.day, at_hour, tzinfo=UTC),
        datetime(reviewed.year, reviewed.month, reviewed.day, at_hour, tzinfo=UTC), 1, 0, reviewed, reviewed,
    )  # fmt: skip


def test_queue_reviews_first_new_within_allowance_failed_last() -> None:
    """Due reviews (oldest first), then new cards up to the day's allowance, then today's failures."""
    cards = [Card(0, f"c{i:02d}") for i in range(20)]
    states = {
        cards[0]: state_due(DAY0, DAY0, at_hour=8, learning=True),  # failed earlier today
        cards[1]: state_due(DAY0 - timedelta(days=2), DAY0 - timedelta(days=3)),
        cards[2]: state_due(DAY0, DAY0 - timedelta(days=1), at_hour=23),
        cards[3]: state_due(DAY0 + timedelta(days=1), DAY0),  # not due
    }
    queue = review_queue(7, cards, states, DAY0, 4, "UTC")
    assert queue[:2] == [cards[1], cards[2]]
    assert queue[-1] == cards[0]
    new = queue[2:-1]
    assert len(new) == NEW_PER_DAY - 4
    assert all(card not in states for card in new)
    assert review_queue(7, cards, states, DAY0, 4, "UTC") == queue  # stable
    assert review_queue(8, cards, states, DAY0, 4, "UTC")[2:-1] != new  # each user gets their own order
    # due at 23:00 UTC on DAY0 is the next day in Auckland: not due there on DAY0
    assert cards[2] not in review_queue(7, cards, states, DAY0, 4, "Pacific/Auckland")


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


async def test_grading_is_compare_and_set_checked_against_due_and_logged(database_url: str) -> None:
    """A grade applies only to the card as shown and due; every grade is logged with the state before and after."""
    async with await Store.open(database_url) as store:
        repository = FlashcardRepository(store)
        card, member = Card(0, "tacrolimus"), Member()
        first = await repository.grade(1, card, Grade.EASY, 0, member, DAY0, NOON)
        second = await repository.grade(1, card, Grade.EASY, 0, member, DAY0, NOON)
        assert first.state is not None
        assert first.refused is None
        assert second.refused is GradeRefused.STALE
        forged = await repository.grade(1, card, Grade.EASY, 1, member, DAY0, NOON)  # right version, not due
        assert forged.refused is GradeRefused.NOT_DUE
        assert forged.due_on == DAY0 + timedelta(days=8)
        states = await repository.states(1, {0})
        assert states[card] == first.state
        log = await repository.log(1)
        assert len(log) == 1
        concept, grade, source, _, before, after = log[0]
        assert (concept, grade, source, before) == ("tacrolimus", "easy", "flashcard", None)
        assert json.loads(str(after))["state"] == "review"
        assert await repository.new_today(1, DAY0) == 1
        assert await repository.states(2, {0}) == {}


async def test_new_cards_a_day_limit_holds_for_flashcards_and_quizzes(database_url: str) -> None:
    """Quiz answers create cards only within the day's allowance, and count against it."""
    async with await Store.open(database_url) as store:
        repository = FlashcardRepository(store)
        for i in range(NEW_PER_DAY):
            assert await repository.record_quiz(1, Card(0, f"c{i}"), Grade.GOOD, Member(), DAY0, NOON) is not None
        assert await repository.record_quiz(1, Card(0, "one-too-many"), Grade.GOOD, Member(), DAY0, NOON) is None
        refused = await repository.grade(1, Card(0, "another"), Grade.GOOD, 0, Member(), DAY0, NOON)
        assert refused.refused is GradeRefused.NO_NEW_LEFT
        again = await repository.record_quiz(1, Card(0, "c0"), Grade.AGAIN, Member(), DAY0, NOON)  # existing: taken
        assert again is not None
        assert again.reviews == 2
        sources = {row[2] for row in await repository.log(1)}
        assert sources == {"quiz"}


async def test_upgrade_replays_an_sm2_database_made_by_the_previous_version(tmp_path: Path) -> None:
    """Rows written by the SM-2 code (schema 4) move to FSRS by replaying each card's history; nothing is lost."""
    path = tmp_path / "old.db"
    migrations = bundled_migrations()
    async with await Store.open(path, migrations[:4]) as store:
        async with store.transaction() as db:
            for line in (DATA / "sm2_flashcards.sql").read_text().splitlines():
                if line.startswith("INSERT"):
                    await db.exec_driver_sql(line)
        old_cards = await store.fetch_all("SELECT user_id, scope, concept_id, reviews FROM flashcards ORDER BY 1, 2, 3")
        old_reviews = await store.fetch_all("SELECT count(*) FROM flashcard_reviews")
    async with await Store.open(path) as store:
        # until the replay has run, the SM-2 columns are still there to read
        assert await store.fetch_all("SELECT count(*) FROM flashcards") == [(len(old_cards),)]
        repository = FlashcardRepository(store)
        assert await repository.upgrade_sm2() == len(old_cards) == 5
        assert await repository.upgrade_sm2() == 0  # once only
        moved = await store.fetch_all("SELECT user_id, scope, concept_id, reviews FROM cards ORDER BY 1, 2, 3")
        assert moved == old_cards
        assert await store.fetch_all("SELECT count(*) FROM card_reviews") == old_reviews
        tables = {row[0] for row in await store.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not {"flashcards", "flashcard_reviews"} & tables
        assert (await repository.member(222)).timezone == "Pacific/Auckland"

        # each card is what FSRS makes of its history, replayed at the times it was graded
        states = await repository.states(111, {0})
        replayed: CardState | None = None
        history = [("good", "2026-10-01T09:00:00"), ("good", "2026-10-02T09:05:00"), ("good", "2026-10-08T09:10:00"),
                   ("hard", "2026-10-23T09:15:00")]  # fmt: skip
        for grade, at in history:
            moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
            replayed = review(replayed, Grade(grade), moment, moment.date())  # user 111 keeps UTC days
        assert replayed is not None
        tacrolimus = states[Card(0, "tacrolimus")]
        assert tacrolimus.stability == pytest.approx(replayed.stability)
        assert tacrolimus.due_at == replayed.due_at
        sirolimus = states[Card(0, "sirolimus")]
        assert (sirolimus.lapses, sirolimus.state) == (1, State.Review)  # its Again in review was a lapse
        assert tacrolimus.first_reviewed_on == date(2026, 10, 1)
        house = (await repository.states(222, {777}))[Card(777, "house-drug")]
        assert house.reviews == 1


async def test_upgrade_keeps_the_sm2_schedule_of_a_card_without_its_history(tmp_path: Path) -> None:
    """An SM-2 card whose reviews are missing (or partial) keeps its due day and review count, in FSRS's Review."""
    path = tmp_path / "old.db"
    async with await Store.open(path, bundled_migrations()[:4]) as store, store.transaction() as db:
        await db.exec_driver_sql(
            "INSERT INTO flashcards VALUES (5, 0, 'tacrolimus', 3, 2.5, 15, '2026-10-23', 3, 0, '2026-09-30', "
            "'2026-10-08', '2026-10-08T09:10:00+00:00')"
        )
    async with await Store.open(path) as store:
        repository = FlashcardRepository(store)
        assert await repository.upgrade_sm2() == 1
        state = (await repository.states(5, {0}))[Card(0, "tacrolimus")]
        assert (state.state, state.reviews, state.stability) == (State.Review, 3, 15.0)
        assert state.due_on("UTC") == date(2026, 10, 23)
        assert state.first_reviewed_on == date(2026, 9, 30)
        assert await repository.log(5) == []
