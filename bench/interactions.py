"""Benchmark the real bot answering many concurrent /define and autocomplete interactions on the local stand-in.

Why: Discord drops an interaction that is not answered within 3 s, so what matters under load is the time from
INTERACTION_CREATE to the accepted callback, not the resolver alone (bench/resolve.py measures that).

Starts the local Discord stand-in (REST + gateway on 127.0.0.1) and the unmodified ImmunoBot against it, with
--users simulated members spread over a few guilds, and sends --count /define interactions plus --count
autocomplete requests (`/define` with `term` focused), interleaved in a seeded random order. The queries are a
realistic mix built from the shipped glossary: exact names, aliases and abbreviations (MMF, FK506, BCG), typos,
plurals, British spellings, generic words and junk; an autocomplete carries what the user has typed so far (a
prefix of such a query). Interactions are dispatched with ``wait=False`` (stamped and queued on the gateway at
once), in one of two ways:
- default: every user sends their next interaction the moment their previous one was answered, so up to --users
  are in flight at any time, sent as fast as the stand-in and the bot turn them round;
- --burst: all of them dispatched at once (the stand-in builds and queues the 2,000 frames in well under 0.1 s).

It prints, separately for /define and autocomplete, p50/p99/max of dispatch-to-accepted-callback time
(`InteractionResult.latency`), how many were answered within Discord's 3 s, late, lost (never answered within
10 s) or rejected (4xx), then the wall time (first dispatch to last answer) and throughput.

The stand-in runs in the bot's process and event loop (as in the end-to-end tests), so the figures include its
own work (building payloads, gateway frames, handling callbacks) on the same CPU core as the bot.

Usage: python bench/interactions.py [--count 1000] [--users 100] [--burst] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resolve import edit_word

from bot.cli import shipped_glossary
from bot.client import ImmunoBot
from bot.config import load_settings
from standin import InteractionResult, Member, NoIdentifyDelay, StandIn, run_bot
from standin.records import DISCORD_DEADLINE

SEED = 20240611
GUILDS = 4
GRACE_SECONDS = 10.0  # an answer later than this after dispatch counts as lost (Discord gives up after 3 s)
TIME_LIMIT_SECONDS = 120.0  # per-user mode stops sending after this (the rest are reported as unsent)
SETTLE_REJECTED_SECONDS = 1.0  # a rejected callback may be followed by a retry or an error reply; wait this long

BRITISH = {
    "tumor": "tumour",
    "hematopoietic": "haematopoietic",
    "hemopoietic": "haemopoietic",
    "immunization": "immunisation",
    "xenogenized": "xenogenised",
    "defense": "defence",
    "hemolytic": "haemolytic",
}
ABBREVIATIONS = [
    "MMF",
    "mmf",
    "FK506",
    "FK-506",
    "fk 506",
    "BCG",
    "bcg vaccine",
    "CsA",
    "HSCT",
    "mAb",
    "OK-432",
    "AZA",
    "CTX",
    "LPS",
    "BMT",
    "DC vaccine",
    "ACT",
    "IO",
]
GENERIC = [
    "vaccine",
    "therapy",
    "antibody",
    "immune",
    "cell",
    "transplant",
    "immunotherapy drug",
    "treatment",
    "cancer",
    "stem cell",
]
JUNK = [
    "asdfghjkl",
    "🧬🧬🧬",
    "x" * 300,
    "<@123456789012345678> '; DROP TABLE shipped_concepts;--",
    "@everyone hi",
    "???",
    "lorem ipsum dolor",
    "12345",
    "qwertyuiop zxcvbnm",
    "how do i pass the exam",
]
PlanItem = tuple[str, str, str, int]  # (interaction kind, query kind, text, user index)
KINDS = {  # perturbation kind -> weight (sums to 100)
    "exact": 20,
    "alias": 18,
    "typo": 18,
    "plural": 9,
    "british": 8,
    "abbreviation": 9,
    "generic": 8,
    "junk": 10,
}


class BenchBot(NoIdentifyDelay, ImmunoBot):
    """ImmunoBot as shipped, minus the 5-second pause before a re-IDENTIFY (as in the end-to-end tests)."""


@dataclass
class Fired:
    """One dispatched interaction and what it asked for."""

    kind: str  # "define" | "autocomplete"
    query_kind: str
    query: str
    result: InteractionResult


# -- queries ----------------------------------------------------------------------------------------------------
def _british(text: str) -> str | None:
    words = text.split()
    changed = [BRITISH.get(word.lower(), word) for word in words]
    return " ".join(changed) if changed != words else None


def _plural(text: str) -> str:
    return text[:-1] + "ies" if text.endswith("y") else text if text.endswith("s") else text + "s"


@dataclass
class QueryMaker:
    """Realistic things students type into /define, drawn from the shipped glossary with a seeded generator."""

    rng: random.Random
    names: list[tuple[str, tuple[str, ...]]]  # (name, aliases) of every concept
    british: list[str]  # British spellings of the names and aliases that have one

    @classmethod
    def from_shipped(cls, seed: int) -> QueryMaker:
        names = [(concept.name, tuple(concept.aliases)) for concept in shipped_glossary().concepts.values()]
        british = sorted({b for name, aliases in names for b in map(_british, (name, *aliases)) if b})
        return cls(random.Random(seed), names, british)

    def query(self) -> tuple[str, str]:
        """Return (kind, text) for one query."""
        rng = self.rng
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        name, aliases = rng.choice(self.names)
        if kind == "alias" and not aliases:
            kind = "exact"
        if kind == "exact":
            return kind, rng.choice((name, name.lower()))
        if kind == "alias":
            return kind, rng.choice(aliases)
        if kind == "typo":
            words = name.split()
            target = max(range(len(words)), key=lambda i: len(words[i]))
            words[target] = edit_word(words[target], rng)
            return kind, " ".join(words).lower()
        if kind == "plural":
            return kind, _plural(rng.choice((name, *aliases)).lower())
        if kind == "british":
            return kind, rng.choice(self.british)
        if kind == "abbreviation":
            return kind, rng.choice(ABBREVIATIONS)
        if kind == "generic":
            return kind, rng.choice(GENERIC)
        return kind, rng.choice(JUNK)


def make_plan(count: int, users: int, seed: int = SEED) -> list[PlanItem]:
    """Return count /define plus count autocomplete items, each from a random user, shuffled together."""
    maker = QueryMaker.from_shipped(seed)
    plan: list[PlanItem] = []
    for _ in range(count):
        query_kind, text = maker.query()
        plan.append(("define", query_kind, text, maker.rng.randrange(users)))
    for _ in range(count):
        query_kind, text = maker.query()
        typed = text[: maker.rng.randint(0, len(text))]  # what the user has typed so far
        plan.append(("autocomplete", query_kind, typed, maker.rng.randrange(users)))
    maker.rng.shuffle(plan)
    return plan


# -- figures ----------------------------------------------------------------------------------------------------
def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def _answer(result: InteractionResult) -> str:
    """What the user got: an entry, a did-you-mean, a no-match sentence, autocomplete choices or none."""
    response = result.response
    if response is None:
        return "none"
    if response.type == 8:
        return "choices" if response.choices else "no choices"
    if response.embeds:
        return "entry"
    return "did you mean" if "Did you mean" in (response.content or "") else "message"


def summarise(fired: list[Fired]) -> dict[str, Any]:
    """Latency percentiles (ms) and deadline outcomes for one kind of interaction.

    Answered: an accepted callback within GRACE_SECONDS of dispatch (on time if within Discord's 3 s, else late).
    Rejected: no accepted callback, but the stand-in answered one on its token with 4xx. Lost: neither.
    """
    latencies = sorted(f.result.latency for f in fired if (f.result.latency or math.inf) <= GRACE_SECONDS)
    unanswered = [f.result for f in fired if (f.result.latency or math.inf) > GRACE_SECONDS]
    on_time = sum(1 for latency in latencies if latency <= DISCORD_DEADLINE)
    rejected = sum(1 for result in unanswered if result.rejections)
    errors = sum(
        1 for f in fired if f.result.response is not None and "went wrong" in (f.result.response.content or "")
    )
    summary: dict[str, Any] = {
        "sent": len(fired),
        "answered": len(latencies),
        "on_time": on_time,
        "late": len(latencies) - on_time,
        "lost": len(unanswered) - rejected,
        "rejected": rejected,
        "error_replies": errors,  # answered, but with the bot's "something went wrong" message
        "mix": dict(sorted(Counter(f.query_kind for f in fired).items())),
        "answers": dict(sorted(Counter(_answer(f.result) for f in fired).items())),
    }
    if latencies:
        summary.update(
            min_ms=round(latencies[0] * 1000, 1),
            p50_ms=round(_percentile(latencies, 0.50) * 1000, 1),
            p99_ms=round(_percentile(latencies, 0.99) * 1000, 1),
            max_ms=round(latencies[-1] * 1000, 1),
        )
    return summary


# -- the run ----------------------------------------------------------------------------------------------------
class Watcher:
    """Resolves a future per interaction once it is settled, from one task woken by the stand-in's records.

    One watcher instead of one ``wait_response`` per interaction: thousands of waiters, each re-checking every
    20 ms and on every recorded request, would load the shared event loop and distort the latencies measured.
    """

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.pending: dict[InteractionResult, asyncio.Future[None]] = {}
        self.stopped = False
        self.task: asyncio.Task[None] | None = None

    def settled_future(self, result: InteractionResult) -> asyncio.Future[None]:
        """A future done when ``result`` was answered, or rejected and then left alone for a while."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending[result] = future
        self.standin.changes.notify()
        return future

    def _sweep(self) -> bool:
        now = time.perf_counter()
        for result, future in list(self.pending.items()):
            rejected_long_ago = result.rejections and now - result.rejections[-1].at > SETTLE_REJECTED_SECONDS
            if result.response is not None or rejected_long_ago or future.done():
                del self.pending[result]
                if not future.done():
                    future.set_result(None)
        return self.stopped

    async def _watch(self) -> None:
        try:
            await self.standin.changes.wait_for(self._sweep, TIME_LIMIT_SECONDS * 2, "the benchmark to end")
        except AssertionError as error:  # the bot crashed: fail every waiter at once
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(error)
            raise

    async def __aenter__(self) -> Watcher:
        self.task = asyncio.create_task(self._watch(), name="bench-watcher")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stopped = True
        self.standin.changes.notify()
        if self.task is not None:
            await self.task


async def dispatch(standin: StandIn, member: Member, kind: str, query_kind: str, text: str) -> Fired:
    """Dispatch one interaction without waiting: ``wait=False`` only stamps it and queues the gateway frame."""
    guild = standin.world.guilds[member.guild_id]
    if kind == "define":
        result = await standin.slash(guild, member, "define", term=text, wait=False)
    else:
        result = await standin.autocomplete(guild, member, "define", focused="term", term=text, wait=False)
    return Fired(kind, query_kind, text, result)


async def _settled(future: asyncio.Future[None], within: float) -> None:
    with contextlib.suppress(TimeoutError):  # not answered in time: counted as lost (or rejected)
        await asyncio.wait_for(future, within)


async def fire_burst(standin: StandIn, members: list[Member], plan: list[PlanItem], watcher: Watcher) -> list[Fired]:
    """Dispatch everything at once, then wait for all the answers."""
    fired = [await dispatch(standin, members[user], kind, qkind, text) for kind, qkind, text, user in plan]
    futures = [watcher.settled_future(f.result) for f in fired]
    await _settled(asyncio.gather(*futures), GRACE_SECONDS)
    return fired


async def fire_per_user(standin: StandIn, members: list[Member], plan: list[PlanItem], watcher: Watcher) -> list[Fired]:
    """Every user sends their next interaction the moment the previous one is answered (one in flight each)."""
    fired: list[Fired] = []
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + TIME_LIMIT_SECONDS
    queues: dict[int, list[PlanItem]] = {}
    for item in plan:
        queues.setdefault(item[3], []).append(item)

    async def user(items: list[PlanItem]) -> None:
        for kind, qkind, text, index in items:
            if loop.time() > stop_at:
                return
            sent = await dispatch(standin, members[index], kind, qkind, text)
            fired.append(sent)
            await _settled(watcher.settled_future(sent.result), GRACE_SECONDS)

    await asyncio.gather(*(user(items) for items in queues.values()))
    return fired


async def run(count: int, users: int, burst: bool) -> dict[str, Any]:
    """Start the stand-in and the bot, fire the interactions, wait for the answers, and return the figures."""
    plan = make_plan(count, users)
    async with StandIn() as standin:
        guilds = [standin.add_guild(f"Study group {number + 1}") for number in range(min(GUILDS, users))]
        members = [standin.add_member(guilds[i % len(guilds)], f"student{i:03d}") for i in range(users)]
        with tempfile.TemporaryDirectory(prefix="immunobot-bench-") as directory:
            settings = load_settings(
                database_path=Path(directory) / "immunobot.db", discord_token=None, dev_guild_id=None
            )
            async with run_bot(BenchBot(settings, guild_ready_timeout=0.05), standin, ready_timeout=30.0):
                requests_before = len(standin.requests)
                async with Watcher(standin) as watcher:
                    started = time.perf_counter()
                    fire = fire_burst if burst else fire_per_user
                    fired = await fire(standin, members, plan, watcher)
                answered_at = [f.result.response.at for f in fired if f.result.response is not None]
                finished = max(answered_at) if answered_at else time.perf_counter()
                rejected_requests = [r for r in standin.requests[requests_before:] if 400 <= r.status < 500]
    wall = finished - started
    dispatched = [f.result.dispatched_at for f in fired]
    return {
        "benchmark": "interactions",
        "mode": "burst" if burst else "per-user",
        "count": count,
        "users": users,
        "guilds": len(guilds),
        "unsent": len(plan) - len(fired),
        "define": summarise([f for f in fired if f.kind == "define"]),
        "autocomplete": summarise([f for f in fired if f.kind == "autocomplete"]),
        "rejected_requests": len(rejected_requests),
        "dispatch_span_s": round(max(dispatched) - min(dispatched), 3) if dispatched else 0.0,
        "wall_s": round(wall, 3),
        "throughput_per_s": round(len(answered_at) / wall, 1) if wall > 0 else None,
        "deadline_s": DISCORD_DEADLINE,
    }


def report(figures: dict[str, Any]) -> None:
    """Print the figures as human-readable lines."""
    how = (
        "all dispatched at once"
        if figures["mode"] == "burst"
        else "each user sending the next as soon as the previous was answered"
    )
    print(
        f"{figures['count']} /define + {figures['count']} autocomplete from {figures['users']} users in "
        f"{figures['guilds']} guilds, {how} (dispatches spread over {figures['dispatch_span_s']:.3f} s)"
    )
    for kind in ("define", "autocomplete"):
        s = figures[kind]
        timing = (
            f"p50 {s['p50_ms']:7.1f} ms  p99 {s['p99_ms']:7.1f} ms  max {s['max_ms']:7.1f} ms"
            if s["answered"]
            else "no answers"
        )
        print(
            f"  {kind:<12} {timing} | within {figures['deadline_s']:g} s {s['on_time']}/{s['sent']}, late "
            f"{s['late']}, lost {s['lost']}, rejected {s['rejected']} (error replies {s['error_replies']})"
        )
        print(f"  {'':<12} answers: " + ", ".join(f"{what} {n}" for what, n in s["answers"].items()))
    unsent = f", {figures['unsent']} not sent (time limit)" if figures["unsent"] else ""
    print(
        f"  total        wall {figures['wall_s']:.3f} s (first dispatch to last answer), "
        f"{figures['throughput_per_s']} answers/s, 4xx requests {figures['rejected_requests']}{unsent}"
    )


def main() -> None:
    """Parse options, run once, print lines (and one JSON object last with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="/define interactions, and as many autocompletes")
    parser.add_argument("--users", type=int, default=100, help="simulated members, spread over a few guilds")
    parser.add_argument(
        "--burst", action="store_true", help="dispatch everything at once instead of one in flight per user"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    arguments = parser.parse_args()
    if arguments.count < 1 or arguments.users < 1:
        parser.error("--count and --users must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    figures = asyncio.run(run(arguments.count, arguments.users, arguments.burst))
    report(figures)
    if arguments.json:
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
