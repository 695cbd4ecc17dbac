"""/quiz: a quiz in a channel, answered with buttons (a menu for stage order); the core in `bot.quiz` runs it."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import answer_failure
from bot.flashcards import Flashcards, card_for
from bot.questions import MAX_QUESTIONS, MIN_QUESTIONS, STAGE_LETTERS, Mode, Question, QuizError, plan_quiz
from bot.quiz import (
    MAX_QUIZZES_PER_MEMBER,
    MAX_ROUND_SECONDS,
    MAX_TYPED_LENGTH,
    MIN_ROUND_SECONDS,
    AnswerResult,
    ChannelUnavailableError,
    CloseReason,
    Outcome,
    QuizHub,
    QuizRequest,
    Round,
    RoundResult,
    Session,
    TooManyQuizzesError,
)
from bot.scores import Standing, rank
from cogs._components import GUILD_ONLY, Acknowledge, edit_clicked, glossary_for, in_time, respond
from cogs._render import STUDY_NOTICE, EmbedBuilder, clip, marked, plain
from cogs.browse import resolve_category, suggest_categories
from cogs.lookup import quoted
from cogs.moderation._forms import submitted_values

if TYPE_CHECKING:
    from bot.client import ImmunoBot

log = logging.getLogger(__name__)

ROUND = r"quiz:(?P<session>\d{1,12}):(?P<round>\d{1,3})"
TYPED_FORM = re.compile(rf"{ROUND}:typed")
ENDED = "This quiz has ended. Start a new one with `/quiz start`."
ELSEWHERE = "That answer belongs to a quiz in another channel, so it was not counted. Answer where the quiz runs."
RESTARTED = "⏹ This quiz ended when the bot restarted. Answers given before then are counted."
NEEDED = {"view_channel": "View Channel", "send_messages": "Send Messages", "embed_links": "Embed Links"}
CLOSED_BECAUSE = {
    CloseReason.TIMEOUT: "Time is up.",
    CloseReason.ANSWERED: "Everyone playing has answered.",
    CloseReason.STOPPED: "The quiz was stopped.",
    CloseReason.RESTART: "The bot restarted.",
}


def letter(index: int) -> str:
    """The letter of an option (A, B, C, …)."""
    return STAGE_LETTERS[index]


def question_message(session: Session, round_: Round, *, intro: str = "") -> dict[str, Any]:
    """A question with its options: buttons A–D (with the names when they are short), or a menu of orders."""
    question = round_.question
    request = session.request
    lines = [marked(question.prompt)]
    if question.typed:
        lines += ["", "Press **Type your answer**: any of its names counts, typos and British spellings forgiven."]
    elif not question.uses_select:
        lines += ["", *(f"**{letter(i)}.** {plain(option)}" for i, option in enumerate(question.options))]
    lines += ["", f"Closes <t:{int(round_.deadline.timestamp())}:R>."]
    builder = EmbedBuilder(f"Question {round_.number} of {session.total}", "\n".join(lines))
    builder.footer(f"{request.mode.label} · {request.round_seconds} s · your first answer counts · {STUDY_NOTICE}")
    reply: dict[str, Any] = {
        "embed": builder.build(),
        "view": answer_view(session.id, round_.number, question),
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if intro:
        reply["content"] = intro
    return reply


def answer_view(session_id: int, number: int, question: Question, *, closed: bool = False) -> discord.ui.View:
    """The options as buttons (or a menu of orders); once closed, disabled, with the right one in green."""
    view = discord.ui.View(timeout=None)
    if question.uses_select:
        view.add_item(OrderSelect(session_id, number, question.options, disabled=closed))
        return view
    if question.typed:
        view.add_item(TypeAnswerButton(session_id, number, disabled=closed))
        return view
    for index, option in enumerate(question.options):
        label = f"{letter(index)}. {option}" if question.names_are_options else letter(index)
        style = discord.ButtonStyle.primary
        if closed:
            style = discord.ButtonStyle.success if index == question.correct else discord.ButtonStyle.secondary
        view.add_item(AnswerButton(session_id, number, index, label, style=style, disabled=closed))
    return view


def names_line(names: Sequence[str]) -> str:
    """Player names for an embed (markdown and mentions neutralised)."""
    return ", ".join(quoted(name, 40) for name in names)


def reveal_message(result: RoundResult) -> dict[str, Any]:
    """The closed question: the right answer with its one-line summary, who got it, who did not; no buttons."""
    question = result.question
    plain_answer = question.uses_select or question.typed
    right = question.answer if plain_answer else f"{letter(question.correct)}. {question.answer}"
    description = f"{marked(question.prompt)}\n\n✅ **{plain(right)}**\n{plain(question.explanation)}"
    builder = EmbedBuilder(f"Question {result.number} of {result.total} — closed", description)
    builder.field("Got it", names_line(result.right) or "Nobody", inline=True)
    builder.field("Missed it", names_line(result.wrong) or "Nobody", inline=True)
    if question.typed and result.typed:
        builder.long_field("What each member typed", [typed_line(*answer) for answer in result.typed])
    builder.footer(f"{CLOSED_BECAUSE[result.reason]} · {STUDY_NOTICE}")
    return {
        "embed": builder.build(),
        "view": answer_view(result.session_id, result.number, question, closed=True),
        "allowed_mentions": discord.AllowedMentions.none(),
    }


def typed_line(name: str, typed: str, correct: bool) -> str:
    """One member's typed answer for the reveal: shown as typed, markdown and mentions neutralised."""
    return f"{'✅' if correct else '❌'} {quoted(name, 40)}: “{quoted(typed, 60)}”"


def standings_text(standings: Sequence[Standing], total: int) -> str:
    """One line per player: place (shared places marked with =), name, score."""
    lines = []
    for ranked in rank(standings):
        place = f"={ranked.place}" if ranked.tied else str(ranked.place)
        s = ranked.standing
        lines.append(f"**{place}.** {quoted(s.name, 40)} — {s.points} of {total}")
    return "\n".join(lines)


def results_embed(title: str, standings: Sequence[Standing], total: int, note: str = "") -> discord.Embed:
    """The standings at the end of a quiz."""
    body = standings_text(standings, total) or "Nobody answered."
    builder = EmbedBuilder(title, f"{note}{body}")
    builder.footer(f"A point is a correct answer. See /leaderboard and /stats. {STUDY_NOTICE}")
    return builder.build()


def quiz_cog(interaction: discord.Interaction) -> Quiz | None:
    """The running Quiz cog (the buttons reach the hub through it)."""
    return cast("Quiz | None", cast("ImmunoBot", interaction.client).get_cog("Quiz"))


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"{ROUND}:(?P<choice>\d)"):
    """One option of a question; the custom id names the quiz, the question and the option (never which is right)."""

    def __init__(
        self,
        session_id: int,
        number: int,
        choice: int,
        label: str,
        *,
        style: discord.ButtonStyle = discord.ButtonStyle.primary,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label, 80), style=style, custom_id=f"quiz:{session_id}:{number}:{choice}", disabled=disabled
            )
        )
        self.session_id, self.number, self.choice = session_id, number, choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild from the custom id (also for messages from before a restart)."""
        return cls(int(match["session"]), int(match["round"]), int(match["choice"]), item.label or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the answer to the quiz."""
        await take_answer(interaction, self.session_id, self.number, self.choice)


class TypeAnswerButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"{ROUND}:type"):
    """Opens the form to type an answer to a typed-answer question."""

    def __init__(self, session_id: int, number: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Type your answer", style=discord.ButtonStyle.primary,
                custom_id=f"quiz:{session_id}:{number}:type", disabled=disabled,
            )
        )  # fmt: skip
        self.session_id, self.number = session_id, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild from the custom id."""
        return cls(int(match["session"]), int(match["round"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the answer form while the question is open (else say why not)."""
        cog = quiz_cog(interaction)
        session = next((s for s in cog.hub.sessions() if s.id == self.session_id), None) if cog else None
        if session is None:
            await interaction.response.send_message(ENDED, ephemeral=True)
            return
        if (interaction.guild_id, interaction.channel_id) != (session.request.guild_id, session.request.channel_id):
            await interaction.response.send_message(ELSEWHERE, ephemeral=True)
            return
        if session.current.number != self.number or session.current.closed:
            await interaction.response.send_message(
                f"Question {self.number} has closed. Question {session.current.number} is open now.", ephemeral=True
            )
            return
        form = discord.ui.Modal(
            title=f"Question {self.number}: your answer", custom_id=f"quiz:{self.session_id}:{self.number}:typed"
        )
        form.add_item(
            discord.ui.Label(
                text="The entry's name",
                description="Any of its names or abbreviations; typos are forgiven. Your first answer counts.",
                component=discord.ui.TextInput(custom_id="answer", max_length=MAX_TYPED_LENGTH),
            )
        )
        form.stop()  # discord.py keeps no copy: the submission reaches Quiz.on_interaction
        await interaction.response.send_modal(form)


def judge_typed(interaction: discord.Interaction, question: Question, text: str) -> bool:
    """Right when the one resolver confidently reads the text as the question's entry (typos, aliases, British
    spellings); a generic word that fits several entries, or another entry's name, is wrong."""
    match = glossary_for(interaction).resolver.resolve(text).match
    return match is not None and match.id == question.concept_id


class OrderSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"{ROUND}:order"):
    """The candidate orders of a stages question."""

    def __init__(self, session_id: int, number: int, options: Sequence[str] = (), *, disabled: bool = False) -> None:
        choices = [discord.SelectOption(label=clip(option, 100), value=str(i)) for i, option in enumerate(options)] or [
            discord.SelectOption(label="(closed)", value="0")
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"quiz:{session_id}:{number}:order",
                placeholder="Choose the right order…",
                options=choices,
                disabled=disabled,
            )
        )
        self.session_id, self.number = session_id, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild from the custom id; the chosen value arrives with the interaction."""
        return cls(int(match["session"]), int(match["round"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the chosen order to the quiz."""
        values = cast(dict[str, Any], interaction.data or {}).get("values") or []
        choice = int(values[0]) if values and str(values[0]).isdigit() else -1
        await take_answer(interaction, self.session_id, self.number, choice)


def chosen(result: AnswerResult) -> str:
    """How a member's answer is named back to them: its letter, or the order they chose."""
    if result.choice is None or result.question is None:
        return "?"
    if result.question.uses_select:
        return result.question.options[result.choice]
    return letter(result.choice)


async def take_answer(
    interaction: discord.Interaction, session_id: int, number: int, choice: int, typed: str | None = None
) -> None:
    """Count a click (or a typed answer), and tell the member what became of it (privately, unless a click
    closed the question)."""
    cog = quiz_cog(interaction)
    if cog is None:
        await interaction.response.send_message(ENDED, ephemeral=True)
        return
    user = interaction.user
    answering = cog.hub.answer(
        session_id, number, user.id, user.display_name, choice, guild_id=interaction.guild_id,
        channel_id=interaction.channel_id, typed=typed,
    )  # fmt: skip
    # a click may close the question and turn its message into the answer; a form only ever answers privately
    result = await in_time(interaction, answering, Acknowledge.UPDATE if typed is None else Acknowledge.PRIVATE)
    if result.outcome is Outcome.CLOSED_IT and result.closed is not None:
        if typed is None:
            await edit_clicked(interaction, **reveal_message(result.closed))
        else:  # a form has no message to edit: reveal on the question's message, and confirm privately
            await cog.presenter.show_closed(result.closed)
            await respond(interaction, content=f"Taken: “{quoted(typed, 60)}”. That was the last answer awaited, "
                                               "so the question has closed.", ephemeral=True)  # fmt: skip
        return
    if result.outcome is Outcome.ACCEPTED and typed is not None:
        text = (
            f"Taken: “{quoted(typed, 60)}”. Right or wrong is shown when the question closes "
            f"(in {result.seconds_left} s at most)."
        )
    elif result.outcome is Outcome.ACCEPTED:
        text = (
            f"Locked in: **{chosen(result)}**. The answer is shown when the question closes "
            f"(in {result.seconds_left} s at most)."
        )
    elif result.outcome is Outcome.DUPLICATE and typed is not None:
        text = "You already answered this question; only your first answer counts."
    elif result.outcome is Outcome.DUPLICATE:
        text = f"You already answered this question with **{chosen(result)}**; only your first answer counts."
    elif result.outcome is Outcome.TOO_LATE:
        now_open = f" Question {result.current_round} is open now." if result.current_round != number else ""
        text = f"Question {number} has closed, so that answer was not counted.{now_open}"
    elif result.outcome is Outcome.INVALID and typed is not None and len(typed) > MAX_TYPED_LENGTH:
        text = (
            f"That answer is {len(typed):,} characters long; answers are names of at most {MAX_TYPED_LENGTH} "
            "characters. It was not counted."
        )
    elif result.outcome is Outcome.INVALID:
        text = "That is not one of this question's options."
    elif result.outcome is Outcome.ELSEWHERE:
        text = ELSEWHERE
    else:
        text = ENDED
    await respond(interaction, content=text, ephemeral=True)


def too_many(running: Sequence[Session]) -> str:
    """Why a member cannot start another quiz, and where theirs run."""
    where = ", ".join(f"<#{session.request.channel_id}>" for session in running)
    return (
        f"You already run {len(running)} quizzes ({where}); one member may run {MAX_QUIZZES_PER_MEMBER} at once. "
        "Finish or `/quiz stop` one first."
    )


class DiscordQuizPresenter:
    """Shows quizzes in Discord channels."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot

    def _channel(self, channel_id: int) -> discord.PartialMessageable:
        return self.bot.get_partial_messageable(channel_id)

    async def ask(self, session: Session, round_: Round) -> int:
        """Post the next question; a channel that refuses it ends the quiz."""
        try:
            message = await self._channel(session.request.channel_id).send(**question_message(session, round_))
        except (discord.Forbidden, discord.NotFound) as error:
            raise ChannelUnavailableError(f"Discord refused the next question ({error.status} {error.text})") from error
        return message.id

    async def show_closed(self, result: RoundResult) -> None:
        """Turn a question's message into its answer (when a typed answer closed it: a form has no message)."""
        if result.message_id is None:
            return
        try:
            await self._channel(result.channel_id).get_partial_message(result.message_id).edit(**reveal_message(result))
        except discord.HTTPException as error:
            log.warning("Could not show the answer of quiz %s question %s: %s", result.session_id, result.number, error)

    async def reveal(self, session: Session, result: RoundResult) -> None:
        """Turn the question's message into its answer."""
        message_id = session.current.message_id if session.current.number == result.number else None
        if message_id is None:
            return
        try:
            await (
                self._channel(session.request.channel_id).get_partial_message(message_id).edit(**reveal_message(result))
            )
        except discord.HTTPException as error:
            log.warning("Could not show the answer of quiz %s question %s: %s", session.id, result.number, error)

    async def finish(self, session: Session, standings: Sequence[Standing]) -> None:
        """Post the final standings."""
        try:
            await self._channel(session.request.channel_id).send(
                embed=results_embed("Quiz over", standings, session.total),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.warning("Could not post the results of quiz %s: %s", session.id, error)

    async def ended(self, channel_id: int, message_id: int) -> None:
        """Say on a question's message that its quiz ended with a restart, and take its buttons away."""
        try:
            await (
                self._channel(channel_id)
                .get_partial_message(message_id)
                .edit(content=RESTARTED, allowed_mentions=discord.AllowedMentions.none())
            )
        except discord.HTTPException as error:
            log.warning("Could not mark quiz message %s as ended: %s", message_id, error)


@app_commands.guild_only()
class Quiz(commands.GroupCog, group_name="quiz", group_description="Quizzes in this channel, with scores"):
    """Starting, stopping and answering quizzes."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.presenter = DiscordQuizPresenter(bot)
        self.flashcards = Flashcards(bot.store)
        self.hub = QuizHub(bot.store, self.presenter, bot.clock, self.feed_cards, owns=bot.owns_guild)
        self._recovery: asyncio.Task[None] | None = None
        super().__init__()

    async def feed_cards(self, session: Session, user_id: int, question: Question, correct: bool, fast: bool) -> None:
        """A counted answer is evidence for the member's card of the concept asked (unless they turned it off)."""
        if question.concept_id not in self.bot.catalog.view(session.request.guild_id):
            return
        card = card_for(question.concept_id, self.bot.catalog.shipped, session.request.guild_id)
        await self.flashcards.quiz_answer(user_id, card, correct, fast, self.bot.clock.now())

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Take typed answers from their form (the forms are not kept in memory)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = cast(dict[str, Any], interaction.data or {})
        match = TYPED_FORM.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        typed = submitted_values(data).get("answer", "")
        session_id, number = int(match["session"]), int(match["round"])
        session = next((s for s in self.hub.sessions() if s.id == session_id), None)
        if len(typed) > MAX_TYPED_LENGTH or not typed.strip() or session is None:
            choice = -1
        else:
            question = session.current.question if session.current.number == number else None
            choice = 0 if question is not None and judge_typed(interaction, question, typed) else -1
        if not typed.strip():
            await interaction.response.send_message("An empty answer is not an answer; nothing was counted.",
                                                    ephemeral=True)  # fmt: skip
            return
        try:
            await take_answer(interaction, session_id, number, choice, typed)
        except Exception as error:  # a listener's failure is only logged by discord.py: answer it ("nothing saved")
            await answer_failure(interaction, error, "typed quiz answer")

    async def cog_load(self) -> None:
        """End the quizzes a stopped bot left running in the guilds of its shards; mark their questions once
        connected."""
        left_open = await self.hub.recover()

        async def mark_when_ready() -> None:
            await self.bot.wait_until_ready()
            await asyncio.gather(*(self.presenter.ended(channel, message) for channel, message in left_open))

        if left_open:
            self._recovery = asyncio.create_task(mark_when_ready(), name="quiz-recovery")

    async def cog_unload(self) -> None:
        """End running quizzes cleanly (their answers stay counted) and mark their open questions."""
        if self._recovery is not None:
            self._recovery.cancel()
        left_open = await self.hub.shutdown()
        await asyncio.gather(*(self.presenter.ended(channel, message) for channel, message in left_open))

    @app_commands.command(name="start", description="Start a quiz in this channel; everyone answers with buttons")
    @app_commands.guild_only()
    @app_commands.describe(
        category="Only this category, e.g. immunosuppressant (leave empty for everything)",
        questions=f"How many questions ({MIN_QUESTIONS}–{MAX_QUESTIONS}, default 10)",
        mode="What to ask (default: mixed)",
        round_seconds=f"Seconds per question, {MIN_ROUND_SECONDS}–{MAX_ROUND_SECONDS} (default: see /quiz timeout)",
    )
    @app_commands.choices(mode=[app_commands.Choice(name=mode.label, value=mode.value) for mode in Mode])
    @app_commands.autocomplete(category=suggest_categories)
    @app_commands.rename(round_seconds="timeout")
    async def start(
        self,
        interaction: discord.Interaction,
        category: str | None = None,
        questions: app_commands.Range[int, MIN_QUESTIONS, MAX_QUESTIONS] = 10,
        mode: str = Mode.MIXED.value,
        round_seconds: app_commands.Range[int, MIN_ROUND_SECONDS, MAX_ROUND_SECONDS] | None = None,
    ) -> None:
        """Check the channel and the options, make the questions, post the first one."""
        if interaction.guild_id is None or interaction.channel_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        missing = [label for flag, label in NEEDED.items() if not getattr(interaction.app_permissions, flag)]
        if missing:
            await interaction.response.send_message(
                f"I can't run a quiz here: I need {', '.join(missing)} in this channel to post the questions. "
                "Ask a moderator to allow that, or start the quiz in another channel.",
                ephemeral=True,
            )
            return
        mine = self.hub.started_by(interaction.user.id)
        if len(mine) >= MAX_QUIZZES_PER_MEMBER:
            await interaction.response.send_message(too_many(mine), ephemeral=True)
            return
        running = self.hub.running(interaction.channel_id)
        if running is not None:
            await interaction.response.send_message(
                f"A quiz is already running in this channel (question {running.current.number} of {running.total}). "
                "Answer it, or ask whoever started it or a moderator to `/quiz stop` it.",
                ephemeral=True,
            )
            return
        glossary = glossary_for(interaction)
        category_id: str | None = None
        if category is not None and category.strip():
            found = resolve_category(glossary, category)
            if isinstance(found, str):
                await interaction.response.send_message(found, ephemeral=True)
                return
            category_id = found.id
        try:
            chosen = Mode(mode)
        except ValueError:
            await interaction.response.send_message("Pick a mode from the list.", ephemeral=True)
            return
        seconds = round_seconds
        if seconds is None:  # a read, but it queues behind any write the database is holding up
            seconds = await in_time(
                interaction, self.hub.repository.round_seconds(interaction.guild_id), Acknowledge.PUBLIC
            )
        seed = random.SystemRandom().getrandbits(48)
        try:
            if not MIN_ROUND_SECONDS <= seconds <= MAX_ROUND_SECONDS:
                raise QuizError(f"A question stays open {MIN_ROUND_SECONDS} to {MAX_ROUND_SECONDS} seconds.")
            plan = plan_quiz(glossary, mode=chosen, category_id=category_id, count=questions, seed=seed)
        except QuizError as error:
            await respond(interaction, content=str(error), ephemeral=True)
            return
        request = QuizRequest(
            interaction.guild_id, interaction.channel_id, interaction.user.id, interaction.user.display_name,
            chosen, category_id, seconds, seed,
        )  # fmt: skip
        try:  # slow to save: "thinking…" in the channel, which the first question then replaces
            session = await in_time(interaction, self.hub.start(request, plan.questions), Acknowledge.PUBLIC)
        except TooManyQuizzesError as error:
            await respond(interaction, content=too_many(error.running), ephemeral=True)
            return
        if session is None:
            await respond(interaction, content="A quiz has just been started in this channel: answer that one.",
                          ephemeral=True)  # fmt: skip
            return
        where = f" on {plain(glossary.concepts[category_id].name)}" if category_id else ""
        intro = (
            f"**{quoted(interaction.user.display_name, 40)}** started a quiz{where}: {session.total} questions, "
            f"{chosen.label}, {seconds} s each. Anyone can play: answer with "
            f"{'**Type your answer**' if chosen is Mode.TYPED else 'the buttons'}, your first answer counts. "
            f"The first question stays open the full {seconds} s so everyone can join."
        )
        if plan.note:
            intro += f"\n*{plan.note}*"
        try:
            message_id = await respond(interaction, **question_message(session, session.current, intro=intro))
        except BaseException:
            await self.hub.abandon(session)
            raise
        if message_id is None:
            await self.hub.abandon(session)
            return
        await self.hub.begin(session, message_id)

    @app_commands.command(name="stop", description="Stop this channel's quiz (whoever started it, or a moderator)")
    async def stop(self, interaction: discord.Interaction) -> None:
        """Stop the quiz, show the open question's answer and the standings."""
        if interaction.guild_id is None or interaction.channel_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        session = self.hub.running(interaction.channel_id)
        if session is None:
            await interaction.response.send_message("There is no quiz running in this channel.", ephemeral=True)
            return
        if interaction.user.id != session.request.starter_id and not interaction.permissions.manage_guild:
            await interaction.response.send_message(
                f"Only {quoted(session.request.starter_name, 40)}, who started this quiz, or a member with the "
                "Manage Server permission can stop it.",
                ephemeral=True,
            )
            return
        # slow to save: "thinking…" in the channel, which the standings then replace
        stopped = await in_time(interaction, self.hub.stop(interaction.channel_id, interaction.user.id),
                                Acknowledge.PUBLIC)  # fmt: skip
        if stopped is None:
            await respond(interaction, content="There is no quiz running in this channel.", ephemeral=True)
            return
        result, standings = stopped
        if result is not None:
            await self.presenter.reveal(session, result)
        asked = session.current.number
        note = f"Stopped by {quoted(interaction.user.display_name, 40)} at question {asked} of {session.total}.\n\n"
        await respond(interaction, embed=results_embed("Quiz stopped", standings, asked, note))

    @app_commands.command(name="timeout", description="How long questions stay open in this server (moderators set it)")
    @app_commands.describe(seconds=f"New default, {MIN_ROUND_SECONDS}–{MAX_ROUND_SECONDS} s (Manage Server only)")
    async def timeout(
        self,
        interaction: discord.Interaction,
        seconds: app_commands.Range[int, MIN_ROUND_SECONDS, MAX_ROUND_SECONDS] | None = None,
    ) -> None:
        """Show the server's default time per question, or (moderators) change it."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        repository = self.hub.repository
        if seconds is None:
            current = await repository.round_seconds(interaction.guild_id)
            await interaction.response.send_message(
                f"Questions stay open {current} s in this server, unless `/quiz start timeout:` says otherwise.",
                ephemeral=True,
            )
            return
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message(
                "Only members with the Manage Server permission can change how long questions stay open. "
                "You can still set it for your own quiz with `/quiz start timeout:`.",
                ephemeral=True,
            )
            return
        if not MIN_ROUND_SECONDS <= seconds <= MAX_ROUND_SECONDS:
            await interaction.response.send_message(
                f"Choose {MIN_ROUND_SECONDS} to {MAX_ROUND_SECONDS} seconds.", ephemeral=True
            )
            return
        saving = repository.set_round_seconds(interaction.guild_id, seconds, self.bot.clock.now())
        await in_time(interaction, saving, Acknowledge.PUBLIC)
        embed = EmbedBuilder("Quiz time per question", f"Questions now stay open **{seconds} s** in this server.")
        embed.footer(f"Changed by {interaction.user.display_name}. Quizzes already running keep their time.")
        await respond(interaction, embed=embed.build())


async def setup(bot: ImmunoBot) -> None:
    """Load the extension and its persistent components."""
    bot.add_dynamic_items(AnswerButton, OrderSelect, TypeAnswerButton)
    await bot.add_cog(Quiz(bot))
