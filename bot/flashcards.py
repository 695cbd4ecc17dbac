"""Personal flashcards with SM-2 spaced repetition, per user across guilds, in the user's own day.

Why SM-2 and not FSRS: SM-2's few rules (an ease factor, intervals of 1 day, 6 days, then × ease) can be
explained to a student in two sentences and checked by hand, and its state is three numbers per card. FSRS
schedules better mainly once its parameters are fitted to a user's own review history (hundreds of reviews);
a 65-entry glossary gives too few reviews per user for that to pay off.

The rules, from SM-2 (Wozniak, 1987), with Anki's four buttons mapped to SM-2's grades 1, 3, 4 and 5:
- ease' = max(1.3, ease + 0.1 − (5 − q)(0.08 + (5 − q)·0.02)) after every review (new cards start at 2.5);
- Hard, Good, Easy: repetitions + 1; interval 1 day after the first, 6 after the second, then the previous
  interval × ease', rounded;
- Again: repetitions back to 0 and the card comes back the same day (SM-2 repeats failed items until they
  are recalled), then 1 day, 6 days, … as for a new card.
Days are the user's calendar days in the timezone they set (UTC until they do). A shipped entry is one card
in every guild (scope 0); an entry a guild's moderators added is a card only in that guild (scope = guild id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.glossary import Glossary
from bot.store import Store

START_EASE = 2.5
MIN_EASE = 1.3
NEW_PER_DAY = 10
"""New cards introduced per user per day, so a first session is not 65 cards long."""


class Grade(StrEnum):
    """The four answer buttons."""

    AGAIN = "again"
    HARD = "hard"
    GOOD = "good"
    EASY = "easy"

    @property
    def quality(self) -> int:
        """SM-2's 0–5 response quality for this button."""
        return {Grade.AGAIN: 1, Grade.HARD: 3, Grade.GOOD: 4, Grade.EASY: 5}[self]


@dataclass(frozen=True)
class Card:
    """A card's identity: the entry, and whether it is shipped (scope 0) or one guild's own (scope = guild id)."""

    scope: int
    concept_id: str


@dataclass(frozen=True)
class CardState:
    """What SM-2 remembers about one user's card."""

    repetitions: int
    ease: float
    interval_days: int
    due_on: date
    reviews: int
    lapses: int
    first_reviewed_on: date
    last_reviewed_on: date
    last_reviewed_at: datetime


def sm2(state: CardState | None, grade: Grade, today: date, now: datetime) -> CardState:
    """Schedule a card after a review graded `grade` on the user's day `today`."""
    q = grade.quality
    ease = START_EASE if state is None else state.ease
    ease = max(MIN_EASE, round(ease + 0.1 - (5 - q) * (0.08 + (5 - q) * 0.02), 4))
    repetitions = 0 if state is None else state.repetitions
    previous = 0 if state is None else state.interval_days
    lapses = 0 if state is None else state.lapses
    if grade is Grade.AGAIN:
        repetitions, interval, lapses = 0, 0, lapses + (1 if state is not None and state.repetitions else 0)
    else:
        repetitions += 1
        interval = 1 if repetitions == 1 else 6 if repetitions == 2 else max(previous + 1, round(previous * ease))
    return CardState(
        repetitions=repetitions,
        ease=ease,
        interval_days=interval,
        due_on=today + timedelta(days=interval),
        reviews=(0 if state is None else state.reviews) + 1,
        lapses=lapses,
        first_reviewed_on=today if state is None else state.first_reviewed_on,
        last_reviewed_on=today,
        last_reviewed_at=now,
    )


def local_day(moment: datetime, timezone: str) -> date:
    """The user's calendar day at `moment`."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def deck(view: Glossary, shipped: Glossary, guild_id: int | None, category_id: str | None = None) -> list[Card]:
    """The cards a user has in a guild (or in DMs): every entry but the axes, or one category's entries."""
    ids = view.pool([category_id] if category_id else [])
    return [Card(0 if concept_id in shipped or guild_id is None else guild_id, concept_id) for concept_id in ids]


def _new_order(user_id: int, card: Card) -> str:
    """A stable shuffle of new cards, different for each user."""
    return hashlib.sha256(f"{user_id}:{card.scope}:{card.concept_id}".encode()).hexdigest()


@dataclass(frozen=True)
class DeckStatus:
    """What /flashcards status shows."""

    due_today: int
    learned: int
    total: int
    next_due: date | None


def review_queue(
    user_id: int, cards: Sequence[Card], states: dict[Card, CardState], today: date, new_today: int
) -> list[Card]:
    """Today's cards in order: reviews due (oldest first), then new cards within the daily allowance, then
    cards failed earlier today (so a failed card comes back after the others)."""
    due = [card for card in cards if card in states and states[card].due_on <= today]
    earlier = sorted(
        (c for c in due if states[c].last_reviewed_on < today), key=lambda c: (states[c].due_on, c.concept_id)
    )
    again = sorted((c for c in due if states[c].last_reviewed_on >= today), key=lambda c: states[c].last_reviewed_at)
    unseen = sorted((card for card in cards if card not in states), key=lambda card: _new_order(user_id, card))
    return [*earlier, *unseen[: max(0, NEW_PER_DAY - new_today)], *again]


def deck_status(
    user_id: int, cards: Sequence[Card], states: dict[Card, CardState], today: date, new_today: int
) -> DeckStatus:
    """Due today (reviews and today's new cards), learned (recalled at the last review), and the deck's size."""
    queue = review_queue(user_id, cards, states, today, new_today)
    in_deck = [states[card] for card in cards if card in states]
    later = [state.due_on for state in in_deck if state.due_on > today]
    return DeckStatus(
        due_today=len(queue),
        learned=sum(1 for state in in_deck if state.repetitions > 0),
        total=len(cards),
        next_due=min(later) if later else None,
    )


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class FlashcardRepository:
    """The SQL of flashcards: users' timezones and review filters, card states and the review log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def timezone(self, user_id: int) -> str:
        """The user's timezone (UTC until they set one)."""
        rows = await self._store.fetch_all("SELECT timezone FROM flashcard_users WHERE user_id = ?", (user_id,))
        return str(rows[0][0]) if rows else "UTC"

    async def set_timezone(self, user_id: int, timezone: str, now: datetime) -> None:
        """Set the timezone whose days the user's cards are due in."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO flashcard_users (user_id, timezone, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone, updated_at = excluded.updated_at",
                (user_id, timezone, _stamp(now)),
            )

    async def review_filter(self, user_id: int, guild_id: int) -> str | None:
        """The category the user's current review in this guild is limited to."""
        rows = await self._store.fetch_all(
            "SELECT category_id FROM flashcard_filters WHERE user_id = ? AND guild_id = ?", (user_id, guild_id)
        )
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    async def set_review_filter(self, user_id: int, guild_id: int, category_id: str | None) -> None:
        """Remember a review's category, so its buttons (which have no room for it) keep to it, restarts included."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO flashcard_filters (user_id, guild_id, category_id) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, guild_id) DO UPDATE SET category_id = excluded.category_id",
                (user_id, guild_id, category_id),
            )

    async def states(self, user_id: int, scopes: Iterable[int]) -> dict[Card, CardState]:
        """The user's card states in the given scopes."""
        rows = await self._store.fetch_all(
            "SELECT scope, concept_id, repetitions, ease, interval_days, due_on, reviews, lapses, first_reviewed_on, "
            "last_reviewed_on, last_reviewed_at FROM flashcards WHERE user_id = ? "
            "AND scope IN (SELECT value FROM json_each(?))",
            (user_id, json.dumps(sorted(set(scopes)))),
        )
        return {Card(int(row[0]), str(row[1])): self._state(row[2:]) for row in rows}

    @staticmethod
    def _state(row: Sequence[object]) -> CardState:
        repetitions, ease, interval, due_on, reviews, lapses, first, last, last_at = row
        return CardState(
            repetitions=int(str(repetitions)),
            ease=float(str(ease)),
            interval_days=int(str(interval)),
            due_on=date.fromisoformat(str(due_on)),
            reviews=int(str(reviews)),
            lapses=int(str(lapses)),
            first_reviewed_on=date.fromisoformat(str(first)),
            last_reviewed_on=date.fromisoformat(str(last)),
            last_reviewed_at=datetime.fromisoformat(str(last_at)),
        )

    async def new_today(self, user_id: int, today: date) -> int:
        """How many cards the user saw for the first time on their day `today` (in any guild)."""
        rows = await self._store.fetch_all(
            "SELECT count(*) FROM flashcards WHERE user_id = ? AND first_reviewed_on = ?", (user_id, today.isoformat())
        )
        return int(rows[0][0])

    async def grade(
        self, user_id: int, card: Card, grade: Grade, seen_reviews: int, today: date, now: datetime
    ) -> CardState | None:
        """Apply a grade if the card is as the user saw it (`seen_reviews` reviews so far); None if it was already
        graded since (a double click, or an old message): compare-and-set in one transaction."""
        async with self._store.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT repetitions, ease, interval_days, due_on, reviews, lapses, first_reviewed_on, "
                    "last_reviewed_on, last_reviewed_at FROM flashcards WHERE user_id = ? AND scope = ? "
                    "AND concept_id = ?",
                    (user_id, card.scope, card.concept_id),
                )
            )
            state = self._state(tuple(rows[0])) if rows else None
            if (state.reviews if state else 0) != seen_reviews:
                return None
            new = sm2(state, grade, today, now)
            await db.execute(
                "INSERT INTO flashcards (user_id, scope, concept_id, repetitions, ease, interval_days, due_on, "
                "reviews, lapses, first_reviewed_on, last_reviewed_on, last_reviewed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id, scope, concept_id) DO UPDATE SET repetitions = excluded.repetitions, "
                "ease = excluded.ease, interval_days = excluded.interval_days, due_on = excluded.due_on, "
                "reviews = excluded.reviews, lapses = excluded.lapses, last_reviewed_on = excluded.last_reviewed_on, "
                "last_reviewed_at = excluded.last_reviewed_at",
                (user_id, card.scope, card.concept_id, new.repetitions, new.ease, new.interval_days,
                 new.due_on.isoformat(), new.reviews, new.lapses, new.first_reviewed_on.isoformat(),
                 new.last_reviewed_on.isoformat(), _stamp(now)),
            )  # fmt: skip
            await db.execute(
                "INSERT INTO flashcard_reviews (user_id, scope, concept_id, review, grade, reviewed_at, local_date, "
                "interval_days, ease) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user_id, card.scope, card.concept_id, new.reviews, grade.value, _stamp(now), today.isoformat(),
                 new.interval_days, new.ease),
            )  # fmt: skip
        return new


@dataclass(frozen=True)
class ReviewPosition:
    """Where a user stands in today's review: the next card (if any), its state, and the deck's status."""

    card: Card | None
    state: CardState | None
    status: DeckStatus
    today: date
    timezone: str


class Flashcards:
    """The flashcard feature for the cogs: which card is next, grading, timezones."""

    def __init__(self, store: Store) -> None:
        self.repository = FlashcardRepository(store)

    async def position(
        self, user_id: int, view: Glossary, shipped: Glossary, guild_id: int | None, now: datetime,
        category_id: str | None = None,
    ) -> ReviewPosition:  # fmt: skip
        """The user's next due card in this guild (optionally within a category) and their status."""
        timezone = await self.repository.timezone(user_id)
        today = local_day(now, timezone)
        cards = deck(view, shipped, guild_id, category_id)
        states = await self.repository.states(user_id, {0, guild_id or 0})
        new_today = await self.repository.new_today(user_id, today)
        queue = review_queue(user_id, cards, states, today, new_today)
        status = deck_status(user_id, cards, states, today, new_today)
        card = queue[0] if queue else None
        return ReviewPosition(card, states.get(card) if card else None, status, today, timezone)

    async def today(self, user_id: int, now: datetime) -> date:
        """The user's calendar day at `now`."""
        return local_day(now, await self.repository.timezone(user_id))

    async def state(self, user_id: int, card: Card) -> CardState | None:
        """The user's state of one card (None if never reviewed)."""
        return (await self.repository.states(user_id, {card.scope})).get(card)

    async def grade(self, user_id: int, card: Card, grade: Grade, seen_reviews: int, now: datetime) -> CardState | None:
        """Grade a card on the user's day; None if it was graded since it was shown."""
        today = local_day(now, await self.repository.timezone(user_id))
        return await self.repository.grade(user_id, card, grade, seen_reviews, today, now)
