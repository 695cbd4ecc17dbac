"""Quiz scores: leaderboards with honest ties, and each member's statistics, computed from answer rows.

Nothing here stores a total: every figure is a query over `quiz_answers`, whose primary key allows one
answer per member per question. A point is a correct answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select

from bot.db.schema import quiz_answers, quiz_players, quiz_rounds
from bot.store import Store

WEAKEST_SHOWN = 3
WEAK_MIN_ANSWERS = 3
"""A concept counts as one the server keeps missing only once it has been answered this many times."""
WEAK_DAYS = 30
"""How far back the server's weak concepts look."""


@dataclass(frozen=True)
class Standing:
    """One player's score over some answers."""

    user_id: int
    name: str
    points: int
    answered: int


@dataclass(frozen=True)
class Ranked:
    """A standing with its place; tied players share a place (1, 2, 2, 4)."""

    place: int
    tied: bool
    standing: Standing


def places(scores: Sequence[int]) -> list[tuple[int, bool]]:
    """Competition places for scores sorted best first: (place, tied) each; equal scores share a place (1, 2, 2, 4)."""
    counts = Counter(scores)
    result: list[tuple[int, bool]] = []
    for position, score in enumerate(scores, start=1):
        place = result[-1][0] if result and scores[position - 2] == score else position
        result.append((place, counts[score] > 1))
    return result


def rank(standings: Sequence[Standing]) -> list[Ranked]:
    """Order by points (most first); equal points share a place, listed by name then id so the order is stable."""
    ordered = sorted(standings, key=lambda s: (-s.points, s.name.casefold(), s.user_id))
    return [
        Ranked(place, tied, standing)
        for (place, tied), standing in zip(places([s.points for s in ordered]), ordered, strict=True)
    ]


@dataclass(frozen=True)
class CategoryScore:
    """How a member does on questions of one category."""

    category_id: str | None
    answered: int
    correct: int

    @property
    def accuracy(self) -> float:
        """Share answered correctly (0–1)."""
        return self.correct / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class MemberStats:
    """What /stats shows about one member in one guild."""

    answered: int
    correct: int
    best_streak: int
    current_streak: int
    quizzes: int
    weakest: tuple[CategoryScore, ...]

    @property
    def accuracy(self) -> float:
        """Share answered correctly (0–1)."""
        return self.correct / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class ConceptScore:
    """How a server does on questions about one concept."""

    concept_id: str
    answered: int
    correct: int

    @property
    def accuracy(self) -> float:
        """Share answered correctly (0–1)."""
        return self.correct / self.answered if self.answered else 0.0


def streaks(results: Sequence[bool]) -> tuple[int, int]:
    """The longest run of correct answers, and the run at the end (a wrong answer breaks a run)."""
    best = current = 0
    for correct in results:
        current = current + 1 if correct else 0
        best = max(best, current)
    return best, current


def weakest(categories: Sequence[CategoryScore], limit: int = WEAKEST_SHOWN) -> tuple[CategoryScore, ...]:
    """Categories with at least one wrong answer, lowest accuracy first (more answers first on equal accuracy)."""
    missed = [c for c in categories if c.correct < c.answered]
    missed.sort(key=lambda c: (c.accuracy, -c.answered, c.category_id or ""))
    return tuple(missed[:limit])


_A = quiz_answers.c
_ROUND = quiz_rounds.c
_PLAYER = quiz_players.c


def weak_concepts_query(guild_id: int, since: str, min_answers: int) -> Select[Any]:
    """A guild's concepts answered at least `min_answers` times since a moment and missed at least once (also run
    by the concept of the day's weak pool, inside its own transaction): rows of (concept, answered, correct)."""
    answered, correct = func.count(), func.sum(_A.correct)
    return (
        select(_ROUND.concept_id, answered, correct)
        .select_from(quiz_answers.join(quiz_rounds, and_(_ROUND.session_id == _A.session_id, _ROUND.round == _A.round)))
        .where(_A.guild_id == guild_id, _A.answered_at >= since)
        .group_by(_ROUND.concept_id)
        .having(and_(answered >= min_answers, correct < answered))
    )


def _standings_query(*criteria: Any) -> Select[Any]:
    """Points per player: (user, display name, correct, answered). The name is the guild's one row per member."""
    return (
        select(_A.user_id, func.coalesce(func.max(_PLAYER.display_name), ""), func.sum(_A.correct), func.count())
        .select_from(
            quiz_answers.outerjoin(quiz_players, and_(_PLAYER.guild_id == _A.guild_id, _PLAYER.user_id == _A.user_id))
        )
        .where(*criteria)
        .group_by(_A.user_id)
    )


def weak_order(rows: Iterable[Sequence[object]]) -> list[ConceptScore]:
    """Rows of weak_concepts_query, lowest accuracy first (more answers first on equal accuracy, then by id)."""
    scores = [ConceptScore(str(row[0]), int(str(row[1])), int(str(row[2]))) for row in rows]
    return sorted(scores, key=lambda c: (c.accuracy, -c.answered, c.concept_id))


class ScoreRepository:
    """Read-only queries over quiz answers."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def standings(self, guild_id: int, since: datetime | None = None) -> list[Standing]:
        """Every player's points in a guild, over all time or since a moment."""
        rows = await self._store.fetch_all(
            _standings_query(
                _A.guild_id == guild_id, _A.answered_at >= (since.isoformat(timespec="seconds") if since else "")
            )
        )
        return [Standing(int(r[0]), str(r[1]) or f"member {r[0]}", int(r[2]), int(r[3])) for r in rows]

    async def session_standings(self, session_id: int) -> list[Standing]:
        """Every player's points in one quiz."""
        rows = await self._store.fetch_all(_standings_query(_A.session_id == session_id))
        return [Standing(int(r[0]), str(r[1]) or f"member {r[0]}", int(r[2]), int(r[3])) for r in rows]

    async def member_stats(self, guild_id: int, user_id: int) -> MemberStats:
        """Answered, correct, streaks, quizzes played and weakest categories of one member in one guild."""
        rows = await self._store.fetch_all(
            select(_A.correct, _ROUND.category_id, _A.session_id)
            .select_from(
                quiz_answers.join(quiz_rounds, and_(_ROUND.session_id == _A.session_id, _ROUND.round == _A.round))
            )
            .where(_A.guild_id == guild_id, _A.user_id == user_id)
            .order_by(_A.answered_at, _A.session_id, _A.round)
        )
        results = [bool(row[0]) for row in rows]
        best, current = streaks(results)
        by_category: dict[str | None, list[int]] = {}
        for correct, category_id, _ in rows:
            tally = by_category.setdefault(None if category_id is None else str(category_id), [0, 0])
            tally[0] += 1
            tally[1] += int(correct)
        categories = [CategoryScore(category, answered, right) for category, (answered, right) in by_category.items()]
        return MemberStats(
            answered=len(results),
            correct=sum(results),
            best_streak=best,
            current_streak=current,
            quizzes=len({row[2] for row in rows}),
            weakest=weakest(categories),
        )

    async def weak_concepts(
        self, guild_id: int, since: datetime, min_answers: int = WEAK_MIN_ANSWERS
    ) -> list[ConceptScore]:
        """Concepts the guild's members answered at least `min_answers` times since `since` and missed at least
        once, lowest accuracy first (more answers first on equal accuracy, then by id, so the order is stable)."""
        rows = await self._store.fetch_all(
            weak_concepts_query(guild_id, since.isoformat(timespec="seconds"), min_answers)
        )
        return weak_order(rows)
