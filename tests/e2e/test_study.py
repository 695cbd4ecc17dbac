"""Study mode end to end: quizzes, leaderboards, /stats, flashcards and /top, through the real client."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler
from sqlalchemy import text

from bot.client import ImmunoBot
from bot.clock import ManualClock
from bot.models import Concept, Source
from bot.overlay import Action, Revision
from bot.quiz import QuizHub
from cogs.quiz import RESTARTED
from standin import InteractionResult, Member, StandIn
from standin.state import Channel, Guild, Message
from tests.e2e.conftest import Server, assert_never_pinged

Start = Callable[..., AbstractAsyncContextManager[ImmunoBot]]
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
SEND_MESSAGES = discord.Permissions(send_messages=True).value


@pytest.fixture(autouse=True)
def nothing_failed_quietly(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A reply that looks right must not hide an exception logged on the way."""
    yield
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


def hub(bot: ImmunoBot) -> QuizHub:
    """The running bot's quiz hub."""
    cog = bot.get_cog("Quiz")
    assert cog is not None
    return cog.hub  # type: ignore[attr-defined]


async def until(discord_: StandIn, predicate: Callable[[], Any], what: str) -> Any:
    """Wait (a few seconds at most, in real time) until the bot has done something."""
    return await discord_.changes.wait_for(predicate, 5, what)


def questions(discord_: StandIn, channel: Channel) -> list[Message]:
    """The quiz question messages in a channel, oldest first."""
    return [
        m
        for m in discord_.channel_messages(channel)
        if m.embeds and m.embeds[0].get("title", "").startswith("Question ")
    ]


def title(message: Message) -> str:
    """A message's first embed title."""
    return message.embeds[0]["title"]


async def question(discord_: StandIn, channel: Channel, number: int) -> Message:
    """Wait until question `number` is shown (open) in the channel and return its message."""

    def shown() -> Message | None:
        open_ = [m for m in questions(discord_, channel) if re.fullmatch(rf"Question {number} of \d+", title(m))]
        return open_[-1] if open_ else None

    return await until(discord_, shown, f"question {number}")


async def revealed(discord_: StandIn, message: Message) -> Message:
    """Wait until a question's message shows its answer."""
    await until(discord_, lambda: title(message).endswith("— closed"), f"the answer on message {message.id}")
    return message


def option_ids(message: Message) -> list[str]:
    """The answer custom ids of a question message, in option order."""
    return [cid for cid in message.custom_ids if cid.startswith("quiz:")]


def right_and_wrong(bot: ImmunoBot, channel: Channel) -> tuple[str, str]:
    """Custom ids of the right option and of a wrong one for the channel's open question (read from the bot)."""
    session = hub(bot).running(channel.id)
    assert session is not None
    current = session.current
    right = current.question.correct
    wrong = (right + 1) % len(current.question.options)
    return f"quiz:{session.id}:{current.number}:{right}", f"quiz:{session.id}:{current.number}:{wrong}"


async def start_quiz(
    discord_: StandIn, guild: Guild, member: Member, *, in_channel: Channel | None = None, **options: Any
) -> InteractionResult:
    """/quiz start with a definition-mode default, so every question has buttons."""
    options.setdefault("mode", "definition")
    options.setdefault("questions", 5)
    return await discord_.slash(guild, member, "quiz start", options=options, in_channel=in_channel)


async def answer_counts(bot: ImmunoBot) -> list[tuple[Any, ...]]:
    """Every stored answer: (round, user, correct)."""
    return await bot.store.fetch_all("SELECT round, user_id, correct FROM quiz_answers ORDER BY round, user_id")


def disabled(message: Message) -> bool:
    """Whether every component of a message is disabled (a closed question keeps its options, greyed out)."""
    components = [c for c in message.iter_components() if "custom_id" in c]
    return bool(components) and all(c.get("disabled") for c in components)


def fields(message_or_embed: Message | dict[str, Any]) -> dict[str, str]:
    """An embed's fields by name."""
    embed = message_or_embed.embeds[0] if isinstance(message_or_embed, Message) else message_or_embed
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


# --- quizzes ---------------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_whole_quiz_with_several_members(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Three members play five questions: the first closes at its timeout, the others as soon as all answered."""
    guild, channel = server.guild, server.guild.channel("general")
    alice, bob = server.member, discord_.add_member(guild, "bob")
    carol = discord_.add_member(guild, "carol")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        started = await start_quiz(discord_, guild, alice, questions=5)
        assert not started.response.ephemeral
        assert "started a quiz" in started.response.content
        first = await question(discord_, channel, 1)
        assert first.id == started.message_id
        assert len(option_ids(first)) == 4
        right, wrong = right_and_wrong(bot, channel)
        for member, custom_id in ((alice, right), (bob, wrong), (carol, right)):
            taken = await discord_.click(guild, member, first, custom_id)
            assert taken.response.ephemeral
            assert "Locked in" in taken.response.content
        assert title(first) == "Question 1 of 5"  # the first question waits for its time, so everyone can join
        clock.advance(timedelta(seconds=20))
        await revealed(discord_, first)
        assert fields(first) == {"Got it": "alice, carol", "Missed it": "bob"}
        assert disabled(first)
        right_button = first.component(right)
        assert right_button is not None
        assert right_button["style"] == discord.ButtonStyle.success.value
        assert "Time is up" in first.embeds[0]["footer"]["text"]
        for number in range(2, 6):
            shown = await question(discord_, channel, number)
            right, wrong = right_and_wrong(bot, channel)
            await discord_.click(guild, alice, shown, right)
            await discord_.click(guild, bob, shown, right if number % 2 else wrong)
            closing = await discord_.click(guild, carol, shown, wrong if number == 2 else right)
            assert closing.response.type == 7  # the last awaited answer closes the question at once
            assert title(shown) == f"Question {number} of 5 — closed"
            assert "Everyone playing has answered" in shown.embeds[0]["footer"]["text"]
        final = await until(
            discord_,
            lambda: next((m for m in discord_.channel_messages(channel) if m.embeds and title(m) == "Quiz over"), None),
            "the final standings",
        )
        standings = final.embeds[0]["description"].splitlines()
        assert standings == ["**1.** alice — 5 of 5", "**2.** carol — 4 of 5", "**3.** bob — 2 of 5"]
        assert len(await answer_counts(bot)) == 15
        status = await bot.store.fetch_all("SELECT status FROM quiz_sessions")
        assert status == [("finished",)]
        assert hub(bot).running(channel.id) is None
    assert_never_pinged(discord_)


async def test_round_timing_and_the_timeout_settings(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """A question closes at its deadline, not before; a quiz's own timeout and the server default both apply."""
    guild, channel = server.guild, server.guild.channel("general")
    bob = discord_.add_member(guild, "bob")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await start_quiz(discord_, guild, server.member, timeout=10)
        first = await question(discord_, channel, 1)
        right, _ = right_and_wrong(bot, channel)
        await discord_.click(guild, server.member, first, right)
        await discord_.click(guild, bob, first, right)
        clock.advance(timedelta(seconds=9))
        await clock.settled()  # the quiz's timer saw the 9 s pass and sleeps again
        assert title(first) == "Question 1 of 5"
        clock.advance(timedelta(seconds=1))
        await revealed(discord_, first)
        second = await question(discord_, channel, 2)
        right, _ = right_and_wrong(bot, channel)
        locked = await discord_.click(guild, server.member, second, right)  # bob, who joined, has not answered
        assert locked.response.ephemeral
        assert "(in 10 s at most)" in locked.response.content  # question 2 has its own full time
        assert title(second) == "Question 2 of 5"
        clock.advance(timedelta(seconds=9))
        await clock.settled()
        assert title(second) == "Question 2 of 5"
        clock.advance(timedelta(seconds=1))
        await revealed(discord_, second)
        assert fields(second) == {"Got it": "alice", "Missed it": "Nobody"}
        stopped = await discord_.slash(guild, server.member, "quiz stop")
        assert stopped.response.embeds[0]["title"] == "Quiz stopped"

        shown = await discord_.slash(guild, bob, "quiz timeout")
        assert "20 s" in shown.response.content
        refused = await discord_.slash(guild, bob, "quiz timeout", options={"seconds": 30})
        assert refused.response.ephemeral
        assert "Manage Server" in refused.response.content
        assert await hub(bot).repository.round_seconds(guild.id) == 20
        changed = await discord_.slash(guild, server.moderator, "quiz timeout", options={"seconds": 30})
        assert "30 s" in changed.response.embeds[0]["description"]
        await start_quiz(discord_, guild, server.member)
        session = hub(bot).running(channel.id)
        assert session is not None
        assert session.request.round_seconds == 30
        opened = await question(discord_, channel, 1)
        assert "30 s" in opened.embeds[0]["footer"]["text"]


@pytest.mark.both_backends
async def test_double_clicks_and_late_clicks_count_once(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """A second click (same or another option) and a click after the question closed are refused privately."""
    guild, channel = server.guild, server.guild.channel("general")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await start_quiz(discord_, guild, server.member)
        first = await question(discord_, channel, 1)
        right, wrong = right_and_wrong(bot, channel)
        both = [
            await discord_.click(guild, server.member, first, right, wait=False),
            await discord_.click(guild, server.member, first, right, wait=False),
        ]
        replies = sorted([(await r.wait_response()).content for r in both])
        assert "Locked in" in replies[0]
        assert "already answered" in replies[1]
        other = await discord_.click(guild, server.member, first, wrong)
        assert other.response.ephemeral
        assert "already answered this question with" in other.response.content
        assert await answer_counts(bot) == [(1, server.member.id, 1)]

        clock.advance(timedelta(seconds=20))
        await revealed(discord_, first)
        await question(discord_, channel, 2)
        late = discord_.interact(  # a click that raced the closing (the buttons are greyed out now)
            3, guild, server.moderator, channel, {"custom_id": right, "component_type": 2}, message=first
        )
        reply = await late.wait_response()
        assert reply.ephemeral
        assert "Question 1 has closed" in reply.content
        assert "Question 2 is open now" in reply.content
        assert await answer_counts(bot) == [(1, server.member.id, 1)]


async def test_a_question_closed_in_the_database_takes_no_answer(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Another process closed the open question in the database (this one's memory still has it open): a click
    is told the question has closed, and nothing is stored."""
    guild, channel = server.guild, server.guild.channel("general")
    async with start_bot(clock=ManualClock(T0)) as bot:
        await start_quiz(discord_, guild, server.member)
        first = await question(discord_, channel, 1)
        right, _ = right_and_wrong(bot, channel)
        await bot.store.fetch_all(  # written beside the bot's memory, as another process would
            "UPDATE quiz_rounds SET closed_at = '2026-11-23T12:00:05+00:00', close_reason = 'restart'"
        )
        late = await discord_.click(guild, server.member, first, right)
        assert late.response.ephemeral
        assert "Question 1 has closed, so that answer was not counted." in late.response.content
        assert await answer_counts(bot) == []
        assert await bot.store.fetch_all("SELECT * FROM quiz_players") == []


async def test_stop_is_for_the_starter_or_a_moderator(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Others are refused and nothing changes; the starter and a moderator can stop; its buttons then say it ended."""
    guild, channel = server.guild, server.guild.channel("general")
    bob = discord_.add_member(guild, "bob")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        nothing = await discord_.slash(guild, bob, "quiz stop")
        assert nothing.response.ephemeral
        assert "no quiz running" in nothing.response.content

        await start_quiz(discord_, guild, server.member)
        first = await question(discord_, channel, 1)
        right, _ = right_and_wrong(bot, channel)
        await discord_.click(guild, bob, first, right)
        refused = await discord_.slash(guild, bob, "quiz stop")
        assert refused.response.ephemeral
        assert "Only alice, who started this quiz, or a member with the Manage Server permission" in (
            refused.response.content
        )
        assert hub(bot).running(channel.id) is not None
        assert title(first) == "Question 1 of 5"

        stopped = await discord_.slash(guild, server.member, "quiz stop")
        embed = stopped.response.embeds[0]
        assert not stopped.response.ephemeral
        assert embed["title"] == "Quiz stopped"
        assert "Stopped by alice at question 1 of 5" in embed["description"]
        assert "**1.** bob — 1 of 1" in embed["description"]
        await revealed(discord_, first)
        assert "The quiz was stopped" in first.embeds[0]["footer"]["text"]

        await start_quiz(discord_, guild, bob)  # a new quiz in the same channel: the old one's buttons are outside it
        ended = discord_.interact(3, guild, bob, channel, {"custom_id": right, "component_type": 2}, message=first)
        assert "This quiz has ended" in (await ended.wait_response()).content
        assert len(await answer_counts(bot)) == 1
        assert hub(bot).running(channel.id).current.answers == {}

        by_moderator = await discord_.slash(guild, server.moderator, "quiz stop")
        assert by_moderator.response.embeds[0]["title"] == "Quiz stopped"
        statuses = await bot.store.fetch_all("SELECT starter_id, status, ended_by FROM quiz_sessions ORDER BY id")
        assert statuses == [(server.member.id, "stopped", server.member.id), (bob.id, "stopped", server.moderator.id)]


async def test_bot_checks_stop_permission_itself(server: Server, settings) -> None:
    """With Discord's command permissions not enforced, the bot still refuses a stop by someone else."""
    from standin import run_bot
    from tests.e2e.conftest import E2EBot

    async with StandIn(enforce_command_permissions=False) as lenient:
        guild = lenient.add_guild("Open server")
        starter, other = lenient.add_member(guild, "starter"), lenient.add_member(guild, "other")
        async with run_bot(E2EBot(settings, clock=ManualClock(T0), guild_ready_timeout=0.05), lenient) as bot:
            await lenient.slash(guild, starter, "quiz start", options={"mode": "term"})
            refused = await lenient.slash(guild, other, "quiz stop")
            assert refused.response.ephemeral
            assert "Manage Server" in refused.response.content
            assert hub(bot).running(guild.channel("general").id) is not None
            timeout = await lenient.slash(guild, other, "quiz timeout", options={"seconds": 60})
            assert "Manage Server" in timeout.response.content
            assert await hub(bot).repository.round_seconds(guild.id) == 20


async def test_restart_mid_quiz_ends_it_cleanly(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Stopping the bot mid-question ends the quiz: the question says so, its buttons answer that it ended, and
    the points scored so far stay, counted once."""
    guild, channel = server.guild, server.guild.channel("general")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await start_quiz(discord_, guild, server.member)
        first = await question(discord_, channel, 1)
        right, _ = right_and_wrong(bot, channel)
        await discord_.click(guild, server.member, first, right)
        clock.advance(timedelta(seconds=20))
        second = await question(discord_, channel, 2)
        right_2, _ = right_and_wrong(bot, channel)
        await discord_.click(guild, server.member, second, right_2)  # closes question 2 (alice is the only player)
        third = await question(discord_, channel, 3)
        right_3, _ = right_and_wrong(bot, channel)
    assert third.content == RESTARTED
    assert title(third) == "Question 3 of 5"
    async with start_bot(clock=clock) as bot:
        ended = await discord_.click(guild, server.member, third, right_3)
        assert ended.response.ephemeral
        assert "This quiz has ended" in ended.response.content
        board = await discord_.slash(guild, server.member, "leaderboard", options={"period": "all"})
        assert board.response.embeds[0]["description"] == "**1.** alice — 2 points (2 answered)"
        assert await bot.store.fetch_all("SELECT status FROM quiz_sessions") == [("interrupted",)]
        again = await start_quiz(discord_, guild, server.member)
        assert not again.response.ephemeral


@pytest.mark.both_backends
async def test_killed_mid_quiz_is_recovered_at_start(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed with no chance to clean up: the next start ends the quiz, marks its question, keeps its answers."""
    guild, channel = server.guild, server.guild.channel("general")
    clock = ManualClock(T0)

    async def killed(self: QuizHub) -> list[tuple[int, int]]:
        for session in self.sessions():  # the process dies: tasks stop, nothing is written
            if session.task is not None:
                session.task.cancel()
        return []

    async with start_bot(clock=clock) as bot:
        await start_quiz(discord_, guild, server.member)
        first = await question(discord_, channel, 1)
        right, _ = right_and_wrong(bot, channel)
        await discord_.click(guild, server.member, first, right)
        monkeypatch.setattr(QuizHub, "shutdown", killed)
    monkeypatch.undo()
    assert first.content != RESTARTED  # nobody marked it: the process was killed
    async with start_bot(clock=clock) as bot:
        await until(discord_, lambda: first.content == RESTARTED, "the recovered question to be marked")
        assert await bot.store.fetch_all("SELECT status FROM quiz_sessions") == [("interrupted",)]
        assert await bot.store.fetch_all("SELECT close_reason FROM quiz_rounds") == [("restart",)]
        assert await answer_counts(bot) == [(1, server.member.id, 1)]
        ended = await discord_.click(guild, server.member, first, right)
        assert "This quiz has ended" in ended.response.content
        assert await answer_counts(bot) == [(1, server.member.id, 1)]


async def test_deleted_channel_ends_its_quiz_quietly(
    discord_: StandIn, server: Server, start_bot: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """The channel disappears mid-quiz: the quiz ends (interrupted, one warning), its points stay, others go on."""
    guild = server.guild
    doomed, other = discord_.add_channel(guild, "doomed"), guild.channel("general")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await start_quiz(discord_, guild, server.member, in_channel=doomed)
        await start_quiz(discord_, guild, server.member, in_channel=other)
        shown = await question(discord_, doomed, 1)
        right, _ = right_and_wrong(bot, doomed)
        await discord_.click(guild, server.member, shown, right)
        discord_.remove_channel(doomed)
        clock.advance(timedelta(seconds=20))
        await until(discord_, lambda: hub(bot).running(doomed.id) is None, "the quiz in the deleted channel to end")
        await question(discord_, other, 2)
        statuses = await bot.store.fetch_all("SELECT channel_id, status FROM quiz_sessions ORDER BY id")
        assert statuses == [(doomed.id, "interrupted"), (other.id, "running")]
        assert await answer_counts(bot) == [(1, server.member.id, 1)]
    ended = [r.getMessage() for r in caplog.records if "ended: Discord refused the next question" in r.getMessage()]
    assert len(ended) == 1


async def test_stage_order_question_uses_a_menu(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """The stages mode offers candidate orders in a select menu; the right one scores."""
    guild, channel = server.guild, server.guild.channel("general")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await start_quiz(discord_, guild, server.member, mode="stages")
        first = await question(discord_, channel, 1)
        session = hub(bot).running(channel.id)
        assert session is not None
        select_id = f"quiz:{session.id}:1:order"
        assert first.custom_ids == [select_id]
        assert (
            "Put these stages of the clinic 'immunotherapy' regime for kidney disease in order"
            in first.embeds[0]["description"]
        )
        correct = session.current.question.correct
        chosen = await discord_.select(guild, server.member, first, select_id, [str(correct)])
        assert "Locked in" in chosen.response.content
        clock.advance(timedelta(seconds=20))
        await revealed(discord_, first)
        assert fields(first)["Got it"] == "alice"
        order = session.questions[0].answer
        assert f"✅ **{order}**" in first.embeds[0]["description"]
        names = order.split(" → ")
        protocol = [c.name for c in bot.catalog.shipped.stages("kidney-disease-immunotherapy-protocol")]
        assert names == [name for name in protocol if name in names]  # the revealed order is the protocol's


async def test_bad_quiz_requests_are_refused_and_change_nothing(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Unknown category, a mode the category cannot make, a second quiz, a channel the bot can't post in."""
    guild = server.guild
    closed = discord_.add_channel(guild, "closed")
    discord_.set_channel_permissions(closed, discord_.bot_role(guild), deny=SEND_MESSAGES)
    async with start_bot(clock=ManualClock(T0)) as bot:
        before = await bot.store.table_counts()
        cases = [
            ({"category": "qwertyuiop"}, "No category matches"),
            ({"category": "immunosuppresant", "mode": "stages"}, "no protocol stages in Immunosuppressant"),
            ({"category": "kidney-disease protocol", "mode": "classification"}, "nothing in"),
        ]
        for options, message in cases:
            result = await start_quiz(discord_, guild, server.member, **options)
            assert result.response.ephemeral, options
            assert message in result.response.content, (options, result.response.content)
        no_send = await start_quiz(discord_, guild, server.member, in_channel=closed)
        assert no_send.response.ephemeral
        assert "I need Send Messages" in no_send.response.content
        assert await bot.store.table_counts() == before

        await start_quiz(discord_, guild, server.member)
        second = await start_quiz(discord_, guild, server.moderator)
        assert second.response.ephemeral
        assert "already running in this channel (question 1 of 5)" in second.response.content
        assert await bot.store.fetch_all("SELECT count(*) FROM quiz_sessions") == [(1,)]


async def test_small_category_gives_a_shorter_quiz(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Asking for more questions than a category can make: the quiz says so and has fewer."""
    async with start_bot(clock=ManualClock(T0)) as bot:
        result = await start_quiz(discord_, server.guild, server.member, category="immunosuppressant", questions=10)
        assert "Only 7 different questions can be made in Immunosuppressant" in result.response.content
        session = hub(bot).running(server.guild.channel("general").id)
        assert session is not None
        assert session.total == 7
        assert {q.concept_id for q in session.questions} <= {
            "azathioprine", "cyclophosphamide", "cyclosporine", "glucocorticoid", "mycophenolate-mofetil",
            "sirolimus", "tacrolimus",
        }  # fmt: skip


async def test_quizzes_ask_about_the_servers_own_entries(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """An entry a moderator added under a category is asked in that server's quizzes on it, and only there."""
    other = discord_.add_guild("Second group")
    someone = discord_.add_member(other, "someone")
    async with start_bot(clock=ManualClock(T0)) as bot:
        own = Concept(
            id="house-immunosuppressant", name="House immunosuppressant", parent="immunosuppressant",
            summary="Our group's shorthand for the drug we discuss most.", definition="The one our tutor likes.",
            source=Source(document="editorial", editorial="Added by our moderators."),
        )  # fmt: skip
        bot.catalog.apply(server.guild.id, [Revision(own.id, 1, Action.ADD, own, False, 1, None, T0)])
        here = await start_quiz(discord_, server.guild, server.member, category="immunosuppressant", questions=10)
        assert "Only 8 different questions" in here.response.content
        there = await start_quiz(discord_, other, someone, category="immunosuppressant", questions=10)
        assert "Only 7 different questions" in there.response.content
        asked_here = {q.concept_id for q in hub(bot).running(server.guild.channel("general").id).questions}
        assert own.id in asked_here
        asked_there = {q.concept_id for q in hub(bot).running(other.channel("general").id).questions}
        assert own.id not in asked_there


async def test_many_quizzes_do_not_block_lookups(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Thirty channels quizzing at once, all closing together: a /define elsewhere still answers promptly."""
    guild = server.guild
    channels = [discord_.add_channel(guild, f"quiz-{n}") for n in range(30)]
    starters = [discord_.add_member(guild, f"starter-{n}") for n in range(30)]  # one member may run only two
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        for channel, starter in zip(channels, starters, strict=True):
            await start_quiz(discord_, guild, starter, in_channel=channel)
        clicks = []
        for channel in channels:
            shown = await question(discord_, channel, 1)
            right, _ = right_and_wrong(bot, channel)
            clicks.append(await discord_.click(guild, server.member, shown, right, wait=False))
        for click in clicks:
            assert "Locked in" in (await click.wait_response()).content
        clock.advance(timedelta(seconds=20))  # thirty questions close, thirty more are posted
        started = time.perf_counter()
        lookup = await discord_.slash(guild, server.moderator, "define", term="tacrolimus")
        assert lookup.response.embeds[0]["title"] == "Tacrolimus"
        assert lookup.latency is not None
        assert lookup.latency < 1.0
        for channel in channels:
            await question(discord_, channel, 2)
        assert time.perf_counter() - started < 10
        assert len(await answer_counts(bot)) == 30


# --- leaderboard and /stats ------------------------------------------------------------------------------------------


async def play_one_question(
    discord_: StandIn, bot: ImmunoBot, clock: ManualClock, guild: Guild, right: list[Member], wrong: list[Member]
) -> None:
    """Start a quiz, have some members answer its first question right and some wrong, let it close, stop it."""
    channel = guild.channel("general")
    await start_quiz(discord_, guild, (right + wrong)[0])
    shown = await question(discord_, channel, 1)
    right_id, wrong_id = right_and_wrong(bot, channel)
    for member in right:
        await discord_.click(guild, member, shown, right_id)
    for member in wrong:
        await discord_.click(guild, member, shown, wrong_id)
    clock.advance(timedelta(seconds=20))
    await revealed(discord_, shown)
    await discord_.slash(guild, (right + wrong)[0], "quiz stop")


async def test_leaderboard_orders_ties_and_pages(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Points order the board; equal points share a place (shown with =) listed by name; more than ten page."""
    guild = server.guild
    players = [discord_.add_member(guild, f"p{n:02d}") for n in range(12)]
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await play_one_question(discord_, bot, clock, guild, players[:7], players[7:])
        await play_one_question(discord_, bot, clock, guild, [players[3], players[9]], players[:3])
        board = await discord_.slash(guild, server.member, "leaderboard")
        lines = board.response.embeds[0]["description"].splitlines()
        assert lines[0] == "**1.** p03 — 2 points (2 answered)"
        assert lines[1] == "**=2.** p00 — 1 point (2 answered)"
        assert [line.split("** ")[1].split(" —")[0] for line in lines] == [
            "p03", "p00", "p01", "p02", "p04", "p05", "p06", "p09", "p07", "p08",
        ]  # fmt: skip
        assert "Page 1 of 2" in board.response.embeds[0]["footer"]["text"]
        assert lines[7] == "**=2.** p09 — 1 point (2 answered)"
        assert lines[8] == "**=9.** p07 — 0 points (1 answered)"
        turned = await discord_.click(guild, server.member, board, "leaderboard:week:1")
        assert turned.response.type == 7
        assert turned.response.embeds[0]["description"].splitlines() == [
            "**=9.** p10 — 0 points (1 answered)",
            "**=9.** p11 — 0 points (1 answered)",
        ]


@pytest.mark.both_backends
async def test_leaderboard_week_and_all_time(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Points older than seven days leave the weekly board but stay on the all-time one."""
    guild = server.guild
    bob = discord_.add_member(guild, "bob")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        empty = await discord_.slash(guild, server.member, "leaderboard")
        assert empty.response.ephemeral
        assert "Nobody has answered a quiz question in this server this week" in empty.response.content
        await play_one_question(discord_, bot, clock, guild, [server.member], [])
        clock.set(T0 + timedelta(days=8))
        await play_one_question(discord_, bot, clock, guild, [bob], [])
        week = await discord_.slash(guild, server.member, "leaderboard", options={"period": "week"})
        assert week.response.embeds[0]["description"] == "**1.** bob — 1 point (1 answered)"
        assert "this week" in week.response.embeds[0]["title"]
        ever = await discord_.slash(guild, server.member, "leaderboard", options={"period": "all"})
        assert ever.response.embeds[0]["description"].splitlines() == [
            "**=1.** alice — 1 point (1 answered)",
            "**=1.** bob — 1 point (1 answered)",
        ]


async def test_the_weekly_board_is_exactly_the_last_seven_days(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """A point scored 7 days minus a minute ago is this week's; a minute past 7 days it is not."""
    guild = server.guild
    bob = discord_.add_member(guild, "bob")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await play_one_question(discord_, bot, clock, guild, [server.member], [])  # alice's point at T0
        clock.set(T0 + timedelta(days=7, minutes=-1))
        week = await discord_.slash(guild, server.member, "leaderboard")
        assert week.response.embeds[0]["description"] == "**1.** alice — 1 point (1 answered)"
        await play_one_question(discord_, bot, clock, guild, [bob], [])
        clock.set(T0 + timedelta(days=7, minutes=1))
        later = await discord_.slash(guild, server.member, "leaderboard")
        assert later.response.embeds[0]["description"] == "**1.** bob — 1 point (1 answered)"


async def test_stats_answered_accuracy_streak_and_weakest(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """/stats counts answers, accuracy and the best streak, and names the categories most often missed."""
    guild, channel = server.guild, server.guild.channel("general")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        nothing = await discord_.slash(guild, server.member, "stats")
        assert nothing.response.ephemeral
        assert "has not answered any quiz questions" in nothing.response.content
        await start_quiz(discord_, guild, server.member, category="immunosuppressant", questions=5)
        pattern = [True, True, False, True, True]
        for number, correct in enumerate(pattern, start=1):
            shown = await question(discord_, channel, number)
            right, wrong = right_and_wrong(bot, channel)
            await discord_.click(guild, server.member, shown, right if correct else wrong)
            if number == 1:
                clock.advance(timedelta(seconds=20))
        await until(discord_, lambda: hub(bot).running(channel.id) is None, "the quiz to end")
        mine = await discord_.slash(guild, server.member, "stats")
        shown_fields = fields(mine.response.embeds[0])
        assert shown_fields["Answered"] == "5 (in 1 quiz)"
        assert shown_fields["Accuracy"] == "80% (4 correct)"
        assert shown_fields["Best streak"] == "2 in a row (now 2)"
        assert shown_fields["Weakest categories"] == "Immunosuppressant — 4 of 5 (80%)"
        other = await discord_.slash(guild, server.moderator, "stats", options={"member": server.member})
        assert other.response.embeds[0]["title"] == "Quiz statistics: alice"


async def test_scores_leaderboards_and_stats_stay_in_their_server(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """One member playing in two servers (another name in the second): each server's board and /stats see only
    what was played there, under the name used there."""
    guild = server.guild
    other = discord_.add_guild("Second group", channels=("general",))
    alice_there = discord_.add_member(other, server.member.user, nick="alice-two")
    bob_there = discord_.add_member(other, "bob")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await play_one_question(discord_, bot, clock, guild, [server.member], [])
        await play_one_question(discord_, bot, clock, other, [bob_there], [alice_there])
        await play_one_question(discord_, bot, clock, other, [bob_there], [alice_there])
        here = await discord_.slash(guild, server.member, "leaderboard", options={"period": "all"})
        assert here.response.embeds[0]["description"] == "**1.** alice — 1 point (1 answered)"
        there = await discord_.slash(other, alice_there, "leaderboard", options={"period": "all"})
        assert there.response.embeds[0]["description"].splitlines() == [
            "**1.** bob — 2 points (2 answered)",
            "**2.** alice-two — 0 points (2 answered)",
        ]
        mine_here = fields((await discord_.slash(guild, server.member, "stats")).response.embeds[0])
        assert mine_here["Answered"] == "1 (in 1 quiz)"
        assert mine_here["Accuracy"] == "100% (1 correct)"
        mine_there = fields((await discord_.slash(other, alice_there, "stats")).response.embeds[0])
        assert mine_there["Answered"] == "2 (in 2 quizzes)"
        assert mine_there["Accuracy"] == "0% (0 correct)"
        stranger = await discord_.slash(guild, server.member, "stats", options={"member": server.moderator})
        assert "has not answered any quiz questions" in stranger.response.content


# --- flashcards ------------------------------------------------------------------------------------------------------


def card_button(result: InteractionResult | Message, action: str) -> str:
    """The custom id of a flashcard button (show, again, hard, good, easy)."""
    ids = result.response.custom_ids if isinstance(result, InteractionResult) else result.custom_ids
    return next(cid for cid in ids if cid.startswith(f"flashcard:{action}:"))


def shown_card(result: InteractionResult) -> str:
    """The concept id of the card a flashcard reply shows."""
    return card_button(result, "show").rsplit(":", 1)[1]


async def grade(discord_: StandIn, guild: Guild | None, member: Member, shown: InteractionResult, how: str):
    """Turn the shown card over and grade it; return the reply (the next card, in place)."""
    back = await discord_.click(guild, member, shown.message, card_button(shown, "show"))
    assert back.response.type == 7
    return await discord_.click(guild, member, shown.message, card_button(back, how))


async def status(discord_: StandIn, guild: Guild | None, member: Member) -> dict[str, str]:
    """/flashcards status as a dict of its fields."""
    result = await discord_.slash(guild, member, "flashcards status")
    assert result.response.ephemeral
    return fields(result.response.embeds[0])


@pytest.mark.both_backends
async def test_flashcard_review_over_simulated_days(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """FSRS through the buttons: each choice shows its real, distinct interval; Good twice takes a new card out of
    learning, Again brings it back the same day after the others; every grade lands where the fsrs library (with
    default parameters, no fuzz) puts it, and the log keeps each one."""
    guild, alice = server.guild, server.member
    clock = ManualClock(T0)
    library = Scheduler(enable_fuzzing=False)
    async with start_bot(clock=clock) as bot:
        first = await discord_.slash(guild, alice, "flashcards review", options={"category": "immunosuppressant"})
        assert first.response.ephemeral
        card = shown_card(first)
        assert first.response.embeds[0]["description"].startswith("Recall what it is")
        back = await discord_.click(guild, alice, first.message, card_button(first, "show"))
        labels = [c["label"] for row in back.response.components for c in row["components"]]
        assert labels == ["Again · 1 min", "Hard · 6 min", "Good · 10 min", "Easy · 8 days"]
        assert back.response.embeds[0]["description"].startswith("**")
        nxt = await discord_.click(guild, alice, first.message, card_button(back, "good"))
        assert nxt.response.type == 7
        assert shown_card(nxt) != card
        total = str(len(bot.catalog.shipped.pool([])))  # every shipped entry but the axes
        assert await status(discord_, guild, alice) == {"Due today": "10", "Learned": "0", "Total": total}

        failed = shown_card(nxt)
        again = await grade(discord_, guild, alice, nxt, "again")
        order = [shown_card(again)]
        while again.response.embeds[0]["title"] != "All done for today":
            again = await grade(discord_, guild, alice, again, "good")
            if again.response.embeds[0]["title"] != "All done for today":
                order.append(shown_card(again))
        unseen = _IMMUNOSUPPRESSANTS - {card, failed}
        assert set(order[: len(unseen)]) == unseen  # the failed card comes back after every new card
        assert order.index(failed) >= len(unseen)

        async def schedule() -> dict[str, tuple[int, str, int]]:
            rows = await bot.store.fetch_all("SELECT concept_id, state, due_at, reviews FROM cards")
            return {row[0]: (row[1], row[2], row[3]) for row in rows}

        after_day0 = await schedule()
        assert {state for state, _, _ in after_day0.values()} == {2}  # all out of learning: FSRS's Review state
        assert (after_day0[failed][2], after_day0[card][2]) == (3, 2)
        oracle = FsrsCard(card_id=1, due=T0)
        for _ in range(2):
            oracle, _ = library.review_card(oracle, Rating.Good, T0)
        assert after_day0[card][1] == oracle.due.isoformat(timespec="seconds")
        oracle.last_review = T0.replace(hour=0)  # FSRS counts whole days of the member's calendar since then
        log = await bot.store.fetch_all("SELECT count(*), min(source), max(source) FROM card_reviews")
        assert log == [(15, "flashcard", "flashcard")]  # 7 cards × Good twice, and the failed card's Again

        async def review_all(day: datetime) -> list[str]:
            """Review the category on `day`, grading every card Good; return the cards seen."""
            clock.set(day)
            current = await discord_.slash(guild, alice, "flashcards review", options={"category": "immunosuppressant"})
            seen = []
            while current.response.embeds[0]["title"] != "All done for today":
                seen.append(shown_card(current))
                current = await grade(discord_, guild, alice, current, "good")
            return seen

        first_due = min(datetime.fromisoformat(due) for _, due, _ in after_day0.values())
        day_one = datetime.combine(first_due.date(), datetime.min.time(), UTC)
        assert await review_all(day_one - timedelta(minutes=1)) == []  # the evening before: nothing due
        checked = 0
        for offset in range(30):  # each day at midnight exactly the cards due that day come up, in the member's day
            day = day_one + timedelta(days=offset)
            before = await schedule()
            expected = sorted(
                c for c, (_, due, _) in before.items() if datetime.fromisoformat(due).date() <= day.date()
            )
            assert sorted(await review_all(day)) == expected
            if card in expected:
                oracle, _ = library.review_card(oracle, Rating.Good, day)
                assert (await schedule())[card][1] == oracle.due.isoformat(timespec="seconds")
                checked += 1
        assert checked >= 2
        final = await schedule()
        assert all(datetime.fromisoformat(due) > day_one + timedelta(days=30) for _, due, _ in final.values())


_IMMUNOSUPPRESSANTS = {"azathioprine", "cyclophosphamide", "cyclosporine", "glucocorticoid", "mycophenolate-mofetil",
                       "sirolimus", "tacrolimus"}  # fmt: skip


async def test_flashcard_days_follow_the_users_timezone(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """A card due "tomorrow" is due at local midnight: in Auckland that is 11:00 UTC, in London midnight UTC."""
    guild = server.guild
    kiwi = discord_.add_member(guild, "kiwi")
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # 22:00 on 23 Nov in Auckland (NZDT, UTC+13)
    async with start_bot(clock=clock):
        bad = await discord_.slash(guild, kiwi, "flashcards timezone", options={"zone": "Middle/Earth"})
        assert bad.response.ephemeral
        assert "not a timezone I know" in bad.response.content
        set_ = await discord_.slash(guild, kiwi, "flashcards timezone", options={"zone": "pacific/auckland"})
        assert "Pacific/Auckland" in set_.response.content
        assert "Mon 23 Nov, 22:00" in set_.response.content
        cards = {}
        for member in (kiwi, server.member):
            shown = await discord_.slash(guild, member, "flashcards review", options={"category": "immunosuppressant"})
            cards[member.id] = shown_card(shown)
            await grade(discord_, guild, member, shown, "good")
        clock.set(datetime(2026, 11, 23, 10, 59, tzinfo=UTC))  # 23:59 in Auckland
        kiwi_before = await discord_.slash(guild, kiwi, "flashcards review", options={"category": "immunosuppressant"})
        assert shown_card(kiwi_before) != cards[kiwi.id]
        clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=UTC))  # midnight in Auckland: a new day there
        kiwi_after = await discord_.slash(guild, kiwi, "flashcards review", options={"category": "immunosuppressant"})
        assert shown_card(kiwi_after) == cards[kiwi.id]
        utc_user = await discord_.slash(
            guild, server.member, "flashcards review", options={"category": "immunosuppressant"}
        )
        assert shown_card(utc_user) != cards[server.member.id]
        clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
        utc_next = await discord_.slash(
            guild, server.member, "flashcards review", options={"category": "immunosuppressant"}
        )
        assert shown_card(utc_next) == cards[server.member.id]


@pytest.mark.both_backends
async def test_flashcard_double_grade_and_bad_inputs(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Grading the same showing twice counts once; an unknown category is refused and changes nothing."""
    guild, alice = server.guild, server.member
    async with start_bot(clock=ManualClock(T0)) as bot:
        unknown = await discord_.slash(guild, alice, "flashcards review", options={"category": "qwertyuiop"})
        assert unknown.response.ephemeral
        assert "No category matches" in unknown.response.content
        assert await bot.store.fetch_all("SELECT count(*) FROM flashcard_filters") == [(0,)]
        shown = await discord_.slash(guild, alice, "flashcards review")
        back = await discord_.click(guild, alice, shown.message, card_button(shown, "show"))
        clicks = [  # a double click: both leave before the card turns
            await discord_.click(guild, alice, shown.message, card_button(back, "good"), wait=False),
            await discord_.click(guild, alice, shown.message, card_button(back, "easy"), wait=False),
        ]
        replies = [await click.wait_response() for click in clicks]
        assert sorted(reply.type for reply in replies) == [4, 7]
        refused = next(reply for reply in replies if reply.type == 4)
        assert refused.ephemeral
        assert "already graded this card" in refused.content
        # Either click may arrive first under load: the one answered with the turned card is the grade kept.
        kept = "good" if replies[0].type == 7 else "easy"
        expected_state = {"good": 1, "easy": 2}[kept]  # FSRS: a new card graded Good is Learning, Easy is Review
        assert await bot.store.fetch_all("SELECT reviews, state FROM cards") == [(1, expected_state)]
        assert await bot.store.fetch_all("SELECT grade FROM card_reviews") == [(kept,)]


async def test_flashcard_buttons_work_after_a_restart(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """A review message from before a restart turns over and grades as before (its buttons carry their state)."""
    clock = ManualClock(T0)
    async with start_bot(clock=clock):
        shown = await discord_.slash(server.guild, server.member, "flashcards review")
    async with start_bot(clock=clock) as bot:
        back = await discord_.click(server.guild, server.member, shown.message, card_button(shown, "show"))
        assert back.response.type == 7
        graded = await discord_.click(server.guild, server.member, shown.message, card_button(back, "hard"))
        assert graded.response.type == 7
        rows = await bot.store.fetch_all("SELECT concept_id, reviews FROM cards")
        assert rows == [(shown_card(shown), 1)]


async def review_category(discord_: StandIn, guild: Guild, member: Member, category: str) -> list[str]:
    """Review a category grading every card Good; return the cards seen in order."""
    current = await discord_.slash(guild, member, "flashcards review", options={"category": category})
    seen = []
    while current.response.embeds[0]["title"] != "All done for today":
        seen.append(shown_card(current))
        current = await grade(discord_, guild, member, current, "good")
    return seen


async def test_flashcards_follow_the_user_across_guilds_and_guild_entries_stay_home(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Shipped cards are shared by all of a user's guilds; a moderator-added entry is a card in its guild only."""
    other = discord_.add_guild("Second group")
    alice_there = discord_.add_member(other, server.member.user)
    async with start_bot(clock=ManualClock(T0)) as bot:
        own = Concept(
            id="house-immunosuppressant", name="House immunosuppressant", parent="immunosuppressant",
            summary="Our group's shorthand for the drug we discuss most.", definition="The one our tutor likes.",
            source=Source(document="editorial", editorial="Added by our moderators."),
        )  # fmt: skip
        bot.catalog.apply(server.guild.id, [Revision(own.id, 1, Action.ADD, own, False, 1, None, T0)])
        here = await status(discord_, server.guild, server.member)
        there = await status(discord_, other, alice_there)
        shipped = len(bot.catalog.shipped.pool([]))  # every shipped entry but the axes
        assert (here["Total"], there["Total"]) == (str(shipped + 1), str(shipped))

        seen_here = await review_category(discord_, server.guild, server.member, "immunosuppressant")
        assert set(seen_here) == {*_IMMUNOSUPPRESSANTS, own.id}  # each twice: a new card has two learning steps
        stored = dict(await bot.store.fetch_all("SELECT concept_id, scope FROM cards"))
        assert stored.pop(own.id) == server.guild.id
        assert set(stored.values()) == {0}

        there = await status(discord_, other, alice_there)
        assert there["Learned"] == "7"  # the shipped cards learned in the first guild
        assert await review_category(discord_, other, alice_there, "immunosuppressant") == []  # none due there today
        assert (await status(discord_, server.guild, server.member))["Learned"] == "8"


# --- usage ------------------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_top_counts_define_lookups_this_week(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """/define counts per concept and guild (batched, flushed at shutdown), a member's repeats of one entry once a
    day; /top ranks this week's with ties."""
    guild = server.guild
    bob, carol = discord_.add_member(guild, "bob"), discord_.add_member(guild, "carol")
    other = discord_.add_guild("Elsewhere")
    stranger = discord_.add_member(other, "stranger")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        empty = await discord_.slash(guild, server.member, "top")
        assert empty.response.ephemeral
        lookups = [(server.member, ("tacrolimus", "FK506", "tacrolimus", "BCG", "qwertyuiop")),
                   (bob, ("tacrolimus", "MMF")), (carol, ("MMF", "tacrolimus", "MMF"))]  # fmt: skip
        for who, terms in lookups:
            for term in terms:
                await discord_.slash(guild, who, "define", term=term)
        await discord_.slash(other, stranger, "define", term="BCG")
        await discord_.slash(None, server.member, "define", term="BCG")  # a direct message: no guild to count for
        vague = await discord_.slash(guild, server.member, "define", term="vaccine")
        pick = next(cid for cid in vague.response.custom_ids if cid.startswith("concept:show:"))
        await discord_.click(guild, server.member, vague, pick)
        assert bot.usage.pending == 8  # counted in memory; nothing written yet
        assert await bot.store.fetch_all("SELECT count(*) FROM concept_uses") == [(0,)]
        top = await discord_.slash(guild, server.member, "top")
        lines = top.response.embeds[0]["description"].splitlines()
        assert lines[0] == "**1.** Tacrolimus — 3 lookups"
        assert lines[1] == "**2.** Mycophenolate mofetil — 2 lookups"
        assert sorted(lines[2:]) == sorted(
            [f"**=3.** {name} — 1 lookup" for name in ("Bacillus Calmette–Guérin", vague_name(bot, pick))]
        )
        peek = await discord_.click(guild, server.member, top, "concept:peek:tacrolimus")
        assert peek.response.ephemeral
        await discord_.slash(guild, server.member, "define", term="sirolimus")
    async with start_bot(clock=clock) as bot:
        rows = await bot.store.fetch_all(
            text("SELECT sum(uses) FROM concept_uses WHERE guild_id = :guild"), {"guild": guild.id}
        )
        assert rows == [(8,)]  # the last lookup was written at shutdown
        clock.set(T0 + timedelta(days=7))
        await discord_.slash(guild, server.member, "define", term="cytokine")
        later = await discord_.slash(guild, server.member, "top")
        assert later.response.embeds[0]["description"] == "**1.** Cytokine — 1 lookup"


def vague_name(bot: ImmunoBot, custom_id: str) -> str:
    """The name of the entry a did-you-mean button opens."""
    return bot.catalog.shipped.concepts[custom_id.rsplit(":", 1)[1]].name
