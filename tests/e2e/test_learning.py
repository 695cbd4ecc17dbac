"""The learning loop end to end: FSRS grades (and forged ones), settings, quizzes feeding members' cards,
typed-answer quizzes, answers from the wrong place, the per-member quiz limit, /stats recall and /weak."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.client import ImmunoBot
from bot.clock import ManualClock
from bot.quiz import MAX_QUIZZES_PER_MEMBER
from standin import InteractionResult, StandIn
from standin.state import Channel, Guild, Member, Message
from tests.e2e.conftest import Server
from tests.e2e.test_study import (
    T0,
    Start,
    answer_counts,
    card_button,
    fields,
    hub,
    question,
    revealed,
    right_and_wrong,
    shown_card,
    start_quiz,
)

# Names the one resolver reads as each immunosuppressant: a typo, and an alias or British spelling.
RIGHT_ANSWERS = {
    "tacrolimus": ("tacrolimos", "FK-506"),
    "azathioprine": ("azathioprin", "Imuran"),
    "cyclosporine": ("cyclosporin", "ciclosporin"),
    "glucocorticoid": ("glucocortcoid", "glucocorticoids"),
    "mycophenolate-mofetil": ("mycophenolate mofetyl", "MMF"),
    "sirolimus": ("sirolimis", "rapamycin"),
    "cyclophosphamide": ("cyclophosphomide", "cyclophosphamid"),
}
HOSTILE = "**bold** <@100000000000000500> @everyone [x](https://evil.example)"


@pytest.fixture(autouse=True)
def nothing_failed_quietly(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A reply that looks right must not hide an exception logged on the way."""
    yield
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


async def cards_of(bot: ImmunoBot, user: Member) -> dict[str, tuple[Any, ...]]:
    """A member's cards: concept → (state, due_at, reviews, lapses)."""
    rows = await bot.store.fetch_all(
        text("SELECT concept_id, state, due_at, reviews, lapses FROM cards WHERE user_id = :user"), {"user": user.id}
    )
    return {row[0]: tuple(row[1:]) for row in rows}


async def log_of(bot: ImmunoBot, user: Member) -> list[tuple[Any, ...]]:
    """A member's review log: (concept, grade, source, state before, state after)."""
    return await bot.store.fetch_all(
        text(
            "SELECT concept_id, grade, source, state_before, state_after FROM card_reviews WHERE user_id = :user "
            "ORDER BY id"
        ),
        {"user": user.id},
    )


def carrying(message: Message, custom_id: str) -> Message:
    """A copy of a message whose one button has `custom_id`: what a crafted client would claim to have clicked
    (discord.py only dispatches ids the message carries)."""
    button = {"type": 2, "style": 1, "label": "forged", "custom_id": custom_id}
    return dataclasses.replace(message, components=[{"type": 1, "components": [button]}])


def labels(result: InteractionResult) -> list[str]:
    """The button labels of a reply."""
    return [c["label"] for row in result.response.components for c in row["components"]]


# --- flashcards: forged grades, settings ------------------------------------------------------------------------------


async def test_forged_and_stale_grades_are_refused_and_change_nothing(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Twelve forged Easy grades for a card that is not due are refused clearly; the card keeps its due date."""
    guild, alice = server.guild, server.member
    channel = guild.channel("general")
    async with start_bot(clock=ManualClock(T0)) as bot:
        shown = await discord_.slash(guild, alice, "flashcards review")
        card = shown_card(shown)
        back = await discord_.click(guild, alice, shown.message, card_button(shown, "show"))
        await discord_.click(guild, alice, shown.message, card_button(back, "easy"))  # 8 days
        before = await cards_of(bot, alice)
        assert before[card][0] == 2
        for _ in range(12):  # as if from a crafted client: the right version, but the card is not due
            forged = discord_.interact(
                3, guild, alice, channel, {"custom_id": f"flashcard:easy:1:{card}", "component_type": 2},
                message=carrying(shown.message, f"flashcard:easy:1:{card}"),
            )  # fmt: skip
            reply = await forged.wait_response()
            assert reply.ephemeral
            assert "not due until Tue 01 Dec 2026" in reply.content
        peek = discord_.interact(
            3, guild, alice, channel, {"custom_id": f"flashcard:show:1:{card}", "component_type": 2},
            message=carrying(shown.message, f"flashcard:show:1:{card}"),
        )  # fmt: skip
        assert "not due until" in (await peek.wait_response()).content
        stale = discord_.interact(
            3, guild, alice, channel, {"custom_id": f"flashcard:good:0:{card}", "component_type": 2},
            message=carrying(shown.message, f"flashcard:good:0:{card}"),
        )  # fmt: skip
        assert "already graded this card" in (await stale.wait_response()).content
        assert await cards_of(bot, alice) == before
        assert len(await log_of(bot, alice)) == 1


async def test_retention_setting_shows_its_cost_and_changes_the_schedule(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """/flashcards settings: the default 0.90 and about how many reviews a day; 0.97 costs more and brings cards
    back sooner (the buttons say so); the setting is the member's own."""
    guild, alice = server.guild, server.member
    bob = discord_.add_member(guild, "bob")
    async with start_bot(clock=ManualClock(T0)) as bot:
        shown = await discord_.slash(guild, alice, "flashcards settings")
        assert shown.response.ephemeral  # deferred privately while the estimate runs off the event loop
        embed = (await shown.wait_followup()).embeds[0]
        default = fields(embed)["Desired retention"]
        assert default.startswith("**0.90**")
        per_day = float(default.split("about **")[1].split(" reviews a day")[0])
        higher = await discord_.slash(guild, alice, "flashcards settings", options={"retention": 0.97})
        text = fields((await higher.wait_followup()).embeds[0])["Desired retention"]
        assert text.startswith("**0.97**")
        assert float(text.split("about **")[1].split(" reviews a day")[0]) > per_day
        assert f"(about {per_day:.1f} at the default 0.90)" in text
        assert await bot.store.fetch_all("SELECT user_id, desired_retention FROM flashcard_users") == [(alice.id, 0.97)]

        for member, expected_easy in ((alice, None), (bob, "Easy · 8 days")):
            card = await discord_.slash(guild, member, "flashcards review")
            back = await discord_.click(guild, member, card.message, card_button(card, "show"))
            easy = labels(back)[3]
            if expected_easy:
                assert easy == expected_easy
            else:
                assert easy != "Easy · 8 days"
                assert int(easy.split("· ")[1].split()[0]) < 8  # sooner at 0.97
        off = await discord_.slash(guild, bob, "flashcards settings", options={"quiz_cards": False})
        assert fields((await off.wait_followup()).embeds[0])["Quizzes update your cards"].startswith("Off")


# --- quizzes feed cards -------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_quiz_answers_feed_each_members_cards(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Right and fast: Easy; right: Good; wrong: a lapse due within minutes; a member who turned it off keeps no
    card; every one is in the same review log, marked quiz; the next flashcard review brings the missed one back."""
    guild, channel, alice = server.guild, server.guild.channel("general"), server.member
    bob, carol, dave = (discord_.add_member(guild, name) for name in ("bob", "carol", "dave"))
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        await discord_.slash(guild, dave, "flashcards settings", options={"quiz_cards": False})
        await discord_.slash(guild, carol, "flashcards review")  # carol already knows the card (graded Easy below)
        await start_quiz(discord_, guild, alice, category="immunosuppressant")
        first = await question(discord_, channel, 1)
        concept = hub(bot).running(channel.id).current.question.concept_id
        right, wrong = right_and_wrong(bot, channel)
        clock.advance(timedelta(seconds=3))
        await discord_.click(guild, alice, first, right)  # within a quarter of 20 s: fast
        clock.advance(timedelta(seconds=9))
        await discord_.click(guild, bob, first, wrong)
        await discord_.click(guild, dave, first, right)
        assert len(await answer_counts(bot)) == 3

        alice_card, bob_card = (await cards_of(bot, alice))[concept], (await cards_of(bot, bob))[concept]
        assert alice_card[0] == 2  # Easy on a new card: straight to review, days away
        assert datetime.fromisoformat(alice_card[1]) - (T0 + timedelta(seconds=3)) == timedelta(days=8)
        assert bob_card[0] == 1  # Again: learning, back in a minute
        assert datetime.fromisoformat(bob_card[1]) - (T0 + timedelta(seconds=12)) == timedelta(minutes=1)
        assert await cards_of(bot, dave) == {}
        assert [(c, g, s) for c, g, s, _, _ in await log_of(bot, alice)] == [(concept, "easy", "quiz")]
        assert [(c, g, s) for c, g, s, _, _ in await log_of(bot, bob)] == [(concept, "again", "quiz")]

        clock.advance(timedelta(seconds=2))
        await discord_.click(guild, carol, first, right)  # not fast: Good
        assert [(c, g, s) for c, g, s, _, _ in await log_of(bot, carol)][-1] == (concept, "good", "quiz")

        clock.advance(timedelta(seconds=6))
        await revealed(discord_, first)
        clock.set(T0 + timedelta(days=1))  # next day: bob's missed card is due first (from yesterday)
        again = await discord_.slash(guild, bob, "flashcards review")
        assert shown_card(again) == concept
        before = json.loads((await log_of(bot, bob))[0][4])
        assert before["state"] == "learning"


# --- typed answers --------------------------------------------------------------------------------------------------


async def open_form(discord_: StandIn, guild: Guild, member: Member, message: Message) -> InteractionResult:
    """Press "Type your answer" and return the interaction that opened the form."""
    button = next(cid for cid in message.custom_ids if cid.endswith(":type"))
    opened = await discord_.click(guild, member, message, button)
    assert opened.modal is not None, opened.response
    return opened


async def type_answer(discord_: StandIn, guild: Guild, member: Member, message: Message, text: str) -> str:
    """Open the form, type, submit; return the private reply."""
    opened = await open_form(discord_, guild, member, message)
    submitted = await discord_.submit_modal(guild, member, opened.modal["custom_id"], {"answer": text})
    assert submitted.response.ephemeral
    return submitted.response.content


async def test_typed_answers_are_judged_by_the_resolver_and_shown_safely(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Typos, aliases and British spellings count; a generic word or another entry's name does not; the reveal shows
    the canonical name and what each member typed, escaped; late, doubled, empty and 4,000-character answers are
    refused with a clear reply and nothing stored."""
    guild, channel, alice = server.guild, server.guild.channel("general"), server.member
    bob, carol, dave, erin = (discord_.add_member(guild, name) for name in ("bob", "carol", "dave", "erin"))
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        started = await start_quiz(discord_, guild, alice, mode="typed", category="immunosuppressant")
        assert "typed answer, 20 s each. Anyone can play: answer with **Type your answer**" in started.response.content
        first = await question(discord_, channel, 1)
        asked = hub(bot).running(channel.id).current.question
        name = bot.catalog.shipped.concepts[asked.concept_id].name
        assert name.casefold() not in first.embeds[0]["description"].casefold()  # the prompt does not give it away
        typo, alias = RIGHT_ANSWERS[asked.concept_id]
        sibling = next(c for c in RIGHT_ANSWERS if c != asked.concept_id)
        other_name = bot.catalog.shipped.concepts[sibling].name
        assert f"Taken: “{typo}”" in await type_answer(discord_, guild, alice, first, typo)
        await type_answer(discord_, guild, erin, first, alias)
        await type_answer(discord_, guild, bob, first, other_name)
        await type_answer(discord_, guild, carol, first, HOSTILE)
        await type_answer(discord_, guild, dave, first, "vaccine")
        twice = await type_answer(discord_, guild, erin, first, "anything")
        assert "already answered" in twice
        empty = await discord_.submit_modal(
            guild, dave, (await open_form(discord_, guild, dave, first)).modal["custom_id"], {"answer": "   "}
        )
        assert "empty answer" in empty.response.content
        stored = await bot.store.fetch_all("SELECT user_id, correct, typed FROM quiz_answers ORDER BY answered_at")
        by_user = {row[0]: row for row in stored}
        assert by_user[alice.id][1:] == (1, typo)
        assert by_user[erin.id][1:] == (1, alias)
        assert by_user[bob.id][1:] == (0, other_name)
        assert by_user[carol.id][1:] == (0, HOSTILE)
        assert by_user[dave.id][1:] == (0, "vaccine")

        clock.advance(timedelta(seconds=20))
        await revealed(discord_, first)
        embed = first.embeds[0]
        assert f"✅ **{name}**" in embed["description"]
        typed = fields(embed)["What each member typed"]
        assert f"✅ erin: “{alias}”" in typed
        assert f"❌ bob: “{other_name}”" in typed
        assert "❌ dave: “vaccine”" in typed
        assert "**bold**" not in typed
        assert "<@100000000000000500>" not in typed
        assert "[x](https" not in typed
        assert "@everyone" not in typed
        assert "\\*\\*bold\\*\\*" in typed
        assert not any(row.get("disabled") is False for row in first.iter_components() if "custom_id" in row)

        second = await question(discord_, channel, 2)
        answer = RIGHT_ANSWERS[hub(bot).running(channel.id).current.question.concept_id][0]
        late_form = await open_form(discord_, guild, alice, second)  # opened while open…
        right_now = await type_answer(discord_, guild, erin, second, answer)
        assert "Taken" in right_now
        clock.advance(timedelta(seconds=20))  # …submitted after it closed
        await revealed(discord_, second)
        third = await question(discord_, channel, 3)
        late = await discord_.submit_modal(guild, alice, late_form.modal["custom_id"], {"answer": answer})
        assert "Question 2 has closed, so that answer was not counted. Question 3 is open now." in (
            late.response.content
        )
        huge_form = await open_form(discord_, guild, alice, third)
        huge = discord_.interact(
            5, guild, alice, channel,
            {"custom_id": huge_form.modal["custom_id"], "components": [
                {"type": 18, "id": 1, "component": {"type": 4, "custom_id": "answer", "value": "x" * 4000}}]},
            message=third, opener=huge_form,
        )  # fmt: skip
        refused = await huge.wait_response()
        assert refused.ephemeral
        assert "4,000 characters long" in refused.content
        counted = await bot.store.fetch_all("SELECT round, user_id FROM quiz_answers WHERE round > 1")
        assert counted == [(2, erin.id)]

        side = discord_.add_channel(guild, "side")
        aside = await discord_.slash(guild, bob, "define", term="BCG", in_channel=side)
        type_id = next(cid for cid in third.custom_ids if cid.endswith(":type"))
        elsewhere = discord_.interact(  # the form button's id carried to another channel: no form, no answer
            3, guild, bob, side, {"custom_id": type_id, "component_type": 2}, message=carrying(aside.message, type_id)
        )
        reply = await elsewhere.wait_response()
        assert reply.type == 4
        assert "belongs to a quiz in another channel" in reply.content


# --- answers from elsewhere, limits, DMs ------------------------------------------------------------------------------


async def test_an_answer_id_from_another_server_channel_or_dm_is_refused(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """A click carrying this quiz's custom id from another server, another channel or a DM is not scored."""
    guild, channel = server.guild, server.guild.channel("general")
    other = discord_.add_guild("Elsewhere")
    stranger = discord_.add_member(other, "stranger")
    side = discord_.add_channel(guild, "side")
    async with start_bot(clock=ManualClock(T0)) as bot:
        await start_quiz(discord_, guild, server.member)
        first = await question(discord_, channel, 1)
        right, _ = right_and_wrong(bot, channel)
        there = await discord_.slash(other, stranger, "define", term="BCG")
        dm = await discord_.slash(None, server.member, "define", term="BCG")
        aside = await discord_.slash(guild, server.moderator, "define", term="BCG", in_channel=side)
        for where, who, room, message in (
            (other, stranger, other.default_channel, there.message),
            (None, server.member, dm.channel, dm.message),
            (guild, server.moderator, side, aside.message),
        ):
            forged = discord_.interact(
                3, where, who, room, {"custom_id": right, "component_type": 2}, message=carrying(message, right)
            )
            reply = await forged.wait_response()
            assert reply.ephemeral
            assert "belongs to a quiz in another channel" in reply.content
        assert await answer_counts(bot) == []
        assert hub(bot).running(channel.id).current.answers == {}
        assert title_of(first) == "Question 1 of 5"


def title_of(message: Message) -> str:
    """A message's first embed title."""
    return message.embeds[0]["title"]


async def test_one_member_runs_at_most_two_quizzes(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """A third quiz by the same member is refused privately and nothing is created; others may still start one."""
    guild = server.guild
    rooms: list[Channel] = [discord_.add_channel(guild, f"room-{n}") for n in range(3)]
    async with start_bot(clock=ManualClock(T0)) as bot:
        for room in rooms[:MAX_QUIZZES_PER_MEMBER]:
            started = await start_quiz(discord_, guild, server.member, in_channel=room)
            assert not started.response.ephemeral
        refused = await start_quiz(discord_, guild, server.member, in_channel=rooms[2])
        assert refused.response.ephemeral
        assert f"You already run 2 quizzes (<#{rooms[0].id}>, <#{rooms[1].id}>)" in refused.response.content
        assert await bot.store.fetch_all("SELECT count(*) FROM quiz_sessions") == [(2,)]
        by_other = await start_quiz(discord_, guild, server.moderator, in_channel=rooms[2])
        assert not by_other.response.ephemeral
        await discord_.slash(guild, server.member, "quiz stop", in_channel=rooms[0])
        again = await start_quiz(discord_, guild, server.member, in_channel=rooms[0])
        assert not again.response.ephemeral


async def test_stats_shows_recall_estimate_and_reviews_due(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """/stats: FSRS's recall estimate falls as days pass without review, and the reviews due rise; shown only to
    the member themself (another member's /stats of them leaves their flashcards out)."""
    guild, alice = server.guild, server.member
    clock = ManualClock(T0)
    async with start_bot(clock=clock):
        nothing = await discord_.slash(guild, alice, "stats")
        assert nothing.response.ephemeral
        shown = await discord_.slash(guild, alice, "flashcards review", options={"category": "immunosuppressant"})
        for _ in range(3):
            back = await discord_.click(guild, alice, shown.message, card_button(shown, "show"))
            shown = await discord_.click(guild, alice, shown.message, card_button(back, "easy"))
        today = fields((await discord_.slash(guild, alice, "stats")).response.embeds[0])
        assert today["Recall estimate"] == "100% over 3 cards (FSRS)"
        assert today["Reviews due"] == "0 today"
        assert today["Answered"] == "No quiz questions yet"
        clock.set(T0 + timedelta(days=20))
        later = fields((await discord_.slash(guild, alice, "stats")).response.embeds[0])
        assert int(later["Recall estimate"].split("%")[0]) < 90
        assert later["Reviews due"] == "3 today"
        others = await discord_.slash(guild, server.moderator, "stats", options={"member": alice})
        assert "has not answered any quiz questions in this server yet" in others.response.content
        assert "Recall" not in others.response.content  # flashcards are private: only your own /stats shows them


@pytest.mark.both_backends
async def test_weak_lists_lowest_recall_and_the_servers_missed_concepts(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """/weak scope:me ranks the member's cards by FSRS recall today; scope:server ranks concepts by quiz accuracy
    over 30 days (asked at least 3 times), per server; both offer buttons to review them privately."""
    guild, channel, alice = server.guild, server.guild.channel("general"), server.member
    other = discord_.add_guild("Elsewhere")
    stranger = discord_.add_member(other, "stranger")
    bob, carol = discord_.add_member(guild, "bob"), discord_.add_member(guild, "carol")
    clock = ManualClock(T0)
    async with start_bot(clock=clock) as bot:
        empty = await discord_.slash(guild, alice, "weak")
        assert empty.response.ephemeral
        assert "no cards" in empty.response.content
        nobody = await discord_.slash(guild, alice, "weak", options={"scope": "server"})
        assert "Nobody has missed" in nobody.response.content

        await start_quiz(discord_, guild, alice, category="immunosuppressant")
        first = await question(discord_, channel, 1)
        missed = hub(bot).running(channel.id).current.question.concept_id
        right, wrong = right_and_wrong(bot, channel)
        for member, choice in ((alice, wrong), (bob, wrong), (carol, right)):
            await discord_.click(guild, member, first, choice)
        clock.advance(timedelta(seconds=20))
        await revealed(discord_, first)

        server_view = await discord_.slash(guild, alice, "weak", options={"scope": "server"})
        lines = server_view.response.embeds[0]["description"].splitlines()
        name = bot.catalog.shipped.concepts[missed].name
        assert lines[0] == f"**1.** {name} — 1 of 3 right (33%)"
        assert f"concept:peek:{missed}" in server_view.response.custom_ids
        elsewhere = await discord_.slash(other, stranger, "weak", options={"scope": "server"})
        assert "Nobody has missed" in elsewhere.response.content

        shown = await discord_.slash(guild, alice, "flashcards review")
        back = await discord_.click(guild, alice, shown.message, card_button(shown, "show"))
        first_easy = shown_card(shown)
        shown = await discord_.click(guild, alice, shown.message, card_button(back, "easy"))  # learnt well on day 0
        clock.set(T0 + timedelta(days=1))
        shown = await discord_.slash(guild, alice, "flashcards review")
        assert shown_card(shown) == missed  # the missed card comes first the next day
        back = await discord_.click(guild, alice, shown.message, card_button(shown, "show"))
        shown = await discord_.click(guild, alice, shown.message, card_button(back, "again"))  # missed again
        back = await discord_.click(guild, alice, shown.message, card_button(shown, "show"))
        second_easy = shown_card(shown)
        await discord_.click(guild, alice, shown.message, card_button(back, "easy"))  # learnt well on day 1
        clock.set(T0 + timedelta(days=5))
        mine = await discord_.slash(guild, alice, "weak")
        assert mine.response.ephemeral
        rows = mine.response.embeds[0]["description"].splitlines()
        names = bot.catalog.shipped.concepts
        assert rows[0] == f"**1.** {name} — still learning (new or missed lately) · due today"
        assert rows[1].startswith(f"**2.** {names[first_easy].name} — recall ")  # five days since: weaker
        assert rows[2].startswith(f"**3.** {names[second_easy].name} — recall ")
        chances = [int(row.split("recall ")[1].split("%")[0]) for row in rows[1:]]
        assert chances[0] < chances[1] < 100
        peek = await discord_.click(guild, alice, mine, f"concept:peek:{missed}")
        assert peek.response.ephemeral
        assert peek.response.embeds[0]["title"] == name


# --- the concept of the day from the weak pool ------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_daily_weak_pool_posts_what_the_server_misses_and_says_why(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """`/daily set … pool: weak`: with nothing missed the usual cycle, saying so; after a quiz the server missed, that
    concept, saying why; not the same one again within a week (back to the cycle)."""
    from tests.e2e.test_daily import MONDAY_7AM, at, daily_posts, set_daily

    guild, quiz_room, daily = server.guild, server.guild.channel("general"), server.guild.channel("daily")
    bob, carol = discord_.add_member(guild, "bob"), discord_.add_member(guild, "carol")
    clock = ManualClock(MONDAY_7AM)
    async with start_bot(clock=clock) as bot:
        answer = await set_daily(discord_, server, daily, pool="weak")
        assert fields((await answer.answer()).embeds[0])["Pool"].startswith("Weak")
        await at(bot, clock, MONDAY_7AM + timedelta(hours=1))
        first = daily_posts(discord_, daily)[-1]
        assert fields(first)["Why this one"].startswith("Chosen from the usual cycle")

        clock.set(MONDAY_7AM + timedelta(hours=2))
        await start_quiz(discord_, guild, server.member, in_channel=quiz_room)
        shown = await question(discord_, quiz_room, 1)
        missed = hub(bot).running(quiz_room.id).current.question.concept_id
        right, wrong = right_and_wrong(bot, quiz_room)
        current = hub(bot).running(quiz_room.id).current
        for member, choice in ((server.member, wrong), (bob, wrong), (carol, right)):
            await discord_.click(guild, member, shown, choice)
        # a click on a slow database is acknowledged first and stored after: wait until all three are stored
        await discord_.changes.wait_for(lambda: len(current.answers) == 3, 10, "the three answers stored")
        clock.advance(timedelta(seconds=20))
        await revealed(discord_, shown)
        await discord_.slash(guild, server.member, "quiz stop", in_channel=quiz_room)

        await at(bot, clock, MONDAY_7AM + timedelta(days=1, hours=1))
        second = daily_posts(discord_, daily)[-1]
        name = bot.catalog.shipped.concepts[missed].name
        assert second.embeds[0]["title"] == f"Concept of the day: {name}"
        assert fields(second)["Why this one"] == (
            "Chosen because this server keeps missing it: 1 of 3 quiz answers right in the last 30 days."
        )
        await at(bot, clock, MONDAY_7AM + timedelta(days=2, hours=1))
        third = daily_posts(discord_, daily)[-1]
        assert third.embeds[0]["title"] != second.embeds[0]["title"]
        assert fields(third)["Why this one"].startswith("Chosen from the usual cycle")
        assert len(daily_posts(discord_, daily)) == 3


# --- the offline console ----------------------------------------------------------------------------------------------


def test_the_learning_loop_in_the_console(tmp_path: Path) -> None:
    """As a newcomer would try it offline: a typed-answer quiz (the form asks for the answer), a flashcard with
    its four distinct choices, the retention setting with its cost, /weak and /stats."""
    from tests.e2e.test_console import console

    script = "\n".join([
        "/quiz start mode:typed questions:5 timeout:10", "1", "tacrolimos",
        "/flashcards review", "2", "5",  # [1] stays the open quiz question's button until it closes
        "/flashcards settings retention:0.95",
        "/weak", "/stats",
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path, "--console")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Type the entry this describes" in out
    assert "Taken: “tacrolimos”" in out
    assert "[2] Again · 1 min" in out
    assert "[5] Easy · 8 days" in out
    assert "0.95: cards come back when FSRS expects you to recall 95%" in out  # bold is dropped in piped output
    assert "YOUR WEAKEST CARDS" in out
    assert "Recall estimate" in out
    assert "Traceback" not in result.stderr
