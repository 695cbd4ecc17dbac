"""/weak: what a member (by FSRS recall today) or the server (by quiz accuracy) keeps missing, with buttons to
read those entries privately."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.flashcards import Flashcards, local_day
from bot.glossary import Glossary
from bot.scores import WEAK_DAYS, WEAK_MIN_ANSWERS, ScoreRepository
from cogs._components import GUILD_ONLY, ConceptButton, glossary_for
from cogs._render import STUDY_NOTICE, EmbedBuilder, plain

if TYPE_CHECKING:
    from bot.client import ImmunoBot

SHOWN = 10
BUTTONS = 5


class Weak(commands.Cog):
    """The concepts with the lowest recall."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.flashcards = Flashcards(bot.store)

    @app_commands.command(name="weak", description="The concepts you (or this server) recall least, to review")
    @app_commands.describe(scope="me: your cards by today's recall estimate; server: quiz accuracy, last 30 days")
    async def weak(self, interaction: discord.Interaction, scope: Literal["me", "server"] = "me") -> None:
        """List the weakest concepts with buttons to read the first few."""
        if scope == "server":
            await self._server(interaction)
        else:
            await self._member(interaction)

    async def _member(self, interaction: discord.Interaction) -> None:
        glossary = glossary_for(interaction)
        now = self.bot.clock.now()
        recall = await self.flashcards.recall(
            interaction.user.id, glossary, self.bot.catalog.shipped, interaction.guild_id, now
        )
        if not recall.weakest:
            await interaction.response.send_message(
                "You have no cards yet here: review some with `/flashcards review`, or play a `/quiz start` "
                "(quiz answers become cards too).",
                ephemeral=True,
            )
            return
        member = await self.flashcards.repository.member(interaction.user.id)
        states = await self.flashcards.repository.states(interaction.user.id, {0, interaction.guild_id or 0})
        today = local_day(now, member.timezone)
        lines = []
        shown = recall.weakest[:SHOWN]
        for place, (card, chance) in enumerate(shown, start=1):
            due_on = states[card].due_on(member.timezone)
            when = "due today" if due_on <= today else f"due {due_on:%a %d %b}"
            name = plain(glossary.concepts[card.concept_id].name)
            how = "still learning (new or missed lately)" if states[card].learning else f"recall {chance:.0%}"
            lines.append(f"**{place}.** {name} — {how} · {when}")
        builder = EmbedBuilder("Your weakest cards", "\n".join(lines))
        builder.footer(
            f"FSRS's estimate of your chance to recall each card today ({recall.cards} cards). Buttons show an entry "
            f"to you only; `/flashcards review` grades the due ones. {STUDY_NOTICE}"
        )
        await interaction.response.send_message(
            embed=builder.build(), view=buttons(glossary, [card.concept_id for card, _ in shown]), ephemeral=True
        )

    async def _server(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        glossary = glossary_for(interaction)
        since = self.bot.clock.now() - timedelta(days=WEAK_DAYS)
        scores = [
            s for s in await ScoreRepository(self.bot.store).weak_concepts(interaction.guild_id, since)
            if s.concept_id in glossary
        ][:SHOWN]  # fmt: skip
        if not scores:
            await interaction.response.send_message(
                f"Nobody has missed a concept in this server's quizzes over the last {WEAK_DAYS} days (a concept "
                f"counts once it has been answered {WEAK_MIN_ANSWERS} times). Start one with `/quiz start`.",
                ephemeral=True,
            )
            return
        lines = [
            f"**{place}.** {plain(glossary.concepts[s.concept_id].name)} — {s.correct} of {s.answered} right "
            f"({s.accuracy:.0%})"
            for place, s in enumerate(scores, start=1)
        ]
        builder = EmbedBuilder("What this server keeps missing", "\n".join(lines))
        builder.footer(
            f"Quiz answers in this server over the last {WEAK_DAYS} days; concepts answered at least "
            f"{WEAK_MIN_ANSWERS} times. Buttons show an entry to you only. {STUDY_NOTICE}"
        )
        await interaction.response.send_message(
            embed=builder.build(), view=buttons(glossary, [s.concept_id for s in scores])
        )


def buttons(glossary: Glossary, concept_ids: list[str]) -> discord.ui.View:
    """Private "read it" buttons for the first few concepts."""
    view = discord.ui.View(timeout=None)
    for concept_id in concept_ids[:BUTTONS]:
        view.add_item(ConceptButton(concept_id, glossary.concepts[concept_id].name, public=False))
    return view


async def setup(bot: ImmunoBot) -> None:
    """Load the extension."""
    await bot.add_cog(Weak(bot))
