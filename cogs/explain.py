"""The "Explain terms" message context menu: the glossary concepts a message mentions, privately, with buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.glossary import Glossary
from bot.resolver import Mention
from cogs._components import ConceptButton, glossary_for
from cogs._render import STUDY_NOTICE, EmbedBuilder, clip, plain

if TYPE_CHECKING:
    from bot.client import ImmunoBot

MENU_NAME = "Explain terms"
MAX_EXPLAINED = 15
"""Concepts listed per message (the buttons of a reply hold 25; a long list stops helping well before)."""
BUTTONS = 15


def message_text(message: discord.Message) -> str:
    """Everything a reader sees as text in a message: its content and its embeds' titles, text and fields."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{field.name}\n{field.value}" for field in embed.fields]
    return "\n".join(part for part in parts if part)


def distinct_mentions(glossary: Glossary, text: str) -> list[Mention]:
    """The first mention of each concept the text names, in the order they appear."""
    seen: set[str] = set()
    found: list[Mention] = []
    for mention in glossary.mentions(text):
        if mention.suggestion.id not in seen:
            seen.add(mention.suggestion.id)
            found.append(mention)
    return found


def explain_reply(glossary: Glossary, text: str) -> dict[str, object]:
    """The private answer: each concept's name and summary (and how the message wrote it), buttons to open them."""
    mentions = distinct_mentions(glossary, text)
    if not mentions:
        return {
            "content": "I found no glossary terms in that message. `/search` looks inside the definitions, "
            "`/define` looks up one term."
        }
    lines = []
    view = discord.ui.View(timeout=None)
    for mention in mentions[:MAX_EXPLAINED]:
        concept = glossary.concepts[mention.suggestion.id]
        written = " ".join(mention.text.split())
        how = ""
        if mention.suggestion.example:
            how = f" (“{plain(clip(written, 60))}” is an example)"
        elif written.casefold() != concept.name.casefold():
            how = f" (“{plain(clip(written, 60))}”)"
        lines.append(f"**{plain(concept.name)}**{how} — {plain(concept.summary)}")
        if len(view.children) < BUTTONS:
            view.add_item(ConceptButton(concept.id, concept.name, public=False))
    more = len(mentions) - MAX_EXPLAINED
    footer = f"{len(mentions)} term(s) found"
    if more > 0:
        footer += f", the first {MAX_EXPLAINED} shown"
    builder = EmbedBuilder("Terms in this message", "\n".join(lines))
    builder.footer(f"{footer}. Buttons open an entry for you only. {STUDY_NOTICE}")
    return {"embed": builder.build(), "view": view}


class Explain(commands.Cog):
    """Explaining the terms of a message (right-click a message → Apps → Explain terms)."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.explain)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the context menu out of the tree with the cog."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def explain(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Find the glossary's concepts in the message and answer privately."""
        reply = explain_reply(glossary_for(interaction), message_text(message))
        await interaction.response.send_message(**reply, ephemeral=True)  # type: ignore[arg-type]


async def setup(bot: ImmunoBot) -> None:
    """Load the extension."""
    await bot.add_cog(Explain(bot))
