"""Personal flashcards scheduled by FSRS-6, per user across guilds, in the user's own day.

Scheduling is the `fsrs` package's FSRS-6 with its default parameters (no per-user fitting: the optimiser
needs PyTorch, which this bot does not install). On the open spaced-repetition benchmark FSRS-6 with default
parameters predicts forgetting far better than SM-2 (log loss 0.339 vs 0.547), so members review less for
the same retention. What this module adds around the library:
- days are the user's calendar days in their timezone: a card whose FSRS due time falls on a day is due
  from that day's midnight; cards still in (re)learning come back the same day, after the other due cards;
- every member chooses a desired retention (0.80–0.97, default 0.90);
- the four choices always lead to distinct intervals: in the Review state the library can give Hard and Good
  (or Good and Easy) the same number of days, so, as Anki and fsrs-rs do, Good is at least Hard + 1 day and
  Easy at least Good + 1 day; intervals stop at 36,500 days and due times never pass the year 9999;
- no fuzzing (the same grades give the same days, which members and tests can check);
- every grade, from a flashcard or a quiz answer, goes through `review` and is logged with the state before
  and after.
A shipped entry is one card in every guild (scope 0); an entry a guild's moderators added is a card only in
that guild (scope = guild id).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State
from sqlalchemy import Select, func, insert, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.migrate import lock_schema
from bot.db.schema import card_reviews, cards, flashcard_filters, flashcard_users
from bot.db.schema import flashcard_reviews as sm2_reviews
from bot.db.schema import flashcards as sm2_cards
from bot.glossary import Glossary
from bot.store import Store

NEW_PER_DAY = 10
"""New cards introduced per user per day (by reviews and by quizzes), so a first session is not 65 cards long."""
DEFAULT_RETENTION = 0.90
MIN_RETENTION = 0.80
MAX_RETENTION = 0.97
MAX_INTERVAL_DAYS = 36500
LATEST_DUE = datetime(9999, 12, 31, tzinfo=UTC)
LEARNING_STEPS = (timedelta(minutes=1), timedelta(minutes=10))
RELEARNING_STEPS = (timedelta(minutes=10),)


class Grade(StrEnum):
    """The four answer buttons (FSRS's ratings)."""

    AGAIN = "again"
    HARD = "hard"
    GOOD = "good"
    EASY = "easy"

    @property
    def rating(self) -> Rating:
        """FSRS's rating for this button."""
        return {Grade.AGAIN: Rating.Again, Grade.HARD: Rating.Hard, Grade.GOOD: Rating.Good, Grade.EASY: Rating.Easy}[
            self
        ]


class Source(StrEnum):
    """Where a review came from."""

    FLASHCARD = "flashcard"
    QUIZ = "quiz"


@dataclass(frozen=True)
class Card:
    """A card's identity: the entry, and whether it is shipped (scope 0) or one guild's own (scope = guild id)."""

    scope: int
    concept_id: str


@dataclass(frozen=True)
class CardState:
    """What FSRS remembers about one user's card, plus the bookkeeping of days and versions."""

    state: State
    step: int | None
    stability: float
    difficulty: float
    due_at: datetime
    last_review_at: datetime
    reviews: int
    """Every grading so far: the version a button must match."""
    lapses: int
    first_reviewed_on: date
    last_reviewed_on: date

    @property
    def learning(self) -> bool:
        """Still in (re)learning steps: due again within the day."""
        return self.state is not State.Review

    def due_on(self, timezone: str) -> date:
        """The user's calendar day on which the card falls due."""
        return local_day(self.due_at, timezone)

    def as_fsrs(self, timezone: str) -> FsrsCard:
        """The library's card for this state, last reviewed at the start of the member's day of its last review:
        FSRS counts whole days since then, so a card due tomorrow and reviewed tomorrow morning has waited a day
        (not 21 hours, which FSRS would treat as a same-day review)."""
        return FsrsCard(
            card_id=1, state=self.state, step=self.step, stability=self.stability, difficulty=self.difficulty,
            due=self.due_at, last_review=day_start(self.last_reviewed_on, timezone),
        )  # fmt: skip

    def as_json(self) -> str:
        """The scheduler's part of the state, for the review log."""
        return json.dumps(
            {"state": self.state.name.lower(), "step": self.step, "stability": round(self.stability, 4),
             "difficulty": round(self.difficulty, 4), "due": _stamp(self.due_at)}
        )  # fmt: skip


@lru_cache(maxsize=32)
def scheduler(retention: float = DEFAULT_RETENTION, maximum_interval: int = MAX_INTERVAL_DAYS) -> Scheduler:
    """FSRS-6 with default parameters at a desired retention (one per retention, reused)."""
    return Scheduler(
        desired_retention=retention, learning_steps=LEARNING_STEPS, relearning_steps=RELEARNING_STEPS,
        maximum_interval=maximum_interval, enable_fuzzing=False,
    )  # fmt: skip


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def day_start(day: date, timezone: str) -> datetime:
    """The UTC instant the member's calendar day begins."""
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def outcomes(
    state: CardState | None, now: datetime, today: date, retention: float = DEFAULT_RETENTION, timezone: str = "UTC"
) -> dict[Grade, CardState]:
    """What each of the four grades would make of the card at `now`: the buttons' labels and the grade itself."""
    now = _utc(now)
    card = FsrsCard(card_id=1, due=now) if state is None else state.as_fsrs(timezone)
    result: dict[Grade, CardState] = {}
    previous: timedelta | None = None
    room = max(1, min(MAX_INTERVAL_DAYS, (LATEST_DUE - now).days - 1))  # no due date past the year 9999
    for grade in Grade:
        after, _ = scheduler(retention, room).review_card(card, grade.rating, now)
        interval = after.due - now
        if previous is not None and after.state is State.Review and interval <= previous:
            interval = timedelta(days=max(1, previous.days) + 1)  # distinct choices: one day more than the last
        previous = interval
        lapse = state is not None and state.state is State.Review and grade is Grade.AGAIN
        result[grade] = CardState(
            state=after.state, step=after.step, stability=float(after.stability or 0.0),
            difficulty=float(after.difficulty or 0.0), due_at=now + min(interval, LATEST_DUE - now), last_review_at=now,
            reviews=(state.reviews if state else 0) + 1, lapses=(state.lapses if state else 0) + int(lapse),
            first_reviewed_on=state.first_reviewed_on if state else today, last_reviewed_on=today,
        )  # fmt: skip
    longest = min(timedelta(days=MAX_INTERVAL_DAYS), LATEST_DUE - now)
    for steps_below, grade in enumerate(reversed(Grade)):  # at the longest interval: Easy, then a day less each
        cap = longest - timedelta(days=steps_below)
        if result[grade].due_at - now > cap and cap > timedelta(days=1):
            result[grade] = replace(result[grade], due_at=now + cap)
    return result


def review(
    state: CardState | None, grade: Grade, now: datetime, today: date, retention: float = DEFAULT_RETENTION,
    timezone: str = "UTC",
) -> CardState:  # fmt: skip
    """The card after a review graded `grade` at `now` (the user's day `today`)."""
    return outcomes(state, now, today, retention, timezone)[grade]


def retrievability(state: CardState, now: datetime, timezone: str = "UTC") -> float:
    """FSRS's estimate of the chance the user recalls the card at `now` (0–1), counting whole days."""
    return float(scheduler().get_card_retrievability(state.as_fsrs(timezone), _utc(now)))


def interval_text(interval: timedelta) -> str:
    """An interval as people say it: minutes under an hour, then hours, days, months, years."""
    minutes = round(interval.total_seconds() / 60)
    if minutes < 60:
        return f"{max(1, minutes)} min"
    if interval < timedelta(days=1):
        return f"{round(minutes / 60)} h"
    days = interval.days
    if days < 60:
        return "1 day" if days == 1 else f"{days} days"
    if days < 365:
        return f"{days / 30.4:.1f} months"
    return f"{days / 365.25:.1f} years"


def choice_labels(choices: dict[Grade, CardState]) -> dict[Grade, str]:
    """How long each choice waits, as people say it; exact days where the rounded words would read alike."""
    waits = {grade: state.due_at - state.last_review_at for grade, state in choices.items()}
    labels = {grade: interval_text(wait) for grade, wait in waits.items()}
    if len(set(labels.values())) < len(labels):
        labels = {grade: interval_text(wait) if wait < timedelta(days=1) else f"{wait.days:,} days"
                  for grade, wait in waits.items()}  # fmt: skip
    return labels


def local_day(moment: datetime, timezone: str) -> date:
    """The user's calendar day at `moment`."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def deck(view: Glossary, shipped: Glossary, guild_id: int | None, category_id: str | None = None) -> list[Card]:
    """The cards a user has in a guild (or in DMs): every entry but the axes, or one category's entries."""
    ids = view.pool([category_id] if category_id else [])
    return [card_for(concept_id, shipped, guild_id) for concept_id in ids]


def card_for(concept_id: str, shipped: Glossary, guild_id: int | None) -> Card:
    """The card of an entry: shared (scope 0) when shipped, else the guild's own."""
    return Card(0 if concept_id in shipped or guild_id is None else guild_id, concept_id)


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


def is_due(state: CardState, today: date, timezone: str) -> bool:
    """Due on the user's day `today` (or earlier)."""
    return state.due_on(timezone) <= today


def review_queue(
    user_id: int, cards: Sequence[Card], states: dict[Card, CardState], today: date, new_today: int, timezone: str
) -> list[Card]:
    """Today's cards in order: reviews due (oldest first), then new cards within the daily allowance, then
    cards graded earlier today that are still in (re)learning (so a failed card comes back after the others)."""
    due = [card for card in cards if card in states and is_due(states[card], today, timezone)]
    earlier = sorted(
        (c for c in due if states[c].last_reviewed_on < today), key=lambda c: (states[c].due_at, c.concept_id)
    )
    again = sorted((c for c in due if states[c].last_reviewed_on >= today), key=lambda c: states[c].due_at)
    unseen = sorted((card for card in cards if card not in states), key=lambda card: _new_order(user_id, card))
    return [*earlier, *unseen[: max(0, NEW_PER_DAY - new_today)], *again]


def deck_status(
    user_id: int, cards: Sequence[Card], states: dict[Card, CardState], today: date, new_today: int, timezone: str
) -> DeckStatus:
    """Due today (reviews and today's new cards), learned (out of the learning steps), and the deck's size."""
    queue = review_queue(user_id, cards, states, today, new_today, timezone)
    in_deck = [states[card] for card in cards if card in states]
    later = [state.due_on(timezone) for state in in_deck if state.due_on(timezone) > today]
    return DeckStatus(
        due_today=len(queue),
        learned=sum(1 for state in in_deck if not state.learning),
        total=len(cards),
        next_due=min(later) if later else None,
    )


def estimate_daily_reviews(cards: int, retention: float, days: int = 365, seed: int = 0) -> float:
    """Average reviews a day over `days` for a deck of `cards` new cards, NEW_PER_DAY introduced a day.

    A small simulation with FSRS's own model as the truth: each due card is recalled with the probability
    FSRS predicts (graded Good) or forgotten (Again, then relearnt the same day)."""
    rng = random.Random(seed)
    start = datetime(2000, 1, 1, 12, tzinfo=UTC)
    states: list[CardState | None] = [None] * cards
    done = 0
    for day in range(days):
        now = start + timedelta(days=day)
        today = now.date()
        introduced = 0
        for index, state in enumerate(states):
            if state is None:
                if introduced >= NEW_PER_DAY:
                    continue
                introduced += 1
                state = review(state, Grade.GOOD, now, today, retention)
                state = review(state, Grade.GOOD, now + timedelta(minutes=10), today, retention)
                done += 2
            elif state.due_at.date() <= today:
                recalled = rng.random() < retrievability(state, now)
                state = review(state, Grade.GOOD if recalled else Grade.AGAIN, now, today, retention)
                done += 1
                while state.learning:
                    state = review(state, Grade.GOOD, state.due_at, today, retention)
                    done += 1
            states[index] = state
    return done / days


def _stamp(moment: datetime) -> str:
    return _utc(moment).isoformat(timespec="seconds")


_CARD = cards.c
_STATE_COLUMNS = (
    _CARD.state, _CARD.step, _CARD.stability, _CARD.difficulty, _CARD.due_at, _CARD.last_review_at, _CARD.reviews,
    _CARD.lapses, _CARD.first_reviewed_on, _CARD.last_reviewed_on,
)  # fmt: skip


@dataclass(frozen=True)
class Member:
    """A member's flashcard settings."""

    timezone: str = "UTC"
    retention: float = DEFAULT_RETENTION
    quizzes_feed_cards: bool = True


class GradeRefused(StrEnum):
    """Why a flashcard grade was not applied."""

    STALE = "stale"  # graded since it was shown (a double click, an old message)
    NOT_DUE = "not_due"  # the card is not due today (a forged or very old button)
    NO_NEW_LEFT = "no_new_left"  # a new card beyond today's allowance


@dataclass(frozen=True)
class GradeResult:
    """A grade's outcome: the new state, or why it was refused (with the card as it stands)."""

    state: CardState | None
    refused: GradeRefused | None = None
    due_on: date | None = None


GRADE_LOCKS = 64


class FlashcardRepository:
    """The SQL of flashcards: members' settings and review filters, card states and the review log."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # A member's grades in this process in the order they came (on PostgreSQL transactions run side by side,
        # so a double click's second grade could otherwise commit first); striped, so memory stays fixed.
        self._turns = [asyncio.Lock() for _ in range(GRADE_LOCKS)]

    def _turn(self, user_id: int) -> asyncio.Lock:
        return self._turns[user_id % GRADE_LOCKS]

    async def member(self, user_id: int) -> Member:
        """The member's settings (defaults until they change one)."""
        users = flashcard_users.c
        rows = await self._store.fetch_all(
            select(users.timezone, users.desired_retention, users.quiz_cards).where(users.user_id == user_id)
        )
        if not rows:
            return Member()
        timezone, retention, quiz_cards = rows[0]
        return Member(str(timezone), float(retention), bool(quiz_cards))

    async def timezone(self, user_id: int) -> str:
        """The user's timezone (UTC until they set one)."""
        return (await self.member(user_id)).timezone

    async def _set(self, user_id: int, column: str, value: object, now: datetime) -> None:
        statement = self._store.insert(flashcard_users).values({"user_id": user_id, column: value,
                                                                "updated_at": _stamp(now)})  # fmt: skip
        async with self._store.transaction() as db:
            await db.execute(
                statement.on_conflict_do_update(
                    index_elements=[flashcard_users.c.user_id],
                    set_={column: statement.excluded[column], "updated_at": statement.excluded.updated_at},
                )
            )

    async def set_timezone(self, user_id: int, timezone: str, now: datetime) -> None:
        """Set the timezone whose days the user's cards are due in."""
        await self._set(user_id, "timezone", timezone, now)

    async def set_retention(self, user_id: int, retention: float, now: datetime) -> None:
        """Set the member's desired retention (checked by the caller to be within bounds)."""
        if not MIN_RETENTION <= retention <= MAX_RETENTION:
            raise ValueError(f"retention {retention} out of range")
        await self._set(user_id, "desired_retention", retention, now)

    async def set_quiz_cards(self, user_id: int, enabled: bool, now: datetime) -> None:
        """Whether quiz answers update the member's cards."""
        await self._set(user_id, "quiz_cards", int(enabled), now)

    async def review_filter(self, user_id: int, guild_id: int) -> str | None:
        """The category the user's current review in this guild is limited to."""
        filters = flashcard_filters.c
        value = await self._store.fetch_value(
            select(filters.category_id).where(filters.user_id == user_id, filters.guild_id == guild_id)
        )
        return None if value is None else str(value)

    async def set_review_filter(self, user_id: int, guild_id: int, category_id: str | None) -> None:
        """Remember a review's category, so its buttons (which have no room for it) keep to it, restarts included."""
        statement = self._store.insert(flashcard_filters).values(
            user_id=user_id, guild_id=guild_id, category_id=category_id
        )
        async with self._store.transaction() as db:
            await db.execute(
                statement.on_conflict_do_update(
                    index_elements=[flashcard_filters.c.user_id, flashcard_filters.c.guild_id],
                    set_={"category_id": statement.excluded.category_id},
                )
            )

    async def states(self, user_id: int, scopes: Iterable[int]) -> dict[Card, CardState]:
        """The user's card states in the given scopes."""
        rows = await self._store.fetch_all(
            select(_CARD.scope, _CARD.concept_id, *_STATE_COLUMNS).where(
                _CARD.user_id == user_id, _CARD.scope.in_(sorted(set(scopes)))
            )
        )
        return {Card(int(row[0]), str(row[1])): self._state(row[2:]) for row in rows}

    @staticmethod
    def _state(row: Sequence[object]) -> CardState:
        state, step, stability, difficulty, due_at, last_at, reviews, lapses, first, last = row
        return CardState(
            state=State(int(str(state))),
            step=None if step is None else int(str(step)),
            stability=float(str(stability)),
            difficulty=float(str(difficulty)),
            due_at=datetime.fromisoformat(str(due_at)),
            last_review_at=datetime.fromisoformat(str(last_at)),
            reviews=int(str(reviews)),
            lapses=int(str(lapses)),
            first_reviewed_on=date.fromisoformat(str(first)),
            last_reviewed_on=date.fromisoformat(str(last)),
        )

    @staticmethod
    def _new_on(user_id: int, day: date) -> Select[Any]:
        return select(func.count()).where(_CARD.user_id == user_id, _CARD.first_reviewed_on == day.isoformat())

    async def new_today(self, user_id: int, today: date) -> int:
        """How many cards the user saw for the first time on their day `today` (in any guild, from any source)."""
        return int(await self._store.fetch_value(self._new_on(user_id, today)))

    async def _current(self, db: AsyncConnection, user_id: int, card: Card, *, lock: bool = True) -> CardState | None:
        query = select(*_STATE_COLUMNS).where(
            _CARD.user_id == user_id, _CARD.scope == card.scope, _CARD.concept_id == card.concept_id
        )
        row = (await db.execute(query.with_for_update() if lock else query)).first()
        return self._state(tuple(row)) if row is not None else None

    @classmethod
    async def _save(cls, db: AsyncConnection, user_id: int, card: Card, after: CardState) -> None:
        statement = cls._insert_card(db).values(
            user_id=user_id, scope=card.scope, concept_id=card.concept_id, state=after.state.value, step=after.step,
            stability=after.stability, difficulty=after.difficulty, due_at=_stamp(after.due_at),
            last_review_at=_stamp(after.last_review_at), reviews=after.reviews, lapses=after.lapses,
            first_reviewed_on=after.first_reviewed_on.isoformat(), last_reviewed_on=after.last_reviewed_on.isoformat(),
        )  # fmt: skip
        kept = ("state", "step", "stability", "difficulty", "due_at", "last_review_at", "reviews", "lapses",
                "last_reviewed_on")  # fmt: skip
        await db.execute(
            statement.on_conflict_do_update(
                index_elements=[_CARD.user_id, _CARD.scope, _CARD.concept_id],
                set_={name: statement.excluded[name] for name in kept},
            )
        )

    @staticmethod
    def _insert_card(db: AsyncConnection) -> Any:
        return (sqlite_insert if db.dialect.name == "sqlite" else postgresql_insert)(cards)

    @classmethod
    async def _write(
        cls, db: AsyncConnection, user_id: int, card: Card, before: CardState | None, after: CardState,
        grade: Grade, source: Source, now: datetime,
    ) -> None:  # fmt: skip
        """Save the card's new state and log the review, in the caller's transaction."""
        await cls._save(db, user_id, card, after)
        await db.execute(
            insert(card_reviews).values(
                user_id=user_id, scope=card.scope, concept_id=card.concept_id, review=after.reviews,
                grade=grade.value, source=source.value, reviewed_at=_stamp(now),
                local_date=after.last_reviewed_on.isoformat(), state_before=before.as_json() if before else None,
                state_after=after.as_json(),
            )
        )  # fmt: skip

    async def grade(
        self, user_id: int, card: Card, grade: Grade, seen_reviews: int, member: Member, today: date, now: datetime
    ) -> GradeResult:
        """Apply a flashcard grade if the card is as the user saw it (`seen_reviews` reviews so far) and due
        today (or new within today's allowance); otherwise say why not. Checked and written in one transaction.

        Two grades of a new card at once (another connection or process) both find no row to lock: the second
        insert is refused by the review log's unique key, and that grade is stale like any other."""
        async with self._turn(user_id):
            try:
                return await self._grade(user_id, card, grade, seen_reviews, member, today, now)
            except IntegrityError:
                async with self._store.database.read() as db:
                    state = await self._current(db, user_id, card, lock=False)
                if (state.reviews if state else 0) == seen_reviews:
                    raise  # not a grade that came first: a real failure (a full disk's trigger, say)
                return GradeResult(state, GradeRefused.STALE)

    async def _grade(
        self, user_id: int, card: Card, grade: Grade, seen_reviews: int, member: Member, today: date, now: datetime
    ) -> GradeResult:
        async with self._store.transaction() as db:
            state = await self._current(db, user_id, card)
            if (state.reviews if state else 0) != seen_reviews:
                return GradeResult(state, GradeRefused.STALE)
            if state is not None and not is_due(state, today, member.timezone):
                return GradeResult(state, GradeRefused.NOT_DUE, state.due_on(member.timezone))
            if state is None and int((await db.execute(self._new_on(user_id, today))).scalar_one()) >= NEW_PER_DAY:
                return GradeResult(None, GradeRefused.NO_NEW_LEFT)
            new = review(state, grade, now, today, member.retention, member.timezone)
            await self._write(db, user_id, card, state, new, grade, Source.FLASHCARD, now)
        return GradeResult(new)

    async def record_quiz(
        self, user_id: int, card: Card, grade: Grade, member: Member, today: date, now: datetime
    ) -> CardState | None:
        """A quiz answer as evidence for the member's card: reviewed whenever it is due, created within today's
        new-card allowance (None when the allowance is used up). A new card graded meanwhile by another
        connection makes the first try conflict: the answer is then applied to the card as it now stands."""
        async with self._turn(user_id):
            try:
                return await self._record_quiz(user_id, card, grade, member, today, now)
            except IntegrityError:
                return await self._record_quiz(user_id, card, grade, member, today, now)

    async def _record_quiz(
        self, user_id: int, card: Card, grade: Grade, member: Member, today: date, now: datetime
    ) -> CardState | None:
        async with self._store.transaction() as db:
            state = await self._current(db, user_id, card)
            if state is None and int((await db.execute(self._new_on(user_id, today))).scalar_one()) >= NEW_PER_DAY:
                return None
            new = review(state, grade, now, today, member.retention, member.timezone)
            await self._write(db, user_id, card, state, new, grade, Source.QUIZ, now)
        return new

    async def log(self, user_id: int) -> list[tuple[object, ...]]:
        """The member's review log, oldest first: (concept, grade, source, reviewed_at, before, after)."""
        reviews = card_reviews.c
        return await self._store.fetch_all(
            select(reviews.concept_id, reviews.grade, reviews.source, reviews.reviewed_at, reviews.state_before,
                   reviews.state_after)
            .where(reviews.user_id == user_id)
            .order_by(reviews.reviewed_at, reviews.id)
        )  # fmt: skip

    async def upgrade_sm2(self) -> int:
        """Move cards kept by the SM-2 scheduler to FSRS by replaying each card's review history; then drop the
        SM-2 tables. One transaction, so a crash leaves the SM-2 tables as they were. Returns the cards moved.

        Processes starting together on PostgreSQL take turns (the schema lock): the first moves the cards, the
        others then find the tables gone (two dropping them at once would deadlock)."""
        if not await self._store.has_table(sm2_cards.name):
            return 0
        old, logged, users = sm2_cards.c, sm2_reviews.c, flashcard_users.c
        async with self._store.transaction() as db:
            await lock_schema(db)
            if not await db.run_sync(lambda sync: inspect(sync).has_table(sm2_cards.name)):
                return 0  # moved by another process while this one waited
            members = {
                int(row[0]): Member(str(row[1]), float(row[2]))
                for row in await db.execute(select(users.user_id, users.timezone, users.desired_retention))
            }
            old_cards = (
                await db.execute(
                    select(old.user_id, old.scope, old.concept_id, old.interval_days, old.due_on, old.reviews,
                           old.lapses, old.first_reviewed_on, old.last_reviewed_on, old.last_reviewed_at)
                    .order_by(old.user_id, old.scope, old.concept_id)
                )
            ).all()  # fmt: skip
            history: dict[tuple[int, int, str], list[tuple[str, str, str]]] = {}
            for row in await db.execute(
                select(logged.user_id, logged.scope, logged.concept_id, logged.grade, logged.reviewed_at,
                       logged.local_date)
                .order_by(logged.user_id, logged.scope, logged.concept_id, logged.review)
            ):  # fmt: skip
                history.setdefault((int(row[0]), int(row[1]), str(row[2])), []).append(
                    (str(row[3]), str(row[4]), str(row[5]))
                )
            replayed = await asyncio.to_thread(replay_sm2, [tuple(row) for row in old_cards], history, members)
            for user_id, card, steps, final in replayed:
                for before, after, grade, moment in steps:
                    await self._write(db, user_id, card, before, after, grade, Source.FLASHCARD, moment)
                await self._save(db, user_id, card, final)
            await db.run_sync(lambda sync: sm2_reviews.drop(sync))
            await db.run_sync(lambda sync: sm2_cards.drop(sync))
        return len(replayed)


ReplayStep = tuple[CardState | None, CardState, Grade, datetime]


def replay_sm2(
    old_cards: Sequence[Sequence[object]], history: dict[tuple[int, int, str], list[tuple[str, str, str]]],
    members: dict[int, Member],
) -> list[tuple[int, Card, list[ReplayStep], CardState]]:  # fmt: skip
    """Each SM-2 card's grades replayed through FSRS (at their times, in the member's days and retention): the
    steps to log and the final state. A card without its whole history keeps SM-2's due day, in FSRS's Review
    state with the SM-2 interval as stability, and logs nothing."""
    result: list[tuple[int, Card, list[ReplayStep], CardState]] = []
    for user_id, scope, concept_id, interval, due_on, reviews, lapses, first, last, last_at in old_cards:
        card = Card(int(str(scope)), str(concept_id))
        member = members.get(int(str(user_id)), Member())
        steps: list[ReplayStep] = []
        state: CardState | None = None
        for grade_text, at, day in history.get((int(str(user_id)), card.scope, card.concept_id), []):
            moment = datetime.fromisoformat(at)
            before, grade = state, Grade(grade_text)
            state = review(state, grade, moment, date.fromisoformat(day), member.retention, member.timezone)
            steps.append((before, state, grade, moment))
        if state is None or state.reviews != int(str(reviews)):  # no (or a partial) history: keep SM-2's days
            moment = datetime.fromisoformat(str(last_at))
            due = datetime.combine(date.fromisoformat(str(due_on)), moment.timetz())
            steps = []
            state = CardState(
                state=State.Review, step=None, stability=max(1.0, float(str(interval))), difficulty=5.0,
                due_at=min(due, LATEST_DUE), last_review_at=moment, reviews=int(str(reviews)),
                lapses=int(str(lapses)), first_reviewed_on=date.fromisoformat(str(first)),
                last_reviewed_on=date.fromisoformat(str(last)),
            )  # fmt: skip
        # the replay keeps the SM-2 day a card was first seen on (it counted against that day's new cards)
        result.append(
            (int(str(user_id)), card, steps, replace(state, first_reviewed_on=date.fromisoformat(str(first))))
        )
    return result


@dataclass(frozen=True)
class ReviewPosition:
    """Where a user stands in today's review: the next card (if any), its state, and the deck's status."""

    card: Card | None
    state: CardState | None
    status: DeckStatus
    today: date
    member: Member

    @property
    def timezone(self) -> str:
        """The member's timezone."""
        return self.member.timezone


@dataclass(frozen=True)
class Recall:
    """A member's cards in one guild as FSRS sees them today."""

    cards: int
    """Cards the member has reviewed at least once."""
    average: float
    """Mean retrievability of those cards now (0–1)."""
    due_today: int
    """Reviews due today (not counting new cards)."""
    weakest: tuple[tuple[Card, float], ...]
    """Reviewed cards, weakest first: those still in (re)learning, then by lowest retrievability."""


class Flashcards:
    """The flashcard feature for the cogs: which card is next, grading, quiz evidence, settings."""

    def __init__(self, store: Store) -> None:
        self.repository = FlashcardRepository(store)

    async def position(
        self, user_id: int, view: Glossary, shipped: Glossary, guild_id: int | None, now: datetime,
        category_id: str | None = None,
    ) -> ReviewPosition:  # fmt: skip
        """The user's next due card in this guild (optionally within a category) and their status."""
        member = await self.repository.member(user_id)
        today = local_day(now, member.timezone)
        cards = deck(view, shipped, guild_id, category_id)
        states = await self.repository.states(user_id, {0, guild_id or 0})
        new_today = await self.repository.new_today(user_id, today)
        queue = review_queue(user_id, cards, states, today, new_today, member.timezone)
        status = deck_status(user_id, cards, states, today, new_today, member.timezone)
        card = queue[0] if queue else None
        return ReviewPosition(card, states.get(card) if card else None, status, today, member)

    async def today(self, user_id: int, now: datetime) -> date:
        """The user's calendar day at `now`."""
        return local_day(now, await self.repository.timezone(user_id))

    async def state(self, user_id: int, card: Card) -> CardState | None:
        """The user's state of one card (None if never reviewed)."""
        return (await self.repository.states(user_id, {card.scope})).get(card)

    async def grade(self, user_id: int, card: Card, grade: Grade, seen_reviews: int, now: datetime) -> GradeResult:
        """Grade a card on the user's day; refused if graded since it was shown, or not due."""
        member = await self.repository.member(user_id)
        today = local_day(now, member.timezone)
        return await self.repository.grade(user_id, card, grade, seen_reviews, member, today, now)

    async def quiz_answer(self, user_id: int, card: Card, correct: bool, fast: bool, now: datetime) -> CardState | None:
        """A quiz answer as evidence: wrong is a lapse (Again), right is Good, or Easy when answered fast.
        None when the member turned this off or a new card would exceed today's allowance."""
        member = await self.repository.member(user_id)
        if not member.quizzes_feed_cards:
            return None
        grade = Grade.AGAIN if not correct else Grade.EASY if fast else Grade.GOOD
        today = local_day(now, member.timezone)
        return await self.repository.record_quiz(user_id, card, grade, member, today, now)

    async def recall(
        self, user_id: int, view: Glossary, shipped: Glossary, guild_id: int | None, now: datetime
    ) -> Recall:
        """The member's recall estimate, reviews due today and weakest cards in this guild's deck."""
        member = await self.repository.member(user_id)
        today = local_day(now, member.timezone)
        states = await self.repository.states(user_id, {0, guild_id or 0})
        mine = [(card, states[card]) for card in deck(view, shipped, guild_id) if card in states]
        scored = sorted(  # cards still in (re)learning (new, or missed today) first: FSRS counts whole days
            ((card, retrievability(state, now, member.timezone)) for card, state in mine),
            key=lambda item: (not states[item[0]].learning, item[1], item[0].concept_id),
        )
        average = sum(r for _, r in scored) / len(scored) if scored else 0.0
        due = sum(1 for _, state in mine if is_due(state, today, member.timezone))
        return Recall(len(scored), average, due, tuple(scored))
