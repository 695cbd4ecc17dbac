"""/leaderboard, /stats and /top: quiz scores and this week's most looked-up concepts, per server."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.flashcards import Flashcards
from bot.glossary import Glossary
from bot.scores import ScoreRepository, places, rank
from cogs._components import GUILD_ONLY, Acknowledge, ConceptButton, PageButton, glossary_for, in_time, respond
from cogs._render import STUDY_NOTICE, EmbedBuilder, plain
from cogs.lookup import quoted

if TYPE_CHECKING:
    from bot.client import ImmunoBot

PAGE_SIZE = 10
TOP_READ = 50
"""Most looked-up entries read for /top: enough to tell how many share the last place shown."""
WEEK = timedelta(days=7)
PERIODS = {"week": "this week (last 7 days)", "all": "all time"}


async def leaderboard_page(bot: ImmunoBot, guild_id: int, period: str, page: int) -> dict[str, Any] | None:
    """One page of the guild's leaderboard with previous/next buttons; None when nobody has scored."""
    since = bot.clock.now() - WEEK if period == "week" else None
    ranked = rank(await ScoreRepository(bot.store).standings(guild_id, since))
    if not ranked:
        return None
    pages = -(-len(ranked) // PAGE_SIZE)
    page = min(max(page, 0), pages - 1)
    lines = []
    for entry in ranked[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        place = f"={entry.place}" if entry.tied else str(entry.place)
        s = entry.standing
        point = "point" if s.points == 1 else "points"
        lines.append(f"**{place}.** {quoted(s.name, 40)} — {s.points} {point} ({s.answered} answered)")
    builder = EmbedBuilder(f"Quiz leaderboard — {PERIODS[period]}", "\n".join(lines))
    builder.footer(f"Page {page + 1} of {pages} · a point is a correct answer · = marks a shared place")
    reply: dict[str, Any] = {"embed": builder.build()}
    view = LeaderboardPageButton.pager(period, page, pages)
    if view is not None:
        reply["view"] = view
    return reply


class LeaderboardPageButton(PageButton, template=r"leaderboard:(?P<key>week|all):(?P<page>\d{1,4})"):
    """Turn a leaderboard's page in place (the standings are read afresh)."""

    PREFIX = "leaderboard"

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the requested page."""
        bot = cast("ImmunoBot", interaction.client)
        page = await leaderboard_page(bot, interaction.guild_id or 0, self.key, self.page)
        if page is None:
            await interaction.response.send_message("Nobody has scored in that period any more.", ephemeral=True)
            return
        await interaction.response.edit_message(**page)


def category_name(glossary: Glossary, category_id: str | None) -> str:
    """A category's name for /stats ("General" for entries outside any category)."""
    if category_id is None:
        return "General"
    concept = glossary.get(category_id)
    return concept.name if concept else category_id


class Stats(commands.Cog):
    """Scores and usage."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.flashcards = Flashcards(bot.store)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        """Every command here is about one server: in a DM, say so plainly (Discord should not offer them there)."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage(GUILD_ONLY)  # answered by the bot's error handler, privately
        return True

    @app_commands.command(name="leaderboard", description="This server's quiz leaderboard")
    @app_commands.guild_only()
    @app_commands.describe(period="This week (last 7 days) or all time (default: week)")
    async def leaderboard(self, interaction: discord.Interaction, period: Literal["week", "all"] = "week") -> None:
        """Show the first page of the leaderboard."""
        if interaction.guild_id is None:
            return
        if period not in PERIODS:
            await interaction.response.send_message("Choose week or all.", ephemeral=True)
            return
        page = await leaderboard_page(self.bot, interaction.guild_id, period, 0)
        if page is None:
            when = "this week" if period == "week" else "yet"
            await interaction.response.send_message(
                f"Nobody has answered a quiz question in this server {when}. Start a quiz with `/quiz start`.",
                ephemeral=True,
            )
            return
        await interaction.response.send_message(**page)

    @app_commands.command(
        name="stats", description="Quiz statistics and flashcard recall: accuracy, streaks, weakest areas, reviews due"
    )
    @app_commands.guild_only()
    @app_commands.describe(member="Whose statistics (default: yours)")
    async def stats(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        """Show a member's quiz statistics in this server, and their flashcards' recall estimate and reviews due."""
        if interaction.guild_id is None:
            return
        who = member or interaction.user
        figures = await ScoreRepository(self.bot.store).member_stats(interaction.guild_id, who.id)
        glossary = glossary_for(interaction)
        own = who.id == interaction.user.id  # flashcards are private: only your own /stats shows them
        recall = (
            await self.flashcards.recall(
                who.id, glossary, self.bot.catalog.shipped, interaction.guild_id, self.bot.clock.now()
            )
            if own
            else None
        )
        name = quoted(who.display_name, 40)
        if figures.answered == 0 and (recall is None or recall.cards == 0):
            cards = " or reviewed any flashcards" if own else ""
            await interaction.response.send_message(
                f"{name} has not answered any quiz questions in this server{cards} yet. "
                "Start with `/quiz start`" + (" or `/flashcards review`." if own else "."),
                ephemeral=True,
            )
            return
        quizzes = "quiz" if figures.quizzes == 1 else "quizzes"
        builder = EmbedBuilder(f"Quiz statistics: {name}")
        if figures.answered:
            builder.field("Answered", f"{figures.answered} (in {figures.quizzes} {quizzes})", inline=True)
            builder.field("Accuracy", f"{figures.accuracy:.0%} ({figures.correct} correct)", inline=True)
            builder.field("Best streak", f"{figures.best_streak} in a row (now {figures.current_streak})", inline=True)
            weakest = "\n".join(
                f"{category_name(glossary, c.category_id)} — {c.correct} of {c.answered} ({c.accuracy:.0%})"
                for c in figures.weakest
            )
            builder.field("Weakest categories", weakest or "None: every answer so far was right.")
        else:
            builder.field("Answered", "No quiz questions yet", inline=True)
        if recall is not None and recall.cards:
            cards = "card" if recall.cards == 1 else "cards"
            builder.field("Recall estimate", f"{recall.average:.0%} over {recall.cards} {cards} (FSRS)", inline=True)
            builder.field("Reviews due", f"{recall.due_today} today", inline=True)
        elif recall is not None:
            builder.field("Flashcards", "None reviewed yet: `/flashcards review`", inline=True)
        builder.footer(f"In this server only. {STUDY_NOTICE}")
        await interaction.response.send_message(embed=builder.build())

    @app_commands.command(name="top", description="The concepts looked up most in this server this week")
    @app_commands.guild_only()
    async def top(self, interaction: discord.Interaction) -> None:
        """List this week's most looked-up concepts, with buttons to read the first few."""
        if interaction.guild_id is None:
            return
        glossary = glossary_for(interaction)
        # the lookups counted since the last batch are written first, which may wait on the database
        top = await in_time(interaction, self.bot.usage.top(interaction.guild_id, TOP_READ), Acknowledge.PUBLIC)
        ranked = [t for t in top if t.concept_id in glossary]
        found = ranked[:PAGE_SIZE]
        if not found:
            nobody = "Nobody has looked anything up with `/define` in this server this week."
            await respond(interaction, content=nobody, ephemeral=True)
            return
        lines = []
        for (place, tied), item in zip(places([t.uses for t in ranked]), found, strict=False):
            label = f"={place}" if tied else str(place)
            lookups = "lookup" if item.uses == 1 else "lookups"
            lines.append(f"**{label}.** {plain(glossary.concepts[item.concept_id].name)} — {item.uses} {lookups}")
        sharing = sum(1 for t in ranked[PAGE_SIZE:] if t.uses == found[-1].uses)
        if sharing:
            more = "entry shares" if sharing == 1 else "entries share"
            lines.append(f"…and {sharing}{'+' if len(ranked) >= TOP_READ else ''} more {more} that place.")
        builder = EmbedBuilder("Most looked up this week", "\n".join(lines))
        builder.footer("/define lookups in this server over the last 7 days. Buttons show an entry to you only.")
        view = discord.ui.View(timeout=None)
        for item in found[:5]:
            view.add_item(ConceptButton(item.concept_id, glossary.concepts[item.concept_id].name, public=False))
        await respond(interaction, embed=builder.build(), view=view)


async def setup(bot: ImmunoBot) -> None:
    """Load the extension and its persistent buttons."""
    bot.add_dynamic_items(LeaderboardPageButton)
    await bot.add_cog(Stats(bot))
