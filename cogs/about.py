"""/about: what the bot is, where its content comes from, and what it is not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._components import glossary_for
from cogs._render import STUDY_NOTICE, EmbedBuilder

if TYPE_CHECKING:
    from bot.client import ImmunoBot

DESCRIPTION = (
    "Immunobot is a study companion for groups learning immunotherapy: look concepts up with `/define` "
    "(typos, plurals, British spellings and abbreviations are fine), browse with `/category` and `/stages`, "
    "and search the definitions with `/search`."
)


class About(commands.Cog):
    """Information about the bot."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot

    @app_commands.command(name="about", description="What Immunobot is, its sources, and its limits")
    async def about(self, interaction: discord.Interaction) -> None:
        """Describe the bot, its sources (with their caveats) and the study-only notice."""
        glossary = glossary_for(interaction)
        builder = EmbedBuilder("About Immunobot", DESCRIPTION)
        for document in glossary.documents.values():
            text = document.description + (f"\n⚠️ {document.caveat}" if document.caveat else "")
            builder.field(f"Source: {document.title}", text)
        builder.field(
            "How the content is made",
            f"{len(glossary)} entries written in our own words from the sources, corrected where the sources "
            "are wrong (each correction is a visible note), with editorial additions marked as such.",
        )
        builder.field("Important", f"**{STUDY_NOTICE}** Do not use it to make decisions about treatment.")
        builder.footer(f"Immunobot {self.bot.version} · discord.py {discord.__version__}")
        await interaction.response.send_message(embed=builder.build())


async def setup(bot: ImmunoBot) -> None:
    """Load the extension."""
    await bot.add_cog(About(bot))
