"""Quiz scoring rules: the hub with a recording presenter, a real database and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.clock import ManualClock
from bot.config import load_settings
from bot.glossary import Glossary
from bot.questions import Mode, Question, plan_quiz
from bot.quiz import (
    MAX_QUIZZES_PER_MEMBER,
    AnswerListener,
    CloseReason,
    Outcome,
    QuizHub,
    QuizRepository,
    QuizRequest,
    Round,
    RoundResult,
    Session,
    SessionStatus,
    TooManyQuizzesError,
)
from bot.scores import CategoryScore, ScoreRepository, Standing, places, rank, streaks, weakest
from bot.store import Store

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)


class RecordingPresenter:
    """Remembers what the hub asked to show."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.revealed: list[RoundResult] = []
        self.finished: list[list[Standing]] = []
        self.ended: list[tuple[int, int]] = []
        self.changed = asyncio.Event()

    async def ask(self, session: Session, round_: Round) -> int:
        self.asked.append(round_.number)
        self.changed.set()
        return 1000 + round_.number

    async def reveal(self, session: Session, result: RoundResult) -> None:
        self.revealed.append(result)
        self.changed.set()

    async def finish(self, session: Session, standings: Sequence[Standing]) -> None:
        self.finished.append(list(standings))
        self.changed.set()

    async def ended_(self, channel_id: int, message_id: int) -> None:  # pragma: no cover - not called by the hub
        self.ended.append((channel_id, message_id))


async def settle(presenter: RecordingPresenter, condition: Callable[[], object], what: str) -> None:
    """Wait until what the presenter was asked to show satisfies `condition` (it signals every change)."""

    async def changes() -> None:
        while not condition():
            presenter.changed.clear()
            await presenter.changed.wait()

    try:
        await asyncio.wait_for(changes(), 5)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A fresh, migrated database (each test runs on SQLite and on PostgreSQL)."""
    async with await Store.open(database_url) as opened:
        yield opened


@pytest.fixture
async def make_hub(store: Store) -> AsyncIterator[Callable[..., QuizHub]]:
    """Make hubs on the test's database; each is shut down before the database closes."""
    made: list[QuizHub] = []

    def make(presenter: RecordingPresenter, clock: ManualClock, on_answer: AnswerListener | None = None) -> QuizHub:
        made.append(QuizHub(store, presenter, clock, on_answer))
        return made[-1]

    yield make
    for hub in made:
        await hub.shutdown()


HERE = {"guild_id": 1, "channel_id": 10}
"""Where the quiz of `request()` runs: answers come from there."""


def request(channel_id: int = 10, seconds: int = 20) -> QuizRequest:
    """A quiz request in guild 1."""
    return QuizRequest(1, channel_id, 100, "starter", Mode.DEFINITION, None, seconds, 7)


async def start(hub: QuizHub, glossary: Glossary, count: int = 5, channel_id: int = 10) -> Session:
    """Start a quiz and show its first question."""
    plan = plan_quiz(glossary, mode=Mode.DEFINITION, category_id=None, count=count, seed=7)
    session = await hub.start(request(channel_id), plan.questions)
    assert session is not None
    await hub.begin(session, 1001)
    return session


async def test_first_answer_counts_and_the_first_question_waits_for_its_time(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """Duplicates and second thoughts are refused; question 1 stays open until its deadline even if all answered."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary)
    right = session.current.question.correct
    wrong = (right + 1) % 4
    assert (await hub.answer(session.id, 1, 1, "a", right, **HERE)).outcome is Outcome.ACCEPTED
    assert (await hub.answer(session.id, 1, 1, "a", wrong, **HERE)).outcome is Outcome.DUPLICATE
    assert (await hub.answer(session.id, 1, 2, "b", wrong, **HERE)).outcome is Outcome.ACCEPTED
    assert (await hub.answer(session.id, 1, 3, "c", 9, **HERE)).outcome is Outcome.INVALID
    options = len(session.current.question.options)
    assert (await hub.answer(session.id, 1, 3, "c", options, **HERE)).outcome is Outcome.INVALID  # one past the last
    assert (await hub.answer(session.id, 1, 3, "c", -1, **HERE)).outcome is Outcome.INVALID
    assert not session.current.closed
    clock.advance(timedelta(seconds=19))
    await clock.settled()  # the quiz's timer has seen 19 s pass and gone back to sleep
    assert presenter.revealed == []
    assert presenter.asked == []
    clock.advance(timedelta(seconds=1))
    await settle(presenter, lambda: presenter.asked == [2], "question 2")
    result = presenter.revealed[0]
    assert (result.right, result.wrong, result.reason) == (("a",), ("b",), CloseReason.TIMEOUT)
    assert (await hub.answer(session.id, 1, 3, "c", right, **HERE)).outcome is Outcome.TOO_LATE
    assert await store.fetch_all("SELECT user_id, correct FROM quiz_answers ORDER BY user_id") == [(1, 1), (2, 0)]


async def test_later_questions_close_when_everyone_who_joined_answered(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """From question 2 the last awaited answer closes it at once; a newcomer joins and is then awaited too."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary)
    await hub.answer(session.id, 1, 1, "a", 0, **HERE)
    clock.advance(timedelta(seconds=20))
    await settle(presenter, lambda: presenter.asked == [2], "question 2")
    assert (
        await hub.answer(session.id, 2, 2, "newcomer", 0, **HERE)
    ).outcome is Outcome.ACCEPTED  # now a and b are awaited
    closing = await hub.answer(session.id, 2, 1, "a", 0, **HERE)
    assert closing.outcome is Outcome.CLOSED_IT
    assert closing.closed is not None
    assert closing.closed.reason is CloseReason.ANSWERED
    await settle(presenter, lambda: presenter.asked == [2, 3], "question 3")
    assert len(presenter.revealed) == 1  # question 2 was revealed by the click's own reply, not by the presenter


async def test_a_later_question_gets_its_full_time_from_when_it_opened(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """Question 2 opens when question 1 closes and stays open its whole 20 s while a player has not answered."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary)
    await hub.answer(session.id, 1, 1, "a", 0, **HERE)
    await hub.answer(session.id, 1, 2, "b", 0, **HERE)
    clock.advance(timedelta(seconds=25))  # the timer fires late: question 2 opens at 25 s, not at 20 s
    await clock.settled()
    assert presenter.asked == [2]
    assert (await hub.answer(session.id, 2, 1, "a", 0, **HERE)).outcome is Outcome.ACCEPTED  # b is still awaited
    clock.advance(timedelta(seconds=19))
    await clock.settled()
    assert [result.number for result in presenter.revealed] == [1]
    assert not session.current.closed
    clock.advance(timedelta(seconds=1))
    await clock.settled()
    assert [(result.number, result.reason) for result in presenter.revealed] == [
        (1, CloseReason.TIMEOUT), (2, CloseReason.TIMEOUT),
    ]  # fmt: skip
    assert presenter.asked == [2, 3]
    rows = await store.fetch_all("SELECT round, opened_at, closed_at FROM quiz_rounds WHERE round <= 2 ORDER BY round")
    assert rows == [
        (1, "2026-11-23T12:00:00+00:00", "2026-11-23T12:00:25+00:00"),
        (2, "2026-11-23T12:00:25+00:00", "2026-11-23T12:00:45+00:00"),
    ]


async def test_the_database_refuses_an_answer_to_a_closed_question(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """A question closed in the database (by another writer) while memory still holds it open takes no answer."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary)
    repository = QuizRepository(store)
    await repository.close_round(session.id, 1, CloseReason.RESTART, T0)  # not through this hub
    assert not session.current.closed
    result = await hub.answer(session.id, 1, 1, "a", session.current.question.correct, **HERE)
    assert result.outcome is Outcome.TOO_LATE
    assert await store.fetch_all("SELECT * FROM quiz_answers") == []
    assert await store.fetch_all("SELECT * FROM quiz_players") == []
    assert session.current.answers == {}  # the in-memory reservation was undone
    assert session.players == {}
    assert not await repository.record_answer(session.id, 1, 1, 1, "a", 0, True, T0)


async def test_the_database_keeps_the_first_close_of_a_question_and_the_first_end_of_a_quiz(
    store: Store, glossary: Glossary
) -> None:
    """A second close or end (another writer, a retried request) changes neither when nor why it ended."""
    repository = QuizRepository(store)
    first = plan_quiz(glossary, mode=Mode.DEFINITION, category_id=None, count=5, seed=7).questions[0]
    session_id = await repository.create(request(), 5, first, T0)
    await repository.close_round(session_id, 1, CloseReason.TIMEOUT, T0 + timedelta(seconds=20))
    await repository.close_round(session_id, 1, CloseReason.STOPPED, T0 + timedelta(seconds=30), SessionStatus.STOPPED)
    assert await store.fetch_all("SELECT closed_at, close_reason FROM quiz_rounds") == [
        ("2026-11-23T12:00:20+00:00", "timeout"),
    ]
    await repository.end_session(session_id, SessionStatus.INTERRUPTED, T0 + timedelta(seconds=40))
    assert await store.fetch_all("SELECT status, ended_at FROM quiz_sessions") == [
        ("stopped", "2026-11-23T12:00:30+00:00"),
    ]


async def test_scores_and_stats_count_each_guild_apart(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """One member playing in two guilds has separate points, standings and statistics in each."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    plan = plan_quiz(glossary, mode=Mode.DEFINITION, category_id=None, count=5, seed=7)
    here = await hub.start(QuizRequest(1, 10, 100, "starter", Mode.DEFINITION, None, 20, 7), plan.questions)
    there = await hub.start(QuizRequest(2, 20, 100, "starter", Mode.DEFINITION, None, 20, 7), plan.questions)
    assert here is not None
    assert there is not None
    await hub.begin(here, 1001)
    await hub.begin(there, 2001)
    right = here.current.question.correct
    await hub.answer(here.id, 1, 5, "ann", right, **HERE)
    elsewhere = {"guild_id": 2, "channel_id": 20}
    await hub.answer(there.id, 1, 5, "ann-there", (right + 1) % 4, **elsewhere)
    await hub.answer(there.id, 1, 6, "ben", right, **elsewhere)
    scores = ScoreRepository(store)
    assert await scores.standings(1) == [Standing(5, "ann", 1, 1)]
    assert sorted(await scores.standings(2), key=lambda s: s.user_id) == [
        Standing(5, "ann-there", 0, 1), Standing(6, "ben", 1, 1),
    ]  # fmt: skip
    assert await scores.session_standings(here.id) == [Standing(5, "ann", 1, 1)]
    here_stats, there_stats = await scores.member_stats(1, 5), await scores.member_stats(2, 5)
    assert (here_stats.answered, here_stats.correct, here_stats.quizzes, here_stats.best_streak) == (1, 1, 1, 1)
    assert (there_stats.answered, there_stats.correct, there_stats.quizzes, there_stats.best_streak) == (1, 0, 1, 0)
    assert here_stats.weakest == ()
    assert [c.answered for c in there_stats.weakest] == [1]
    assert await scores.member_stats(2, 6) != await scores.member_stats(1, 6)


async def test_last_question_finishes_with_standings(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """After the last question the quiz is finished, with standings computed from the answers."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary, count=5)
    for number in range(1, 6):
        correct = session.current.question.correct
        await hub.answer(session.id, number, 1, "a", correct, **HERE)
        if number == 1:
            clock.advance(timedelta(seconds=20))
        await settle(presenter, lambda n=number: len(presenter.asked) >= min(n, 4), f"after question {number}")
    await settle(presenter, lambda: presenter.finished, "the end")
    assert presenter.finished == [[Standing(1, "a", 5, 5)]]
    assert await store.fetch_all("SELECT status FROM quiz_sessions") == [("finished",)]
    assert hub.running(10) is None
    assert (await hub.answer(session.id, 5, 1, "a", 0, **HERE)).outcome is Outcome.ENDED


async def test_one_quiz_per_channel(store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]) -> None:
    """A second start in the same channel is refused, in memory and by the database's unique index."""
    hub = make_hub(RecordingPresenter(), ManualClock(T0))
    plan = plan_quiz(glossary, mode=Mode.DEFINITION, category_id=None, count=5, seed=1)
    first, second, elsewhere = await asyncio.gather(
        hub.start(request(10), plan.questions), hub.start(request(10), plan.questions),
        hub.start(request(11), plan.questions),
    )  # fmt: skip
    assert first is not None
    assert second is None
    assert elsewhere is not None
    other_process = make_hub(RecordingPresenter(), ManualClock(T0))  # its memory knows nothing of the first quiz
    assert await other_process.start(request(10), plan.questions) is None
    assert other_process.sessions() == []  # refused by the database, nothing left claimed
    running = await store.fetch_all("SELECT channel_id FROM quiz_sessions WHERE status = 'running' ORDER BY channel_id")
    assert running == [(10,), (11,)]


async def test_answer_racing_the_timeout_is_counted_once_or_not_at_all(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """Answers arriving as the timer closes the question: each is either counted (and shown) or refused."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary)
    clock.advance(timedelta(seconds=20))  # the timer task is now due to close question 1
    outcomes = await asyncio.gather(*(hub.answer(session.id, 1, user, f"u{user}", 0, **HERE) for user in range(1, 30)))
    await settle(presenter, lambda: presenter.revealed, "the reveal")
    counted = {user for user, result in zip(range(1, 30), outcomes, strict=True) if result.outcome is Outcome.ACCEPTED}
    refused = {r.outcome for r in outcomes} - {Outcome.ACCEPTED}
    assert refused <= {Outcome.TOO_LATE}
    stored = {row[0] for row in await store.fetch_all("SELECT user_id FROM quiz_answers")}
    assert stored == counted
    assert len(presenter.revealed[0].right) + len(presenter.revealed[0].wrong) == len(counted)


async def test_stop_and_shutdown_end_quizzes_and_keep_points(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """Stop closes the open question and returns standings; shutdown interrupts the rest; recovery has nothing left."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    first = await start(hub, glossary, channel_id=10)
    await start(hub, glossary, channel_id=11)
    await hub.answer(first.id, 1, 1, "a", first.current.question.correct, **HERE)
    stopped = await hub.stop(10, 100)
    assert stopped is not None
    result, standings = stopped
    assert result is not None
    assert result.reason is CloseReason.STOPPED
    assert standings == [Standing(1, "a", 1, 1)]
    assert await hub.stop(10, 100) is None
    assert await hub.shutdown() == [(11, 1001)]
    assert await store.fetch_all("SELECT channel_id, status FROM quiz_sessions ORDER BY id") == [
        (10, "stopped"), (11, "interrupted"),
    ]  # fmt: skip
    assert await make_hub(presenter, clock).recover() == []


async def test_killed_mid_round_recovers_without_losing_or_doubling(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """The process dies with a question open: at the next start the quiz is interrupted and its answers stay."""
    clock = ManualClock(T0)
    hub = make_hub(RecordingPresenter(), clock)
    session = await start(hub, glossary)
    await hub.answer(session.id, 1, 1, "a", session.current.question.correct, **HERE)
    assert session.task is not None
    session.task.cancel()  # killed: nothing else is written
    restarted = make_hub(RecordingPresenter(), clock)
    assert await restarted.recover() == [(10, 1001)]
    assert await restarted.recover() == []
    assert await store.fetch_all("SELECT status FROM quiz_sessions") == [("interrupted",)]
    assert await store.fetch_all("SELECT close_reason FROM quiz_rounds") == [("restart",)]
    assert await ScoreRepository(store).standings(1) == [Standing(1, "a", 1, 1)]
    assert (await restarted.answer(session.id, 1, 2, "b", 0, **HERE)).outcome is Outcome.ENDED


async def test_a_restarted_process_ends_only_the_quizzes_of_its_own_shards(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """Two processes share the database, one shard each: the one that restarts ends its own guild's quiz and
    leaves the other process's running quiz alone; a process that runs every shard still ends all."""
    clock = ManualClock(T0)
    on_shard = {shard: ((1000 + shard) << 22) for shard in (0, 1)}  # guild ids Discord routes to shards 0 and 1
    assert [(guild_id >> 22) % 2 for guild_id in on_shard.values()] == [0, 1]
    first, second = make_hub(RecordingPresenter(), clock), make_hub(RecordingPresenter(), clock)
    plan = plan_quiz(glossary, mode=Mode.DEFINITION, category_id=None, count=5, seed=7)
    killed = await first.start(QuizRequest(on_shard[0], 10, 100, "a", Mode.DEFINITION, None, 20, 7), plan.questions)
    alive = await second.start(QuizRequest(on_shard[1], 11, 100, "a", Mode.DEFINITION, None, 20, 7), plan.questions)
    assert killed is not None
    assert alive is not None
    await first.begin(killed, 2001)
    await second.begin(alive, 2002)
    assert killed.task is not None
    killed.task.cancel()  # the first process is killed: nothing else is written

    shard_0 = load_settings(shard_count=2, shard_ids="0")
    restarted = QuizHub(store, RecordingPresenter(), clock, owns=shard_0.owns_guild)
    assert await restarted.recover() == [(10, 2001)]
    statuses = "SELECT channel_id, status FROM quiz_sessions ORDER BY channel_id"
    assert await store.fetch_all(statuses) == [(10, "interrupted"), (11, "running")]
    assert await store.fetch_all("SELECT session_id, close_reason FROM quiz_rounds ORDER BY session_id") == [
        (killed.id, "restart"), (alive.id, None),
    ]  # fmt: skip
    assert (await second.answer(alive.id, 1, 1, "a", alive.current.question.correct, guild_id=on_shard[1],
                                channel_id=11)).outcome is Outcome.ACCEPTED  # fmt: skip

    everything = QuizHub(store, RecordingPresenter(), clock, owns=load_settings().owns_guild)  # unsharded: all
    assert await everything.recover() == [(11, 2002)]
    assert await store.fetch_all(statuses) == [(10, "interrupted"), (11, "interrupted")]


async def test_killed_in_a_later_question_marks_only_that_question_ended(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """Killed with question 2 open: the restart marks question 2's message ended, never question 1's reveal."""
    clock, presenter = ManualClock(T0), RecordingPresenter()
    hub = make_hub(presenter, clock)
    session = await start(hub, glossary)
    await hub.answer(session.id, 1, 1, "a", session.current.question.correct, **HERE)
    clock.advance(timedelta(seconds=20))
    await clock.settled()
    assert presenter.asked == [2]
    assert session.task is not None
    session.task.cancel()  # killed: nothing else is written
    assert await make_hub(RecordingPresenter(), clock).recover() == [(10, 1002)]
    assert await store.fetch_all("SELECT round, close_reason FROM quiz_rounds ORDER BY round") == [
        (1, "timeout"), (2, "restart"),
    ]  # fmt: skip


async def test_round_time_setting_keeps_other_settings(store: Store, make_hub: Callable[..., QuizHub]) -> None:
    """The guild's question time lives in its settings JSON next to other features' keys."""
    hub = make_hub(RecordingPresenter(), ManualClock(T0))
    async with store.transaction() as db:
        await db.execute(
            text("""INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (1, '{"other": 1}', 'x')""")
        )
    assert await hub.repository.round_seconds(1) == 20
    await hub.repository.set_round_seconds(1, 45, T0)
    await hub.repository.set_round_seconds(2, 15, T0)
    assert (await hub.repository.round_seconds(1), await hub.repository.round_seconds(2)) == (45, 15)
    assert await store.guild_setting(1, "other") == 1


def test_places_share_ties() -> None:
    """Competition ranking: equal scores share a place and the next place skips."""
    assert places([5, 4, 4, 2, 2, 2, 1]) == [(1, False), (2, True), (2, True), (4, True), (4, True), (4, True),
                                             (7, False)]  # fmt: skip
    assert places([]) == []


def test_rank_orders_points_then_name_then_id() -> None:
    """Ties are listed by name (case-insensitively) then id, so the order never flickers."""
    ranked = rank([Standing(3, "bob", 2, 4), Standing(1, "Alice", 2, 2), Standing(2, "carol", 3, 3),
                   Standing(4, "alice", 2, 5)])  # fmt: skip
    assert [(r.place, r.tied, r.standing.user_id) for r in ranked] == [(1, False, 2), (2, True, 1), (2, True, 4),
                                                                        (2, True, 3)]  # fmt: skip


def test_streaks_and_weakest_categories() -> None:
    """Best and current runs of right answers; categories with misses, worst first."""
    assert streaks([True, True, False, True, True, True, False]) == (3, 0)
    assert streaks([]) == (0, 0)
    scores = [CategoryScore("a", 4, 4), CategoryScore("b", 4, 2), CategoryScore("c", 2, 1), CategoryScore(None, 3, 0)]
    assert [c.category_id for c in weakest(scores)] == [None, "b", "c"]


async def test_answers_count_only_where_the_quiz_runs(
    store: Store, glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """A click carrying this quiz's id from another server, another channel or a DM is refused, not scored."""
    hub = make_hub(RecordingPresenter(), ManualClock(T0))
    session = await start(hub, glossary)
    right = session.current.question.correct
    for guild_id, channel_id in ((2, 10), (1, 11), (None, 10), (None, None)):
        outcome = await hub.answer(session.id, 1, 5, "e", right, guild_id=guild_id, channel_id=channel_id)
        assert outcome.outcome is Outcome.ELSEWHERE
    assert await store.fetch_all("SELECT count(*) FROM quiz_answers") == [(0,)]
    assert (await hub.answer(session.id, 1, 5, "e", right, **HERE)).outcome is Outcome.ACCEPTED


async def test_a_member_runs_a_limited_number_of_quizzes(glossary: Glossary, make_hub: Callable[..., QuizHub]) -> None:
    """The starter of MAX_QUIZZES_PER_MEMBER running quizzes cannot start another until one ends."""
    hub = make_hub(RecordingPresenter(), ManualClock(T0))
    for channel in range(MAX_QUIZZES_PER_MEMBER):
        await start(hub, glossary, channel_id=20 + channel)
    with pytest.raises(TooManyQuizzesError) as refused:
        await start(hub, glossary, channel_id=99)
    assert len(refused.value.running) == MAX_QUIZZES_PER_MEMBER
    assert hub.running(99) is None
    await hub.stop(20, 100)
    assert (await start(hub, glossary, channel_id=99)).request.channel_id == 99


async def test_each_counted_answer_is_passed_on_with_whether_it_was_fast(
    glossary: Glossary, make_hub: Callable[..., QuizHub]
) -> None:
    """The listener (the member's flashcards) hears each counted answer once: right or wrong, fast or not."""
    heard: list[tuple[int, str, bool, bool]] = []

    async def listen(session: Session, user_id: int, question: Question, correct: bool, fast: bool) -> None:
        heard.append((user_id, question.concept_id, correct, fast))

    clock = ManualClock(T0)
    hub = make_hub(RecordingPresenter(), clock, listen)
    session = await start(hub, glossary)
    question = session.current.question
    right, wrong = question.correct, (question.correct + 1) % len(question.options)
    clock.advance(timedelta(seconds=4))  # within a quarter of 20 s: fast
    await hub.answer(session.id, 1, 1, "a", right, **HERE)
    await hub.answer(session.id, 1, 1, "a", wrong, **HERE)  # a second click: not heard
    clock.advance(timedelta(seconds=2))
    await hub.answer(session.id, 1, 2, "b", right, **HERE)
    await hub.answer(session.id, 1, 3, "c", wrong, **HERE)
    assert heard == [(1, question.concept_id, True, True), (2, question.concept_id, True, False),
                     (3, question.concept_id, False, False)]  # fmt: skip


async def test_weak_concepts_need_enough_answers_a_miss_and_the_same_guild(store: Store) -> None:
    """A concept the guild answered at least 3 times since the cut-off and missed at least once, lowest accuracy
    first; other guilds' answers, older answers, never-missed and rarely-asked concepts do not count."""
    async with store.transaction() as db:
        await db.execute(
            text(
                "INSERT INTO quiz_sessions (id, guild_id, channel_id, starter_id, mode, questions, round_seconds, "
                "seed, status, started_at) VALUES (1, 1, 10, 100, 'definition', 9, 20, 7, 'finished', "
                "'2026-11-01T00:00:00')"
            )
        )
        answers = {  # round: (concept, [(guild, user, correct, day)])
            1: ("tacrolimus", [(1, 1, 0, 20), (1, 2, 0, 20), (1, 3, 1, 20)]),  # 1 of 3
            2: ("sirolimus", [(1, 1, 0, 21), (1, 2, 1, 21), (1, 3, 1, 21), (1, 4, 1, 21)]),  # 3 of 4
            3: ("azathioprine", [(1, 1, 0, 21), (1, 2, 0, 21)]),  # only twice
            4: ("cyclosporine", [(1, 1, 1, 21), (1, 2, 1, 21), (1, 3, 1, 21)]),  # never missed
            5: ("glucocorticoid", [(1, 1, 0, 2), (1, 2, 0, 2), (1, 3, 0, 2)]),  # too long ago
            6: ("cyclophosphamide", [(2, 1, 0, 21), (2, 2, 0, 21), (2, 3, 0, 21)]),  # another guild
        }
        for number, (concept, rows) in answers.items():
            await db.execute(
                text(
                    "INSERT INTO quiz_rounds (session_id, round, kind, concept_id, options, correct, opened_at) "
                    "VALUES (1, :round, 'definition', :concept, '[]', 0, '2026-11-01T00:00:00')"
                ),
                {"round": number, "concept": concept},
            )
            for guild, user, correct, day in rows:
                await db.execute(
                    text(
                        "INSERT INTO quiz_answers (session_id, round, user_id, guild_id, choice, correct, answered_at) "
                        "VALUES (1, :round, :user, :guild, 0, :correct, :at)"
                    ),
                    {"round": number, "user": user, "guild": guild, "correct": correct,
                     "at": f"2026-11-{day:02d}T12:00:00+00:00"},
                )  # fmt: skip
    weak = await ScoreRepository(store).weak_concepts(1, datetime(2026, 11, 10, tzinfo=UTC))
    assert [(c.concept_id, c.correct, c.answered) for c in weak] == [("tacrolimus", 1, 3), ("sirolimus", 3, 4)]
    other = await ScoreRepository(store).weak_concepts(2, datetime(2026, 11, 10, tzinfo=UTC))
    assert [c.concept_id for c in other] == ["cyclophosphamide"]
