"""Quiz sessions: one per channel, rounds closed by a timer on the injected clock or by everyone answering.

Nothing here knows Discord: showing questions and answers goes through a `QuizPresenter`, time through a
`Clock`. The rules:
- members join by answering; each member's first answer to a question counts (one row per member and
  question, so a double click cannot count twice);
- the first question stays open for its whole time, so everyone can join; later questions close as soon as
  everyone who has joined has answered, or when their time is up;
- every answer is committed before the member is told it was taken, so a crash loses no point; a quiz that
  was running when the bot stopped is marked interrupted at the next start, and its buttons answer that the
  quiz has ended.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.db.schema import quiz_answers, quiz_players, quiz_rounds, quiz_sessions
from bot.questions import Mode, Question
from bot.scores import ScoreRepository, Standing
from bot.store import Store, storage_failure

log = logging.getLogger(__name__)

DEFAULT_ROUND_SECONDS = 20
MIN_ROUND_SECONDS = 10
MAX_ROUND_SECONDS = 120
SHUTDOWN_WAIT = 5.0
"""Seconds to let a quiz's task finish at shutdown."""
SETTINGS_KEY = "quiz_round_seconds"
"""This feature's key in a guild's `guild_settings` JSON."""
MAX_QUIZZES_PER_MEMBER = 2
"""Quizzes one member may have running at once (in different channels or servers)."""
MAX_TYPED_LENGTH = 100
"""The longest typed answer taken (the longest name in the glossary is well under it)."""
FAST_SHARE = 0.25
"""A right answer within this share of the question's time counts as Easy for the member's card."""


class SessionStatus(StrEnum):
    """Where a quiz is in its life."""

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


class CloseReason(StrEnum):
    """Why a question closed."""

    TIMEOUT = "timeout"
    ANSWERED = "answered"
    STOPPED = "stopped"
    RESTART = "restart"


class Outcome(StrEnum):
    """What became of a click on an answer."""

    ACCEPTED = "accepted"  # counted; the question stays open for the others
    CLOSED_IT = "closed_it"  # counted, and it was the last answer awaited: the question closed
    DUPLICATE = "duplicate"  # this member already answered this question
    TOO_LATE = "too_late"  # the question has closed (the quiz goes on)
    ENDED = "ended"  # the quiz is over, or ran before a restart
    INVALID = "invalid"  # an option the question does not have
    ELSEWHERE = "elsewhere"  # a click from another server or channel than the quiz's (a forged or copied id)


@dataclass(frozen=True)
class QuizRequest:
    """What /quiz start asked for."""

    guild_id: int
    channel_id: int
    starter_id: int
    starter_name: str
    mode: Mode
    category_id: str | None
    round_seconds: int
    seed: int


@dataclass
class Round:
    """The open (or just closed) question of a session."""

    number: int
    question: Question
    deadline: datetime
    message_id: int | None = None
    answers: dict[int, int] = field(default_factory=dict)
    opened_at: datetime | None = None
    closed: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Session:
    """A running quiz."""

    id: int
    request: QuizRequest
    questions: tuple[Question, ...]
    current: Round
    players: dict[int, str] = field(default_factory=dict)
    status: SessionStatus = SessionStatus.RUNNING
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def total(self) -> int:
        """How many questions the quiz has."""
        return len(self.questions)


@dataclass(frozen=True)
class RoundResult:
    """A closed question: who got it, who did not, and the quiz's standings after it."""

    session_id: int
    number: int
    total: int
    question: Question
    right: tuple[str, ...]
    wrong: tuple[str, ...]
    reason: CloseReason
    standings: tuple[Standing, ...]
    typed: tuple[tuple[str, str, bool], ...] = ()
    """For a typed-answer question: (player, what they typed, right) in the order they answered."""
    channel_id: int = 0
    message_id: int | None = None
    """Where the question is shown."""


@dataclass(frozen=True)
class AnswerResult:
    """The outcome of a click, with what the member needs to be told."""

    outcome: Outcome
    choice: int | None = None
    question: Question | None = None
    closed: RoundResult | None = None
    current_round: int | None = None
    seconds_left: int = 0


class TooManyQuizzesError(Exception):
    """The member already runs as many quizzes as one member may."""

    def __init__(self, running: Sequence[Session]) -> None:
        super().__init__(f"{len(running)} quizzes running")
        self.running = tuple(running)


class AnswerListener(Protocol):
    """Told of every counted answer (the member's flashcards take it as evidence)."""

    async def __call__(self, session: Session, user_id: int, question: Question, correct: bool, fast: bool) -> None:
        """React to one counted answer."""
        ...


class ChannelUnavailableError(Exception):
    """The quiz's channel cannot take the next question (deleted, or the bot lost a permission): the quiz ends."""


class QuizPresenter(Protocol):
    """How the quiz reaches a channel (Discord in production)."""

    async def ask(self, session: Session, round_: Round) -> int:
        """Post a question (the second and later ones); return its message id, or raise ChannelUnavailableError."""
        ...

    async def reveal(self, session: Session, result: RoundResult) -> None:
        """Show the answer on the question's message (a question closed by its timer or by /quiz stop)."""
        ...

    async def finish(self, session: Session, standings: Sequence[Standing]) -> None:
        """Post the final standings of a quiz that ran to its end."""
        ...

    async def ended(self, channel_id: int, message_id: int) -> None:
        """Mark the open question of a quiz that ended with a restart as ended."""
        ...


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class QuizRepository:
    """The SQL of quiz sessions, rounds, answers and the guild's round-time setting."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def round_seconds(self, guild_id: int) -> int:
        """The guild's default time per question."""
        value = await self._store.guild_setting(guild_id, SETTINGS_KEY)
        return int(value) if value is not None else DEFAULT_ROUND_SECONDS

    async def set_round_seconds(self, guild_id: int, seconds: int, now: datetime) -> None:
        """Change the guild's default time per question (other features' settings are kept)."""
        await self._store.set_guild_setting(guild_id, SETTINGS_KEY, seconds, at=_stamp(now))

    async def create(self, request: QuizRequest, total: int, first: Question, now: datetime) -> int | None:
        """Record a new running session and its first question; None if the channel already has one running
        (the database's unique index on running sessions per channel decides, across processes too)."""
        try:
            async with self._store.transaction() as db:
                session_id = (
                    await db.execute(
                        insert(quiz_sessions)
                        .values(
                            guild_id=request.guild_id, channel_id=request.channel_id, starter_id=request.starter_id,
                            mode=request.mode.value, category_id=request.category_id, questions=total,
                            round_seconds=request.round_seconds, seed=request.seed, status="running",
                            started_at=_stamp(now),
                        )
                        .returning(quiz_sessions.c.id)
                    )
                ).scalar_one()  # fmt: skip
                await self._insert_round(db, int(session_id), 1, first, now)
        except IntegrityError:
            running = await self._store.fetch_value(
                select(quiz_sessions.c.id).where(
                    quiz_sessions.c.channel_id == request.channel_id, quiz_sessions.c.status == "running"
                )
            )
            if running is None:
                raise
            return None
        return int(session_id)

    @staticmethod
    async def _insert_round(
        db: AsyncConnection, session_id: int, number: int, question: Question, now: datetime
    ) -> None:
        await db.execute(
            insert(quiz_rounds).values(
                session_id=session_id, round=number, kind=question.kind.value, concept_id=question.concept_id,
                category_id=question.category_id, options=json.dumps(list(question.options)),
                correct=question.correct, opened_at=_stamp(now),
            )
        )  # fmt: skip

    async def open_round(self, session_id: int, number: int, question: Question, now: datetime) -> None:
        """Record the next question as open."""
        async with self._store.transaction() as db:
            await self._insert_round(db, session_id, number, question, now)

    async def set_message(self, session_id: int, number: int, message_id: int) -> None:
        """Remember which message shows a question (to mark it ended after a restart)."""
        async with self._store.transaction() as db:
            await db.execute(
                update(quiz_rounds)
                .where(quiz_rounds.c.session_id == session_id, quiz_rounds.c.round == number)
                .values(message_id=message_id)
            )

    async def record_answer(
        self, session_id: int, number: int, guild_id: int, user_id: int, name: str, choice: int, correct: bool,
        now: datetime, typed: str | None = None,
    ) -> bool:  # fmt: skip
        """Store a member's answer if the question is still open and they have not answered; say whether it was.

        The round's row is read locked, so an answer and the round's closing (from any process) never cross."""
        async with self._store.transaction() as db:
            open_round = (
                await db.execute(
                    select(quiz_rounds.c.round)
                    .where(
                        quiz_rounds.c.session_id == session_id,
                        quiz_rounds.c.round == number,
                        quiz_rounds.c.closed_at.is_(None),
                    )
                    .with_for_update()
                )
            ).first()
            if open_round is None:
                return False
            stored = (
                await db.execute(
                    self._store.insert(quiz_answers)
                    .values(
                        session_id=session_id, round=number, user_id=user_id, guild_id=guild_id, choice=choice,
                        correct=int(correct), answered_at=_stamp(now), typed=typed,
                    )
                    .on_conflict_do_nothing()
                    .returning(quiz_answers.c.user_id)
                )
            ).first()  # fmt: skip
            if stored is None:
                return False
            players = self._store.insert(quiz_players).values(
                guild_id=guild_id, user_id=user_id, display_name=name, updated_at=_stamp(now)
            )
            await db.execute(
                players.on_conflict_do_update(
                    index_elements=[quiz_players.c.guild_id, quiz_players.c.user_id],
                    set_={"display_name": players.excluded.display_name, "updated_at": players.excluded.updated_at},
                )
            )
        return True

    async def close_round(
        self, session_id: int, number: int, reason: CloseReason, now: datetime, status: SessionStatus | None = None,
        ended_by: int | None = None,
    ) -> list[tuple[int, str, bool, str | None]]:  # fmt: skip
        """Close a question (and, with `status`, its session) in one transaction; return its answers in order:
        (user, name, right, what they typed)."""
        answers, players = quiz_answers.c, quiz_players.c
        async with self._store.transaction() as db:
            await db.execute(
                update(quiz_rounds)
                .where(
                    quiz_rounds.c.session_id == session_id,
                    quiz_rounds.c.round == number,
                    quiz_rounds.c.closed_at.is_(None),
                )
                .values(closed_at=_stamp(now), close_reason=reason.value)
            )
            if status is not None:
                await db.execute(
                    update(quiz_sessions)
                    .where(quiz_sessions.c.id == session_id)
                    .values(status=status.value, ended_at=_stamp(now), ended_by=ended_by)
                )
            rows = (
                await db.execute(
                    select(answers.user_id, func.coalesce(players.display_name, ""), answers.correct, answers.typed)
                    .select_from(
                        quiz_answers.outerjoin(
                            quiz_players,
                            and_(players.guild_id == answers.guild_id, players.user_id == answers.user_id),
                        )
                    )
                    .where(answers.session_id == session_id, answers.round == number)
                    .order_by(answers.answered_at, answers.user_id)
                )
            ).all()
        return [(int(row[0]), str(row[1]), bool(row[2]), None if row[3] is None else str(row[3])) for row in rows]

    async def end_session(
        self, session_id: int, status: SessionStatus, now: datetime, ended_by: int | None = None
    ) -> None:
        """Mark a session over."""
        async with self._store.transaction() as db:
            await db.execute(
                update(quiz_sessions)
                .where(quiz_sessions.c.id == session_id, quiz_sessions.c.status == "running")
                .values(status=status.value, ended_at=_stamp(now), ended_by=ended_by)
            )

    async def interrupt_running(
        self, now: datetime, owns: Callable[[int], bool] = lambda _guild_id: True
    ) -> list[tuple[int, int]]:
        """End every session still marked running in a guild this process `owns` (the bot stopped mid-quiz);
        return (channel, message) to mark.

        Several processes share a PostgreSQL database: a quiz in another process's guild is that process's to
        run, so one process starting up must not end it.
        """
        running = quiz_sessions.c.status == "running"
        if await self._store.fetch_value(select(quiz_sessions.c.id).where(running).limit(1)) is None:
            return []  # the usual start-up: no write, no disk sync
        rounds = quiz_rounds.c
        async with self._store.transaction() as db:
            sessions = (await db.execute(select(quiz_sessions.c.id, quiz_sessions.c.guild_id).where(running))).all()
            ours = [int(row[0]) for row in sessions if owns(int(row[1]))]
            if not ours:
                return []
            mine = quiz_sessions.c.id.in_(ours)
            rows = (
                await db.execute(
                    select(quiz_sessions.c.channel_id, rounds.message_id)
                    .select_from(quiz_sessions.join(quiz_rounds, rounds.session_id == quiz_sessions.c.id))
                    .where(mine, running, rounds.closed_at.is_(None), rounds.message_id.is_not(None))
                )
            ).all()
            await db.execute(
                update(quiz_rounds)
                .where(rounds.closed_at.is_(None), rounds.session_id.in_(ours))
                .values(closed_at=_stamp(now), close_reason="restart")
            )
            await db.execute(
                update(quiz_sessions).where(mine, running).values(status="interrupted", ended_at=_stamp(now))
            )
        return [(int(row[0]), int(row[1])) for row in rows]


class QuizHub:
    """Every running quiz of the bot: starts them, takes answers, runs their timers, stops and recovers them."""

    def __init__(
        self,
        store: Store,
        presenter: QuizPresenter,
        clock: Clock,
        on_answer: AnswerListener | None = None,
        owns: Callable[[int], bool] = lambda _guild_id: True,
    ) -> None:
        self._on_answer = on_answer
        self._owns = owns  # several processes: each recovers only the quizzes of the guilds on its own shards
        self._repository = QuizRepository(store)
        self._scores = ScoreRepository(store)
        self._presenter = presenter
        self._clock = clock
        self._by_channel: dict[int, Session] = {}
        self._by_id: dict[int, Session] = {}

    @property
    def repository(self) -> QuizRepository:
        """The quiz SQL (for the round-time setting)."""
        return self._repository

    def running(self, channel_id: int) -> Session | None:
        """The channel's running quiz, if any."""
        return self._by_channel.get(channel_id)

    def sessions(self) -> list[Session]:
        """Every running quiz."""
        return list(self._by_id.values())

    def started_by(self, user_id: int) -> list[Session]:
        """The running quizzes a member started (starting ones included)."""
        return [session for session in self._by_channel.values() if session.request.starter_id == user_id]

    async def recover(self) -> list[tuple[int, int]]:
        """At start-up: end the quizzes a stopped bot left running in its own guilds (another process's are still
        running); return their open questions' messages."""
        return await self._repository.interrupt_running(self._clock.now(), self._owns)

    async def start(self, request: QuizRequest, questions: Sequence[Question]) -> Session | None:
        """Open a quiz and its first question (shown by the caller); None if the channel already has one.
        Raises TooManyQuizzesError when the member already runs MAX_QUIZZES_PER_MEMBER."""
        if request.channel_id in self._by_channel or not questions:
            return None
        mine = self.started_by(request.starter_id)
        if len(mine) >= MAX_QUIZZES_PER_MEMBER:
            raise TooManyQuizzesError(mine)
        now = self._clock.now()
        first = Round(1, questions[0], now + timedelta(seconds=request.round_seconds), opened_at=now)
        session = Session(0, request, tuple(questions), first)
        self._by_channel[request.channel_id] = session  # claimed before any await: a second start is refused
        try:
            created = await self._repository.create(request, len(questions), questions[0], now)
        except BaseException:
            del self._by_channel[request.channel_id]
            raise
        if created is None:  # another process runs a quiz in this channel
            del self._by_channel[request.channel_id]
            return None
        session.id = created
        self._by_id[session.id] = session
        return session

    async def begin(self, session: Session, message_id: int) -> None:
        """The first question is on screen: remember its message and start the quiz's timer task."""
        session.task = asyncio.create_task(self._run(session), name=f"quiz-{session.id}")
        await self._remember_message(session, message_id)

    async def _remember_message(self, session: Session, message_id: int) -> None:
        """Keep the open question's message; store it too, only to mark the question ended after a restart.

        The question is on screen and the quiz goes on even when the database cannot take the id right now
        (busy, full): failing here would tell the channel "nothing was saved" under a live question.
        """
        session.current.message_id = message_id
        try:
            await self._repository.set_message(session.id, session.current.number, message_id)
        except Exception as error:
            if storage_failure(error) is None:
                raise
            log.warning("Quiz %s: could not store question %s's message (%s); the quiz goes on",
                        session.id, session.current.number, error)  # fmt: skip

    async def abandon(self, session: Session) -> None:
        """The first question could not be shown: end the quiz at once."""
        await self._end(session, SessionStatus.INTERRUPTED, CloseReason.RESTART)

    async def answer(
        self, session_id: int, number: int, user_id: int, name: str, choice: int, *, guild_id: int | None,
        channel_id: int | None, typed: str | None = None,
    ) -> AnswerResult:  # fmt: skip
        """Take a member's answer to question `number` of a quiz, clicked in `guild_id`/`channel_id`. A typed
        answer comes judged: `choice` 0 when right, -1 when wrong, with the text."""
        session = self._by_id.get(session_id)
        if session is None or session.status is not SessionStatus.RUNNING:
            return AnswerResult(Outcome.ENDED)
        if (guild_id, channel_id) != (session.request.guild_id, session.request.channel_id):
            return AnswerResult(Outcome.ELSEWHERE)
        current = session.current
        if current.number != number or current.closed:
            return AnswerResult(Outcome.TOO_LATE, current_round=current.number)
        if user_id in current.answers:
            return AnswerResult(Outcome.DUPLICATE, choice=current.answers[user_id], question=current.question)
        if current.question.typed != (typed is not None) or not (
            0 <= choice < len(current.question.options) or (typed is not None and choice == -1)
        ):
            return AnswerResult(Outcome.INVALID)
        if typed is not None and len(typed) > MAX_TYPED_LENGTH:
            return AnswerResult(Outcome.INVALID)
        current.answers[user_id] = choice  # reserved before any await: a second click waits behind this one
        joined = user_id not in session.players
        session.players[user_id] = name
        taken = False
        now = self._clock.now()
        correct = choice == current.question.correct
        try:
            taken = await self._repository.record_answer(
                session.id, number, session.request.guild_id, user_id, name, choice, correct, now, typed
            )
        finally:
            if not taken:  # not stored (an error, or closed in the database since our check): undo the reservation
                del current.answers[user_id]
                if joined:
                    del session.players[user_id]
        if not taken:
            return AnswerResult(Outcome.TOO_LATE, current_round=current.number)
        await self._tell(session, user_id, current, correct, now)
        if number > 1 and set(session.players) <= set(current.answers):
            closed = await self._close(session, current, CloseReason.ANSWERED)
            if closed is not None:
                return AnswerResult(Outcome.CLOSED_IT, choice=choice, closed=closed)
        left = max(0, int((current.deadline - self._clock.now()).total_seconds()))
        return AnswerResult(Outcome.ACCEPTED, choice=choice, question=current.question, seconds_left=left)

    async def _tell(self, session: Session, user_id: int, round_: Round, correct: bool, now: datetime) -> None:
        """Pass a counted answer on (to the member's flashcards); a failure there never loses the answer."""
        if self._on_answer is None:
            return
        opened = round_.opened_at or (round_.deadline - timedelta(seconds=session.request.round_seconds))
        fast = (now - opened).total_seconds() <= session.request.round_seconds * FAST_SHARE
        try:
            await self._on_answer(session, user_id, round_.question, correct, fast)
        except Exception:
            log.exception("Quiz %s: could not update member %s's card from an answer", session.id, user_id)

    async def stop(self, channel_id: int, by: int) -> tuple[RoundResult | None, list[Standing]] | None:
        """Stop the channel's quiz (the caller checked who may): close its question; return it and the standings."""
        session = self._by_channel.get(channel_id)
        if session is None:
            return None
        async with session.lock:
            if session.status is not SessionStatus.RUNNING:
                return None
            result = await self._close_locked(
                session, session.current, CloseReason.STOPPED, SessionStatus.STOPPED, ended_by=by
            )
            self._forget(session)
        return result, await self._scores.session_standings(session.id)

    async def shutdown(self) -> list[tuple[int, int]]:
        """The bot is stopping: end every quiz (answers so far stay counted); return their open messages."""
        open_messages: list[tuple[int, int]] = []
        for session in self.sessions():
            async with session.lock:  # not mid-way through posting a question
                message_id = session.current.message_id
                if not session.current.closed and message_id is not None:
                    open_messages.append((session.request.channel_id, message_id))
            await self._end(session, SessionStatus.INTERRUPTED, CloseReason.RESTART)
            if session.task is not None:  # it wakes, sees the quiz ended, and returns (never cancelled mid-write)
                await asyncio.wait({session.task}, timeout=SHUTDOWN_WAIT)
        return open_messages

    async def _end(self, session: Session, status: SessionStatus, reason: CloseReason) -> None:
        async with session.lock:
            if session.status is SessionStatus.RUNNING:
                if not session.current.closed:
                    await self._close_locked(session, session.current, reason, status)
                else:
                    session.status = status
                    await self._repository.end_session(session.id, status, self._clock.now())
            self._forget(session)

    def _forget(self, session: Session) -> None:
        self._by_id.pop(session.id, None)
        if self._by_channel.get(session.request.channel_id) is session:
            del self._by_channel[session.request.channel_id]

    async def _close(self, session: Session, round_: Round, reason: CloseReason) -> RoundResult | None:
        async with session.lock:
            if round_.closed or session.status is not SessionStatus.RUNNING:
                return None
            last = round_.number == session.total
            status = SessionStatus.FINISHED if last else None
            return await self._close_locked(session, round_, reason, status)

    async def _close_locked(
        self,
        session: Session,
        round_: Round,
        reason: CloseReason,
        status: SessionStatus | None,
        *,
        ended_by: int | None = None,
    ) -> RoundResult | None:
        was_closed, was = round_.closed, session.status
        try:
            if round_.closed:
                if status is not None:
                    session.status = status
                    await self._repository.end_session(session.id, status, self._clock.now(), ended_by)
                return None
            round_.closed = True  # before the write: an answer arriving meanwhile is too late, not half-counted
            if status is not None:
                session.status = status
            now = self._clock.now()
            answers = await self._repository.close_round(session.id, round_.number, reason, now, status, ended_by)
        except Exception:  # nothing was saved (busy, full): the quiz stays as the database has it, running
            round_.closed, session.status = was_closed, was
            raise
        round_.done.set()
        standings = await self._scores.session_standings(session.id)
        return RoundResult(
            session.id,
            round_.number,
            session.total,
            round_.question,
            tuple(name for _, name, correct, _ in answers if correct),
            tuple(name for _, name, correct, _ in answers if not correct),
            reason,
            tuple(standings),
            tuple((name, typed, correct) for _, name, correct, typed in answers if typed is not None),
            session.request.channel_id,
            round_.message_id,
        )

    async def _run(self, session: Session) -> None:
        """Close each question at its deadline (unless answers closed it first), then show the next or the end."""
        try:
            while True:
                current = session.current
                await self._clock.sleep_until(current.deadline, current.done)
                if not current.closed:
                    result = await self._close(session, current, CloseReason.TIMEOUT)
                    if result is not None:
                        await self._presenter.reveal(session, result)
                if session.status is not SessionStatus.RUNNING and current.number < session.total:
                    return  # stopped
                if current.number >= session.total:
                    if session.status is SessionStatus.FINISHED:
                        self._forget(session)
                        await self._presenter.finish(session, await self._scores.session_standings(session.id))
                    return
                await self._next(session)
        except asyncio.CancelledError:
            raise
        except ChannelUnavailableError as failure:
            log.warning("Quiz %s in channel %s ended: %s", session.id, session.request.channel_id, failure)
            await self._end(session, SessionStatus.INTERRUPTED, CloseReason.RESTART)
        except Exception:
            log.exception("Quiz %s in channel %s failed; ending it", session.id, session.request.channel_id)
            await self._end(session, SessionStatus.INTERRUPTED, CloseReason.RESTART)

    async def _next(self, session: Session) -> None:
        number = session.current.number + 1
        question = session.questions[number - 1]
        now = self._clock.now()
        async with session.lock:  # held while posting, so a stop or shutdown sees the question and its message
            if session.status is not SessionStatus.RUNNING:
                return
            await self._repository.open_round(session.id, number, question, now)
            session.current = Round(
                number, question, now + timedelta(seconds=session.request.round_seconds), opened_at=now
            )
            await self._remember_message(session, await self._presenter.ask(session, session.current))
