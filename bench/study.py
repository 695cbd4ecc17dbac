"""Simulate members studying the glossary for 180 days under SM-2 and under the bot's FSRS scheduling.

Why: the issue claims FSRS makes members review less for the same retention. This checks it on learners whose
memory follows a model that is *neither* scheduler's own, so neither is graded on its own assumptions.

The simulated learner (the same members, the same concepts, the same random seed for both schedulers):
- each member has an ability a (log-normal, median 1) and each concept a difficulty d (uniform 0.2–1.0);
- each (member, concept) memory has a true stability S in days, starting at S0 = 0.5–2 days (shorter for harder
  concepts) the first time it is seen; recall after t days is R = 0.9^(t/S) (exponential forgetting: S is the
  time at which recall falls to 90 %, the same meaning FSRS gives it, though FSRS assumes a power-law curve);
- a review is answered right with probability R. Right: S grows by 1 + a·(2.5 − 1.5·d)·(0.1 + 2·(1 − R)), so a
  review at lower recall strengthens memory more (the spacing effect) and cramming (R ≈ 1) adds little. Wrong:
  S falls to 30 % (at least 0.2 days);
- the member grades honestly from how hard recall was: wrong → Again; right with R < 0.7 → Hard; R < 0.95 →
  Good; else Easy;
- every day each member does every review their scheduler says is due (cards due the same day, such as
  failed cards and FSRS's learning steps, are reviewed again minutes later, until none is due that day), and
  starts up to 10 new cards a day, as the bot allows;
- day 180: "true recall" is the mean R over every (member, concept) at noon, not what either scheduler
  predicts.
SM-2 is the rules the bot used before FSRS (Again 1, Hard 3, Good 4, Easy 5; intervals 1, 6, then × ease; a
failed card repeats the same day). FSRS is `bot.flashcards.review` (FSRS-6, default parameters, desired
retention 0.90, no fuzz), exactly as the bot schedules.

Usage: python bench/study.py [--members 40] [--days 180] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.flashcards import NEW_PER_DAY, CardState, Grade, review

CONCEPTS = 65
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@dataclass
class Memory:
    """The simulated truth about one member's memory of one concept."""

    stability: float
    last: datetime

    def recall(self, now: datetime) -> float:
        """True probability of recalling it now."""
        days = max(0.0, (now - self.last).total_seconds() / 86400)
        return 0.9 ** (days / self.stability)


@dataclass
class Sm2:
    """SM-2's state of one card (as the bot kept it before FSRS)."""

    repetitions: int = 0
    ease: float = 2.5
    interval: int = 0
    due: date = date.min


def sm2(state: Sm2, grade: Grade, today: date) -> Sm2:
    """SM-2 (Wozniak 1987) with the bot's old button mapping and same-day repeat of failed cards."""
    q = {Grade.AGAIN: 1, Grade.HARD: 3, Grade.GOOD: 4, Grade.EASY: 5}[grade]
    ease = max(1.3, state.ease + 0.1 - (5 - q) * (0.08 + (5 - q) * 0.02))
    if grade is Grade.AGAIN:
        return Sm2(0, ease, 0, today)
    repetitions = state.repetitions + 1
    interval = (
        1 if repetitions == 1 else 6 if repetitions == 2 else max(state.interval + 1, round(state.interval * ease))
    )
    return Sm2(repetitions, ease, interval, today + timedelta(days=interval))


def honest_grade(recalled: bool, chance: float) -> Grade:
    """How a member grades a review, from how hard recall was."""
    if not recalled:
        return Grade.AGAIN
    return Grade.HARD if chance < 0.7 else Grade.GOOD if chance < 0.95 else Grade.EASY


@dataclass
class Result:
    """One scheduler's outcome."""

    reviews: int
    true_recall: float
    above_90: float
    seconds: float


def simulate(kind: str, members: int, days: int, seed: int) -> Result:
    """Run `members` simulated members for `days` days under `kind` ("sm2" or "fsrs")."""
    started = time.perf_counter()
    world = random.Random(seed)
    ability = [math.exp(world.gauss(0, 0.3)) for _ in range(members)]
    difficulty = [world.uniform(0.2, 1.0) for _ in range(CONCEPTS)]
    reviews = 0
    memories: list[dict[int, Memory]] = [{} for _ in range(members)]
    for member in range(members):
        rng = random.Random(f"{seed}:{member}")  # the same dice for both schedulers
        schedule: dict[int, CardState | Sm2] = {}
        for day in range(days):
            now = START + timedelta(days=day)
            today = now.date()
            new = [c for c in range(CONCEPTS) if c not in schedule][:NEW_PER_DAY]
            due = [c for c, s in schedule.items() if _due_on(s) <= today]
            queue = due + new
            minute = 0
            while queue:
                repeat: list[int] = []
                for concept in queue:
                    moment = now + timedelta(minutes=minute)
                    minute += 2
                    memory = memories[member].get(concept)
                    chance = memory.recall(moment) if memory else 0.0
                    recalled = rng.random() < chance
                    grade = honest_grade(recalled, chance)
                    _learn(memories[member], concept, memory, recalled, chance, ability[member],
                           difficulty[concept], moment)  # fmt: skip
                    schedule[concept] = _schedule(kind, schedule.get(concept), grade, moment, today)
                    reviews += 1
                    if _due_on(schedule[concept]) <= today:
                        repeat.append(concept)
                queue = repeat
                minute += 10  # (re)learning steps come back minutes later
    end = START + timedelta(days=days, hours=3)
    recalls = [memory.recall(end) for per_member in memories for memory in per_member.values()]
    return Result(
        reviews=reviews,
        true_recall=sum(recalls) / len(recalls),
        above_90=sum(r >= 0.9 for r in recalls) / len(recalls),
        seconds=time.perf_counter() - started,
    )


def _due_on(state: CardState | Sm2) -> date:
    return state.due if isinstance(state, Sm2) else state.due_on("UTC")


def _schedule(kind: str, state: CardState | Sm2 | None, grade: Grade, moment: datetime, today: date) -> CardState | Sm2:
    if kind == "sm2":
        return sm2(state if isinstance(state, Sm2) else Sm2(), grade, today)
    return review(state if isinstance(state, CardState) else None, grade, moment, today)


def _learn(
    memories: dict[int, Memory], concept: int, memory: Memory | None, recalled: bool, chance: float, ability: float,
    difficulty: float, moment: datetime,
) -> None:  # fmt: skip
    """The true memory after a review (first sight: the answer is shown, so it is learnt at S0)."""
    if memory is None:
        memories[concept] = Memory(0.5 + 1.5 * (1 - difficulty), moment)
        return
    if recalled:
        memory.stability *= 1 + ability * (2.5 - 1.5 * difficulty) * (0.1 + 2 * (1 - chance))
    else:
        memory.stability = max(0.2, memory.stability * 0.3)
    memory.last = moment


def main(argv: list[str] | None = None) -> int:
    """Run both schedulers and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    args = parser.parse_args(argv)
    results: dict[str, Result] = {}
    runs: dict[str, Callable[[], Result]] = {
        "sm2": lambda: simulate("sm2", args.members, args.days, args.seed),
        "fsrs": lambda: simulate("fsrs", args.members, args.days, args.seed),
    }
    for name, run in runs.items():
        results[name] = run()
    member_days = args.members * args.days
    print(f"{args.members} simulated members × {CONCEPTS} concepts × {args.days} days (seed {args.seed})")
    print(f"{'scheduler':<10} {'reviews':>9} {'per member-day':>15} {'true recall day ' + str(args.days):>20} "
          f"{'cards ≥ 90 %':>13} {'run':>7}")  # fmt: skip
    for name, result in results.items():
        label = {"sm2": "SM-2", "fsrs": "FSRS-6"}[name]
        print(f"{label:<10} {result.reviews:>9,} {result.reviews / member_days:>15.2f} {result.true_recall:>20.1%} "
              f"{result.above_90:>13.1%} {result.seconds:>6.1f}s")  # fmt: skip
    sm, fs = results["sm2"], results["fsrs"]
    print(f"FSRS: {fs.reviews / sm.reviews - 1:+.0%} reviews, {100 * (fs.true_recall - sm.true_recall):+.1f} points "
          "of true recall on the last day, against SM-2")  # fmt: skip
    if args.json:
        print(json.dumps({
            "members": args.members, "concepts": CONCEPTS, "days": args.days, "seed": args.seed,
            **{name: {"reviews": r.reviews, "reviews_per_member_day": round(r.reviews / member_days, 3),
                      "true_recall": round(r.true_recall, 4), "cards_at_least_90": round(r.above_90, 4)}
               for name, r in results.items()},
        }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
