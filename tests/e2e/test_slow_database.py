"""Another program holds the database's write lock while members play: quiz answers (clicked and typed), flashcard
grades, /quiz start and stop, the quiz and flashcard settings, /flashcards review and /top are each acknowledged
within Discord's 3 seconds, then say truthfully whether they were saved.

The lock is held for real seconds from a second connection (that is the fault); everything else runs on the manual
clock and waits on events."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any, NamedTuple

import pytest

from bot.clock import ManualClock
from bot.store import STORAGE_BUSY
from standin import InteractionResult, StandIn
from standin.state import Message
from tests.e2e.conftest import Server
from tests.e2e.test_hardening import hold_write_lock
from tests.e2e.test_learning import open_form
from tests.e2e.test_study import T0, Start, card_button, hub, question, right_and_wrong, start_quiz

# What the tables hold, read from a second connection (the bot's own one may be waiting on the lock).
COUNTS = (
    "SELECT (SELECT count(*) FROM quiz_sessions), (SELECT count(*) FROM quiz_answers), "
    "(SELECT count(*) FROM card_reviews WHERE source = 'flashcard')"
)


@pytest.fixture(autouse=True)
def nothing_failed_quietly(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A reply that looks right must not hide an exception logged on the way."""
    yield
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


def counts(path: str) -> tuple[int, int, int]:
    """Quizzes, quiz answers and flashcard grades stored, as another program would read them."""
    with closing(sqlite3.connect(path)) as other:
        return other.execute(COUNTS).fetchone()


async def acknowledged(result: InteractionResult, kind: int, *, ephemeral: bool = False) -> None:
    """The interaction was acknowledged within Discord's 3 seconds, as `kind` (6 deferred update, 5 thinking)."""
    response = await result.wait_response(within=3)
    assert not result.late
    assert (response.type, response.ephemeral) == (kind, ephemeral)


async def test_a_four_second_lock_is_acknowledged_in_time_and_then_saved(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Locked for 4 s while a member clicks a quiz answer, types another, grades a flashcard and starts a quiz:
    each is acknowledged within 3 s while nothing is saved yet, then each is saved and its answer says so."""
    guild, alice, mod = server.guild, server.member, server.moderator
    general, daily, room = guild.channel("general"), guild.channel("daily"), discord_.add_channel(guild, "room")
    async with start_bot(clock=ManualClock(T0)) as bot:
        path = str(bot.store.path)
        await start_quiz(discord_, guild, alice, in_channel=general)
        clicked_question = await question(discord_, general, 1)
        right, _ = right_and_wrong(bot, general)
        await start_quiz(discord_, guild, mod, in_channel=daily, mode="typed", category="immunosuppressant")
        typed_question = await question(discord_, daily, 1)
        form = await open_form(discord_, guild, alice, typed_question)
        front = await discord_.slash(guild, alice, "flashcards review", options={"category": "immunosuppressant"})
        back = await discord_.click(guild, alice, front.message, card_button(front, "show"))
        before = counts(path)

        holder = await asyncio.to_thread(hold_write_lock, path, 4)  # the bot may be finishing a write
        clicked = await discord_.click(guild, alice, clicked_question, right, wait=False)
        graded = await discord_.click(guild, alice, front.message, card_button(back, "good"), wait=False)
        typed = await discord_.submit_modal(guild, alice, form.modal["custom_id"], {"answer": "anything"}, wait=False)
        started = await discord_.slash(guild, alice, "quiz start", options={"mode": "definition", "questions": 5},
                                       in_channel=room, wait=False)  # fmt: skip
        await asyncio.gather(
            acknowledged(clicked, 6), acknowledged(graded, 6), acknowledged(typed, 5, ephemeral=True),
            acknowledged(started, 5),
        )  # fmt: skip
        assert holder.is_alive()  # acknowledged while still waiting on the lock, with nothing saved yet
        assert counts(path) == before

        locked_in = await clicked.wait_followup(within=10)
        assert (locked_in.ephemeral, locked_in.content.startswith("Locked in: **")) == (True, True)
        taken = await typed.wait_followup(within=10)
        assert (taken.ephemeral, taken.content.startswith("Taken: “anything”")) == (True, True)
        next_card = await graded.wait_edit(within=10)
        assert next_card.via == "webhook"  # the card moved on in place
        assert next_card.data["embeds"] != back.response.embeds
        first = await started.wait_followup(within=10)
        assert (first.embeds[0]["title"], first.ephemeral) == ("Question 1 of 5", False)
        assert hub(bot).running(room.id).current.message_id == first.id  # the quiz runs on that message
        await asyncio.to_thread(holder.join)
        sessions, answers, grades = before
        assert counts(path) == (sessions + 1, answers + 2, grades + 1)

        # a typed answer whose write fails quickly (busy timeout 0.2 s) is answered too, and nothing is stored
        await bot.store.fetch_all("PRAGMA busy_timeout = 200")
        form = await open_form(discord_, guild, mod, typed_question)
        holder = await asyncio.to_thread(hold_write_lock, path, 1)
        refused = await discord_.submit_modal(guild, mod, form.modal["custom_id"], {"answer": "anything"}, within=3)
        assert (refused.response.content, refused.response.ephemeral) == (STORAGE_BUSY, True)
        await asyncio.to_thread(holder.join)
        assert counts(path)[1] == answers + 2
        form = await open_form(discord_, guild, mod, typed_question)
        taken = await discord_.submit_modal(guild, mod, form.modal["custom_id"], {"answer": "anything"})
        assert taken.response.content.startswith("Taken: “anything”")
        assert counts(path)[1] == answers + 3


async def test_a_lock_past_the_busy_timeout_saves_nothing_and_says_so(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Locked longer than the store waits (its busy timeout, 3 s here): /quiz start and a quiz answer are each
    acknowledged in time, then answered "nothing was saved", and nothing was; with the lock gone the answer counts."""
    guild, alice = server.guild, server.member
    general, room = guild.channel("general"), discord_.add_channel(guild, "room")
    async with start_bot(clock=ManualClock(T0)) as bot:
        path = str(bot.store.path)
        await start_quiz(discord_, guild, alice, in_channel=general)
        clicked_question = await question(discord_, general, 1)
        right, _ = right_and_wrong(bot, general)
        await bot.store.fetch_all("PRAGMA busy_timeout = 3000")  # the two writes queue: 3 s each, then refused
        before = counts(path)

        holder = await asyncio.to_thread(hold_write_lock, path, 7)  # the bot may be finishing a write
        options: dict[str, Any] = {"mode": "definition", "questions": 5, "timeout": 30}
        started = await discord_.slash(guild, alice, "quiz start", options=options, in_channel=room, wait=False)
        clicked = await discord_.click(guild, alice, clicked_question, right, wait=False)
        await asyncio.gather(acknowledged(started, 5), acknowledged(clicked, 6))
        refused_start = await started.wait_followup(within=10)
        refused_click = await clicked.wait_followup(within=10)
        assert (refused_start.content, refused_click.content) == (STORAGE_BUSY, STORAGE_BUSY)
        assert refused_click.ephemeral
        assert holder.is_alive()  # refused while another program still held the lock
        assert counts(path) == before
        assert hub(bot).running(room.id) is None  # no half-started quiz holds the channel

        await asyncio.to_thread(holder.join)
        again = await discord_.click(guild, alice, clicked_question, right)
        assert "Locked in: **" in again.response.content
        assert counts(path)[1] == before[1] + 1


async def test_a_question_on_screen_keeps_its_quiz_going_when_its_message_cannot_be_stored(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """The first question is posted, then storing its message meets the lock past the busy timeout: the quiz goes
    on (answers count, the next question comes); the channel never reads "nothing was saved" under it."""
    guild, alice = server.guild, server.member
    general = guild.channel("general")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        path = str(bot.store.path)
        await bot.store.fetch_all("PRAGMA busy_timeout = 200")
        shown = discord_.hold_next("POST", "/interactions/*/*/callback")  # the first question, on its way
        started = await discord_.slash(guild, alice, "quiz start", options={"mode": "definition", "questions": 5},
                                       wait=False)  # fmt: skip
        await asyncio.wait_for(shown.reached.wait(), 5)
        holder = await asyncio.to_thread(hold_write_lock, path, 1.5)
        shown.release()
        first = await question(discord_, general, 1)
        await asyncio.to_thread(holder.join)
        right, _ = right_and_wrong(bot, general)
        taken = await discord_.click(guild, alice, first, right)
        assert "Locked in: **" in taken.response.content
        assert counts(path)[1] == 1
        said = [str(request.json) for request in discord_.requests if request.json is not None]
        assert not [text for text in said if STORAGE_BUSY in text]
        assert started.response.type == 4  # the question itself answered the command
        session = hub(bot).running(general.id)
        assert session is not None
        clock.advance(timedelta(seconds=session.request.round_seconds))
        await question(discord_, general, 2)


# --- settings, /quiz stop, /flashcards review and /top under the same fault -------------------------------------------

# What each command saves, as another program reads it: the quiz's status, the server's settings, the member's
# flashcard settings and review category, the lookups written.
SAVED = {
    "quiz stop": "SELECT group_concat(status) FROM quiz_sessions",
    "quiz timeout": "SELECT group_concat(settings) FROM guild_settings",
    "flashcards timezone": "SELECT group_concat(timezone) FROM flashcard_users",
    "flashcards settings": "SELECT group_concat(desired_retention || ' ' || quiz_cards) FROM flashcard_users",
    "flashcards review": "SELECT group_concat(category_id) FROM flashcard_filters",
    "top": "SELECT sum(uses) FROM concept_uses",
}


class Change(NamedTuple):
    """A command of CHANGES: its options, whether it answers privately, its answer once saved, what it saves."""

    options: dict[str, Any]
    private: bool
    says_saved: Callable[[Message], bool]
    stored: object


CHANGES = {
    "quiz stop": Change({}, False, lambda m: m.embeds[0]["title"] == "Quiz stopped", "stopped"),
    "quiz timeout": Change(
        {"seconds": 30}, False, lambda m: "**30 s**" in m.embeds[0]["description"], '{"quiz_round_seconds":30}'
    ),
    "flashcards timezone": Change(
        {"zone": "Asia/Tokyo"}, True, lambda m: "now follow **Asia/Tokyo**" in m.content, "Asia/Tokyo"
    ),
    "flashcards settings": Change(
        {"retention": 0.95, "quiz_cards": False}, True, lambda m: m.embeds[0]["description"].startswith("Saved."),
        "0.95 0",
    ),
    "flashcards review": Change(
        {"category": "immunosuppressant"}, True, lambda m: "press **Show answer**" in m.embeds[0]["description"],
        "immunosuppressant",
    ),
    "top": Change({}, False, lambda m: m.embeds[0]["title"] == "Most looked up this week", 1),
}  # fmt: skip


def saved(path: str) -> dict[str, object]:
    """What each command of CHANGES has saved so far, as another program would read it."""
    with closing(sqlite3.connect(path)) as other:
        return {command: other.execute(query).fetchone()[0] for command, query in SAVED.items()}


async def quiz_and_lookup(discord_: StandIn, server: Server) -> Message:
    """A quiz running in #general (for /quiz stop) and a lookup not yet written (for /top); its first question."""
    await start_quiz(discord_, server.guild, server.member)
    await discord_.slash(server.guild, server.member, "define", term="tacrolimus")
    return await question(discord_, server.guild.channel("general"), 1)


async def test_settings_stop_review_and_top_are_acknowledged_in_time_and_then_saved(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Locked for 4 s while a moderator stops the quiz, sets the quiz time, their flashcard timezone and settings,
    starts a review of a category and asks for /top: each is acknowledged within 3 s with nothing saved yet, then
    each is saved and its answer says what was saved."""
    guild, mod = server.guild, server.moderator
    async with start_bot(clock=ManualClock(T0)) as bot:
        path = str(bot.store.path)
        await quiz_and_lookup(discord_, server)
        before = saved(path)
        assert before == {**dict.fromkeys(SAVED), "quiz stop": "running"}

        holder = await asyncio.to_thread(hold_write_lock, path, 4)
        sent = {
            command: await discord_.slash(guild, mod, command, options=change.options, wait=False)
            for command, change in CHANGES.items()
        }
        await asyncio.gather(*(acknowledged(sent[c], 5, ephemeral=change.private) for c, change in CHANGES.items()))
        assert holder.is_alive()  # acknowledged while still waiting on the lock, with nothing saved yet
        assert saved(path) == before

        for command, change in CHANGES.items():
            answer = await sent[command].wait_followup(within=10)
            assert change.says_saved(answer), (command, answer)
            assert answer.ephemeral is change.private
        await asyncio.to_thread(holder.join)
        assert saved(path) == {command: change.stored for command, change in CHANGES.items()}
        assert hub(bot).running(guild.channel("general").id) is None


@pytest.mark.parametrize(
    "commands",
    [("quiz stop", "quiz timeout"), ("flashcards timezone", "flashcards settings"), ("flashcards review", "top")],
    ids=lambda commands: " + ".join(commands),
)
async def test_settings_stop_review_and_top_past_the_busy_timeout_save_nothing_and_say_so(
    discord_: StandIn, server: Server, start_bot: Start, commands: tuple[str, str]
) -> None:
    """Locked longer than the store waits (3 s here; the two writes queue, 3 s each): both commands are
    acknowledged in time, then answered "nothing was saved", and nothing was; a quiz that could not be stopped
    still runs and takes answers, and /top's unwritten lookup is still counted once the lock is gone."""
    guild, alice, mod = server.guild, server.member, server.moderator
    async with start_bot(clock=ManualClock(T0)) as bot:
        path = str(bot.store.path)
        first_question = await quiz_and_lookup(discord_, server)
        await bot.store.fetch_all("PRAGMA busy_timeout = 3000")
        before = saved(path)

        holder = await asyncio.to_thread(hold_write_lock, path, 7)
        sent = [
            await discord_.slash(guild, mod, command, options=CHANGES[command].options, wait=False)
            for command in commands
        ]
        await asyncio.gather(
            *(acknowledged(result, 5, ephemeral=CHANGES[c].private) for c, result in zip(commands, sent, strict=True))
        )
        refusals = [(await result.wait_followup(within=10)).content for result in sent]
        assert refusals == [STORAGE_BUSY, STORAGE_BUSY]
        assert holder.is_alive()  # refused while another program still held the lock
        await asyncio.to_thread(holder.join)
        assert saved(path) == before

        if "quiz stop" in commands:  # the quiz was not stopped: its question still takes answers, and it stops now
            right, _ = right_and_wrong(bot, guild.channel("general"))
            answered = await discord_.click(guild, alice, first_question, right)
            assert "Locked in: **" in answered.response.content
            stopped = await discord_.slash(guild, mod, "quiz stop")
            assert stopped.response.embeds[0]["title"] == "Quiz stopped"
        if "top" in commands:  # the lookup was kept for the next write
            top = await discord_.slash(guild, mod, "top")
            assert top.response.embeds[0]["title"] == "Most looked up this week"
            assert saved(path)["top"] == 1
