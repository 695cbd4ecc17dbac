"""Quiz scores: leaderboards with honest ties, and each member's statistics, computed from answer rows.

Nothing here stores a total: every figure is a query over `quiz_answers`, whose primary key allows one
answer per member per question. A point is a correct answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

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


WEAK_CONCEPTS_SQL = (
    "SELECT r.concept_id, count(*), sum(a.correct) FROM quiz_answers a "
    "JOIN quiz_rounds r ON r.session_id = a.session_id AND r.round = a.round "
    "WHERE a.guild_id = ? AND a.answered_at >= ? GROUP BY r.concept_id "
    "HAVING count(*) >= ? AND sum(a.correct) < count(*)"
)
"""A guild's concepts answered at least N times since a moment and missed at least once (also read by the
concept of the day's weak pool, inside its own transaction)."""


def weak_order(rows: Iterable[Sequence[object]]) -> list[ConceptScore]:
    """Rows of WEAK_CONCEPTS_SQL, lowest accuracy first (more answers first on equal accuracy, then by id)."""
    scores = [ConceptScore(str(row[0]), int(str(row[1])), int(str(row[2]))) for row in rows]
    return sorted(scores, key=lambda c: (c.accuracy, -c.answered, c.concept_id))


class ScoreRepository:
    """Read-only queries over quiz answers."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def standings(self, guild_id: int, since: datetime | None = None) -> list[Standing]:
        """Every player's points in a guild, over all time or since a moment."""
        rows = await self._store.fetch_all(
            "SELECT a.user_id, coalesce(p.display_name, ''), sum(a.correct), count(*) FROM quiz_answers a "
            "LEFT JOIN quiz_players p ON p.guild_id = a.guild_id AND p.user_id = a.user_id "
            "WHERE a.guild_id = ? AND a.answered_at >= ? GROUP BY a.user_id",
            (guild_id, since.isoformat(timespec="seconds") if since else ""),
        )
        return [Standing(int(r[0]), str(r[1]) or f"member {r[0]}", int(r[2]), int(r[3])) for r in rows]

    async def session_standings(self, session_id: int) -> list[Standing]:
        """Every player's points in one quiz."""
        rows = await self._store.fetch_all(
            "SELECT a.user_id, coalesce(p.display_name, ''), sum(a.correct), count(*) FROM quiz_answers a "
            "LEFT JOIN quiz_players p ON p.guild_id = a.guild_id AND p.user_id = a.user_id "
            "WHERE a.session_id = ? GROUP BY a.user_id",
            (session_id,),
        )
        return [Standing(int(r[0]), str(r[1]) or f"member {r[0]}", int(r[2]), int(r[3])) for r in rows]

    async def member_stats(self, guild_id: int, user_id: int) -> MemberStats:
        """Answered, correct, streaks, quizzes played and weakest categories of one member in one guild."""
        rows = await self._store.fetch_all(
            "SELECT a.correct, r.category_id, a.session_id FROM quiz_answers a "
            "JOIN quiz_rounds r ON r.session_id = a.session_id AND r.round = a.round "
            "WHERE a.guild_id = ? AND a.user_id = ? ORDER BY a.answered_at, a.session_id, a.round",
            (guild_id, user_id),
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
            WEAK_CONCEPTS_SQL, (guild_id, since.isoformat(timespec="seconds"), min_answers)
        )
        return weak_order(rows)
