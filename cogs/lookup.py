"""/define and /search: look a concept up by (loosely typed) name, or search every definition."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.markup import EMPHASIS_END, EMPHASIS_START
from bot.models import Concept
from bot.usage import LOOKUPS_PER_MINUTE
from cogs._components import ConceptButton, concept_reply, glossary_for
from cogs._render import EmbedBuilder, choice_label, clip, marked, plain

if TYPE_CHECKING:
    from bot.client import ImmunoBot

DID_YOU_MEAN = 5


def quoted(text: str, limit: int = 80) -> str:
    """Echo user text safely: one line, clipped, markdown and mentions neutralised."""
    return plain(clip(" ".join(text.split()), limit))


async def suggest_terms(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete from the same resolver and ranking as the lookup itself."""
    suggestions = glossary_for(interaction).resolver.suggest(current)
    return [app_commands.Choice(name=choice_label(s.name, s.matched), value=s.name) for s in suggestions]


class Lookup(commands.Cog):
    """Looking concepts up."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot

    async def hidden_entry(self, interaction: discord.Interaction, term: str) -> Concept | None:
        """The hidden entry a moderator's term names (members are never told an entry is hidden)."""
        hidden = self.bot.catalog.hidden_ids(interaction.guild_id)
        if not hidden:
            return None
        from cogs.moderation._access import is_moderator

        match = self.bot.catalog.complete_view(interaction.guild_id).resolver.resolve(term, within=hidden).match
        if match is None or not await is_moderator(interaction):
            return None
        return self.bot.catalog.complete_view(interaction.guild_id).get(match.id)

    async def too_fast(self, interaction: discord.Interaction) -> bool:
        """Answer (privately) a member who looks things up faster than the pace allows; say when to try again."""
        wait = self.bot.usage.pace.wait(interaction.guild_id, interaction.user.id)
        if not wait:
            return False
        await interaction.response.send_message(
            f"You are looking things up faster than {LOOKUPS_PER_MINUTE} times a minute. "
            f"Try again in {math.ceil(wait)} s.",
            ephemeral=True,
        )
        return True

    @app_commands.command(
        name="define", description="Explain an immunotherapy concept (typos and abbreviations are fine)"
    )
    @app_commands.describe(term="The concept, e.g. monoclonal antibody, MMF, tumour vaccine")
    @app_commands.autocomplete(term=suggest_terms)
    async def define(self, interaction: discord.Interaction, term: str) -> None:
        """Resolve the term again (Discord does not enforce autocomplete choices) and show the entry."""
        if await self.too_fast(interaction):
            return
        if not term.strip():
            await interaction.response.send_message(
                "Type a term to look up, for example `/define immunotherapy`.", ephemeral=True
            )
            return
        glossary = glossary_for(interaction)
        resolution = glossary.resolver.resolve(term)
        if resolution.match is not None:
            concept = glossary.get(resolution.match.id)
            if concept is not None:
                await interaction.response.send_message(**concept_reply(glossary, concept, resolution.match.matched))
                if interaction.guild_id is not None:  # in memory; written in batches for /top
                    self.bot.usage.record(interaction.guild_id, concept.id, interaction.user.id)
                return
        hidden = await self.hidden_entry(interaction, term)
        if hidden is not None:
            await interaction.response.send_message(
                f"“{plain(hidden.name)}” is hidden in this server — `/concept unhide` shows it again.", ephemeral=True
            )
            return
        choices = [s for s in resolution.suggestions if s.id in glossary][:DID_YOU_MEAN]
        if not choices:
            await interaction.response.send_message(
                f"No entry matches “{quoted(term)}”. Try `/search` to search inside the definitions, "
                "or `/category` to browse.",
                ephemeral=True,
            )
            return
        view = discord.ui.View(timeout=None)
        for suggestion in choices:
            view.add_item(ConceptButton(suggestion.id, suggestion.name, public=True))
        await interaction.response.send_message(
            f"No entry is clearly “{quoted(term)}”. Did you mean:", view=view, ephemeral=True
        )

    @app_commands.command(name="search", description="Search names, summaries and definitions for words")
    @app_commands.describe(text="Words to look for, e.g. calcineurin, bladder cancer")
    async def search(self, interaction: discord.Interaction, text: str) -> None:
        """Rank entries by full-text relevance and list them with the passage that matched."""
        if await self.too_fast(interaction):
            return
        hits = await self.bot.catalog.search(text, interaction.guild_id, limit=10)
        if not hits:
            await interaction.response.send_message(
                f"Nothing in the glossary mentions “{quoted(text)}”. `/define` also understands names, "
                "abbreviations and typos.",
                ephemeral=True,
            )
            return
        glossary = glossary_for(interaction)
        lines = []
        view = discord.ui.View(timeout=None)
        for number, hit in enumerate(hits, start=1):
            concept = glossary.get(hit.concept_id)
            if concept is None:
                continue
            snippet = clip(" ".join(hit.snippet.split()), 220)
            if snippet.count(EMPHASIS_START) > snippet.count(EMPHASIS_END):  # the clip cut a highlight
                snippet += EMPHASIS_END
            lines.append(f"**{number}. {plain(concept.name)}** — {marked(snippet)}")
            if len(view.children) < 5:
                view.add_item(ConceptButton(concept.id, concept.name, public=False))
        embed = EmbedBuilder(f"Search: {quoted(text, 200)}", "\n".join(lines)).footer(
            f"{len(lines)} result(s), best first. Buttons show an entry to you only."
        )
        await interaction.response.send_message(embed=embed.build(), view=view)


async def setup(bot: ImmunoBot) -> None:
    """Load the extension."""
    await bot.add_cog(Lookup(bot))
