"""/flashcards: private spaced-repetition review (FSRS, see `bot.flashcards`), one card at a time, and settings."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Self, cast
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.flashcards import (
    DEFAULT_RETENTION,
    MAX_RETENTION,
    MIN_RETENTION,
    Card,
    CardState,
    Flashcards,
    Grade,
    GradeRefused,
    GradeResult,
    Member,
    ReviewPosition,
    choice_labels,
    deck,
    estimate_daily_reviews,
    local_day,
    outcomes,
)
from bot.glossary import Glossary
from bot.timezones import parse_timezone, suggest_timezones
from cogs._components import ID, MISSING, Acknowledge, edit_clicked, glossary_for, in_time, respond
from cogs._render import STUDY_NOTICE, EmbedBuilder, clip, plain
from cogs.browse import resolve_category, suggest_categories

if TYPE_CHECKING:
    from bot.client import ImmunoBot

log = logging.getLogger(__name__)

ACTIONS = "show|again|hard|good|easy"
GRADE_STYLES = {
    Grade.AGAIN: discord.ButtonStyle.danger,
    Grade.HARD: discord.ButtonStyle.secondary,
    Grade.GOOD: discord.ButtonStyle.primary,
    Grade.EASY: discord.ButtonStyle.success,
}


def card_of(interaction: discord.Interaction, concept_id: str) -> tuple[Glossary, Card] | None:
    """The card for an entry as the interaction's guild sees it (None when the guild no longer has it)."""
    client = cast("ImmunoBot", interaction.client)
    view = glossary_for(interaction)
    if concept_id not in view:
        return None
    scope = 0 if concept_id in client.catalog.shipped or interaction.guild_id is None else interaction.guild_id
    return view, Card(scope, concept_id)


def status_line(position: ReviewPosition) -> str:
    """Due today, learned, total, and whose day it is."""
    status = position.status
    return f"{status.due_today} due today · {status.learned} learned of {status.total} · your day: {position.timezone}"


def front(glossary: Glossary, position: ReviewPosition) -> dict[str, Any]:
    """The next card's front, or the end of today's review."""
    card, state = position.card, position.state
    if card is None:
        status = position.status
        later = f" The next card is due {status.next_due:%a %d %b}." if status.next_due else ""
        builder = EmbedBuilder("All done for today", f"No more cards are due today.{later}")
        return {"embed": builder.footer(status_line(position)).build()}
    concept = glossary.concepts[card.concept_id]
    seen = "New card" if state is None else f"Reviewed {state.reviews} time{'s' if state.reviews != 1 else ''}"
    builder = EmbedBuilder(plain(concept.name), "Recall what it is, then press **Show answer**.")
    path = glossary.category_path(concept.id)
    if len(path) > 1:
        builder.field("Category", " › ".join(plain(c.name) for c in path[:-1]))
    builder.footer(f"{seen} · {status_line(position)}")
    view = discord.ui.View(timeout=None)
    reviews = state.reviews if state else 0
    view.add_item(FlashcardButton("show", reviews, card.concept_id, "Show answer", discord.ButtonStyle.primary))
    return {"embed": builder.build(), "view": view}


def back(
    glossary: Glossary, concept_id: str, state: CardState | None, today: date, now: datetime, member: Member
) -> dict[str, Any]:
    """The card's answer with the four grades, each labelled with when the card would really come back."""
    concept = glossary.concepts[concept_id]
    builder = EmbedBuilder(plain(concept.name), f"**{plain(concept.summary)}**\n\n{plain(concept.definition)}")
    builder.footer(f"How well did you recall it? · {STUDY_NOTICE}")
    view = discord.ui.View(timeout=None)
    reviews = state.reviews if state else 0
    for grade, wait in choice_labels(outcomes(state, now, today, member.retention, member.timezone)).items():
        label = f"{grade.value.capitalize()} · {wait}"
        view.add_item(FlashcardButton(grade.value, reviews, concept_id, label, GRADE_STYLES[grade]))
    return {"embed": builder.build(), "view": view}


def not_due(day: date | None) -> str:
    """Why a grade for a card that is not due was refused."""
    when = f" until {day:%a %d %b %Y}" if day else ""
    return f"That card is not due{when}, so the grade was not applied. Run `/flashcards review` for your due cards."


REFUSED = {
    GradeRefused.STALE: lambda _: "You already graded this card; only your first grade counts.",
    GradeRefused.NOT_DUE: not_due,
    GradeRefused.NO_NEW_LEFT: lambda _: (
        "You have started all the new cards you can today, so that grade was not applied. "
        "Run `/flashcards review` for your due cards."
    ),
}


class FlashcardButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"flashcard:(?P<action>{ACTIONS}):(?P<reviews>\d{{1,6}}):{ID}",
):
    """Show a card's answer or grade it; `reviews` is how many reviews the card had when shown, so a second
    click (or an old message) cannot grade it twice."""

    def __init__(self, action: str, reviews: int, concept_id: str, label: str, style: discord.ButtonStyle) -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label, 80), style=style, custom_id=f"flashcard:{action}:{reviews}:{concept_id}"
            )
        )
        self.action, self.reviews, self.concept_id = action, reviews, concept_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild from the custom id (after a restart too)."""
        return cls(match["action"], int(match["reviews"]), match["id"], item.label or "", item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Turn the card over, or grade it and show the next one, in place."""
        client = cast("ImmunoBot", interaction.client)
        found = card_of(interaction, self.concept_id)
        if found is None:
            await interaction.response.send_message(MISSING, ephemeral=True)
            return
        glossary, card = found
        flashcards = cast("FlashcardsCog", client.get_cog("Flashcards")).flashcards
        now = client.clock.now()
        user_id = interaction.user.id
        if self.action == "show":  # reads only, but they queue behind a write the database is holding up
            state, member = await in_time(
                interaction,
                asyncio.gather(flashcards.state(user_id, card), flashcards.repository.member(user_id)),
                Acknowledge.UPDATE,
            )
            if (state.reviews if state else 0) != self.reviews:
                await respond(interaction, content="You have already reviewed this card since; run "
                              "`/flashcards review` for the next one.", ephemeral=True)  # fmt: skip
                return
            today = local_day(now, member.timezone)
            if state is not None and state.due_on(member.timezone) > today:
                await respond(interaction, content=not_due(state.due_on(member.timezone)), ephemeral=True)
                return
            await edit_clicked(interaction, **back(glossary, card.concept_id, state, today, now, member))
            return

        async def grade_then_next() -> GradeResult | ReviewPosition:
            graded = await flashcards.grade(user_id, card, Grade(self.action), self.reviews, now)
            if graded.refused is not None:
                return graded
            category = await flashcards.repository.review_filter(user_id, interaction.guild_id or 0)
            return await flashcards.position(
                user_id, glossary, client.catalog.shipped, interaction.guild_id, now, category
            )

        outcome = await in_time(interaction, grade_then_next(), Acknowledge.UPDATE)
        if isinstance(outcome, ReviewPosition):  # graded (and saved): the next card, in place
            await edit_clicked(interaction, **{"view": None, **front(glossary, outcome)})
        else:
            await respond(interaction, content=REFUSED[outcome.refused](outcome.due_on), ephemeral=True)


class FlashcardsCog(
    commands.GroupCog, name="Flashcards", group_name="flashcards", group_description="Your own flashcards (private)"
):
    """Private reviews; everything is ephemeral."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.flashcards = Flashcards(bot.store)
        super().__init__()

    async def cog_load(self) -> None:
        """Move cards an SM-2 version of the bot kept to FSRS (once; nothing to do afterwards)."""
        moved = await self.flashcards.repository.upgrade_sm2()
        if moved:
            log.info("Moved %s flashcards from SM-2 to FSRS by replaying their reviews", moved)

    async def _position(self, interaction: discord.Interaction, category_id: str | None) -> ReviewPosition:
        return await self.flashcards.position(
            interaction.user.id, glossary_for(interaction), self.bot.catalog.shipped, interaction.guild_id,
            self.bot.clock.now(), category_id,
        )  # fmt: skip

    @app_commands.command(name="review", description="Review your due cards, privately, one at a time")
    @app_commands.describe(category="Only this category, e.g. immunosuppressant (leave empty for every card)")
    @app_commands.autocomplete(category=suggest_categories)
    async def review(self, interaction: discord.Interaction, category: str | None = None) -> None:
        """Show the first due card (of a category, if given)."""
        glossary = glossary_for(interaction)
        category_id: str | None = None
        if category is not None and category.strip():
            found = resolve_category(glossary, category)
            if isinstance(found, str):
                await interaction.response.send_message(found, ephemeral=True)
                return
            category_id = found.id

        async def remember_then_position() -> ReviewPosition:
            repository = self.flashcards.repository
            await repository.set_review_filter(interaction.user.id, interaction.guild_id or 0, category_id)
            return await self._position(interaction, category_id)

        position = await in_time(interaction, remember_then_position(), Acknowledge.PRIVATE)
        await respond(interaction, **front(glossary, position), ephemeral=True)

    @app_commands.command(name="status", description="Your cards: due today, learned, total")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the user's deck status in this server."""
        position = await self._position(interaction, None)
        status = position.status
        local = self.bot.clock.now().astimezone(ZoneInfo(position.timezone))
        builder = EmbedBuilder("Your flashcards")
        builder.field("Due today", str(status.due_today), inline=True)
        builder.field("Learned", str(status.learned), inline=True)
        builder.field("Total", str(status.total), inline=True)
        if status.due_today == 0 and status.next_due is not None:
            builder.field("Next due", f"{status.next_due:%a %d %b %Y}")
        builder.footer(
            f"Your day: {position.timezone} (it is {local:%a %d %b, %H:%M} there). Change it with /flashcards timezone."
        )
        await interaction.response.send_message(embed=builder.build(), ephemeral=True)

    async def timezone_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete IANA timezone names."""
        return [app_commands.Choice(name=name, value=name) for name in suggest_timezones(current)]

    @app_commands.command(name="timezone", description="The timezone your flashcard days follow")
    @app_commands.describe(zone="e.g. Europe/London (pick from the list); leave empty to see yours")
    @app_commands.autocomplete(zone=timezone_choices)
    async def timezone(self, interaction: discord.Interaction, zone: str | None = None) -> None:
        """Show or set the user's timezone (cards fall due at midnight there)."""
        repository = self.flashcards.repository
        if zone is None or not zone.strip():
            current = await repository.timezone(interaction.user.id)
            await interaction.response.send_message(
                f"Your flashcard days follow **{current}**. Set another with `/flashcards timezone zone:`.",
                ephemeral=True,
            )
            return
        try:
            name = parse_timezone(zone)
        except ValueError as error:
            await interaction.response.send_message(str(error), ephemeral=True)
            return
        now = self.bot.clock.now()
        await in_time(interaction, repository.set_timezone(interaction.user.id, name, now), Acknowledge.PRIVATE)
        local = now.astimezone(ZoneInfo(name))
        await respond(
            interaction,
            content=f"Your flashcard days now follow **{name}**: cards fall due at midnight there "
            f"(it is {local:%a %d %b, %H:%M} there now).",
            ephemeral=True,
        )

    @app_commands.command(
        name="settings", description="How well you want to remember, and whether quizzes update cards"
    )
    @app_commands.describe(
        retention=f"Desired retention {MIN_RETENTION:.2f}–{MAX_RETENTION:.2f} (default {DEFAULT_RETENTION:.2f}): "
        "higher means more reviews",
        quiz_cards="Whether your quiz answers update your flashcards (default: on)",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        retention: app_commands.Range[float, MIN_RETENTION, MAX_RETENTION] | None = None,
        quiz_cards: bool | None = None,
    ) -> None:
        """Show or change the member's desired retention and quiz feeding, with what the retention costs."""
        repository = self.flashcards.repository
        user_id, now = interaction.user.id, self.bot.clock.now()
        if retention is not None and not MIN_RETENTION <= retention <= MAX_RETENTION:
            await interaction.response.send_message(
                f"Retention is a share of cards you want to recall when they come back: "
                f"{MIN_RETENTION:.2f} to {MAX_RETENTION:.2f} (e.g. 0.90). Nothing was changed.",
                ephemeral=True,
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if retention is not None:
            await repository.set_retention(user_id, round(retention, 2), now)
        if quiz_cards is not None:
            await repository.set_quiz_cards(user_id, quiz_cards, now)
        member = await repository.member(user_id)
        cards = len(deck_of(interaction))
        mine, default = await asyncio.gather(
            asyncio.to_thread(estimate_daily_reviews, cards, member.retention),
            asyncio.to_thread(estimate_daily_reviews, cards, DEFAULT_RETENTION),
        )
        changed_retention = member.retention != DEFAULT_RETENTION
        changed = "Saved. " if retention is not None or quiz_cards is not None else ""
        builder = EmbedBuilder("Your flashcard settings", f"{changed}Change them with `/flashcards settings`.")
        builder.field(
            "Desired retention",
            f"**{member.retention:.2f}**: cards come back when FSRS expects you to recall {member.retention:.0%} "
            f"of them. With this server's {cards} cards that is about **{mine:.1f} reviews a day** over a year"
            + (f" (about {default:.1f} at the default {DEFAULT_RETENTION:.2f})." if changed_retention else "."),
        )  # fmt: skip
        builder.field(
            "Quizzes update your cards",
            "On: a wrong quiz answer brings that card back soon, a right one counts as a review."
            if member.quizzes_feed_cards
            else "Off: quizzes leave your cards alone.",
        )
        builder.footer(f"Scheduling: FSRS-6 with default parameters. Your day: {member.timezone}.")
        await interaction.followup.send(embed=builder.build(), ephemeral=True)


def deck_of(interaction: discord.Interaction) -> list[Card]:
    """The interaction's user's deck where they are."""
    client = cast("ImmunoBot", interaction.client)
    return deck(glossary_for(interaction), client.catalog.shipped, interaction.guild_id)


async def setup(bot: ImmunoBot) -> None:
    """Load the extension and its persistent buttons."""
    bot.add_dynamic_items(FlashcardButton)
    await bot.add_cog(FlashcardsCog(bot))
