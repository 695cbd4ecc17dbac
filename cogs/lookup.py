"""/define and /search: look a concept up by (loosely typed) name or question, or search every definition."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import SearchPage
from bot.glossary import Glossary
from bot.markup import EMPHASIS_END, EMPHASIS_START
from bot.models import Concept
from bot.resolver import Resolution
from bot.search import STOP_WORDS, tokens
from bot.usage import LOOKUPS_PER_MINUTE
from cogs._components import ConceptButton, PageButton, concept_reply, glossary_for
from cogs._render import EmbedBuilder, choice_label, clip, marked, match_note, plain

if TYPE_CHECKING:
    from bot.client import ImmunoBot

DID_YOU_MEAN = 5
DID_YOU_MEAN_FLOOR = 70.0
"""Look-alikes scoring below this are not offered as "did you mean" (a shared fragment, not a resemblance)."""


def quoted(text: str, limit: int = 80) -> str:
    """Echo user text safely: one line, clipped, markdown and mentions neutralised."""
    return plain(clip(" ".join(text.split()), limit))


async def suggest_terms(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete from the same resolver and ranking as the lookup itself."""
    suggestions = glossary_for(interaction).resolver.suggest(current)
    return [
        app_commands.Choice(
            name=clip(f"{s.name} (example: {s.matched})", 100) if s.example else choice_label(s.name, s.matched),
            value=s.name,
        )
        for s in suggestions
    ]


SEARCH_PAGE_SIZE = 10
SEARCH_KEY_UNITS = 80
"""How much of a /search query its page buttons carry (UTF-16 units; custom ids hold 100): the search always
runs on this much, so every page answers the same query."""


def search_key(text: str) -> str:
    """The query as the page buttons carry it: one line, cut to fit a custom id."""
    key = " ".join(text.split())
    while len(key.encode("utf-16-le")) // 2 > SEARCH_KEY_UNITS:
        key = key[:-1]
    return key


def search_reply(glossary: Glossary, results: SearchPage, key: str, typed: str) -> dict[str, Any]:
    """The embed of one page of /search results, with buttons to open the hits and to turn pages."""
    lines = []
    view = discord.ui.View(timeout=None)
    for number, hit in enumerate(results.hits, start=results.first):
        concept = glossary.get(hit.concept_id)
        if concept is None:
            continue
        snippet = clip(" ".join(hit.snippet.split()), 220)
        if snippet.count(EMPHASIS_START) > snippet.count(EMPHASIS_END):  # the clip cut a highlight
            snippet += EMPHASIS_END
        lines.append(f"**{number}. {plain(concept.name)}** — {marked(snippet)}")
        if len(view.children) < 5:
            view.add_item(ConceptButton(concept.id, concept.name, public=False))
    left_out = results.query.cut or key != " ".join(typed.split())
    note = f"Searched for {plain(results.query.shown())}" + (" (the rest was left out)." if left_out else ".")
    if results.query.corrections:
        fixed = ", ".join(f"{plain(wrong)} → **{plain(right)}**" for wrong, right in results.query.corrections)
        note = f"Corrected {fixed}. {note}"
    last = results.first + len(results.hits) - 1
    embed = EmbedBuilder(f"Search: {quoted(typed, 200)}", "\n".join([f"*{note}*", "", *lines])).footer(
        f"{results.first}–{last} of {results.total}, best first · page {results.page + 1} of {results.pages}. "
        "Buttons show an entry to you only."
    )
    pager = SearchPageButton.pager(key, results.page, results.pages)
    for item in pager.children if pager else ():
        item.row = 1
        view.add_item(item)
    return {"embed": embed.build(), "view": view}


class SearchPageButton(PageButton, template=r"search:(?P<key>.+):(?P<page>\d{1,3})"):
    """Turn a /search reply's page in place (the query travels in the custom id)."""

    PREFIX = "search"

    async def callback(self, interaction: discord.Interaction) -> None:
        """Run the same search again and show the requested page."""
        client = cast("ImmunoBot", interaction.client)
        results = await client.catalog.search_page(self.key, interaction.guild_id, self.page, SEARCH_PAGE_SIZE)
        if not results.hits:
            await interaction.response.send_message(
                f"Nothing in this server's glossary mentions “{quoted(self.key)}” any more.", ephemeral=True
            )
            return
        await interaction.response.edit_message(**search_reply(glossary_for(interaction), results, self.key, self.key))


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
                how = match_note(resolution.subject, resolution.match)
                await interaction.response.send_message(**concept_reply(glossary, concept, how=how))
                if interaction.guild_id is not None:  # in memory; written in batches for /top
                    self.bot.usage.record(interaction.guild_id, concept.id, interaction.user.id)
                return
        hidden = await self.hidden_entry(interaction, term)
        if hidden is not None:
            await interaction.response.send_message(
                f"“{plain(hidden.name)}” is hidden in this server — `/concept unhide` shows it again.", ephemeral=True
            )
            return
        await interaction.response.send_message(**await self.no_match_reply(interaction, resolution), ephemeral=True)

    async def no_match_reply(self, interaction: discord.Interaction, resolution: Resolution) -> dict[str, Any]:
        """Look-alike names ("did you mean") and the entries whose text mentions the term, as buttons; or a plain
        "no entry" when there is neither."""
        glossary = glossary_for(interaction)
        subject = resolution.subject or resolution.query
        words = tokens(subject)
        meaningless = all(word in STOP_WORDS for word in words)  # "of the": look-alikes of it are noise
        choices = (
            []
            if meaningless
            else [s for s in resolution.suggestions if s.id in glossary and s.score >= DID_YOU_MEAN_FLOOR][
                :DID_YOU_MEAN
            ]
        )
        offered = {s.id for s in choices}
        mentions = [
            glossary.concepts[hit.concept_id]
            for hit in await self.bot.catalog.mentions(subject, interaction.guild_id)
            if hit.concept_id not in offered and hit.concept_id in glossary
        ][:DID_YOU_MEAN]
        if not choices and not mentions:
            return {
                "content": f"No entry matches “{quoted(resolution.query)}”. Try `/search` to search inside the "
                "definitions, or `/category` to browse."
            }
        view = discord.ui.View(timeout=None)
        lines = [f"No entry is {'clearly' if choices else 'named'} “{quoted(resolution.query)}”."]
        if choices:
            lines.append("Did you mean (grey buttons): " + ", ".join(plain(s.name) for s in choices) + "?")
            for suggestion in choices:
                label = f"{suggestion.name} (example: {suggestion.matched})" if suggestion.example else suggestion.name
                view.add_item(ConceptButton(suggestion.id, label, public=True))
        if mentions:
            colour = " (blue buttons)" if choices else ""
            named = ", ".join(plain(c.name) for c in mentions)
            lines.append(f"Entries that mention “{quoted(subject)}”{colour}: {named}.")
            for concept in mentions:
                button = ConceptButton(concept.id, concept.name, public=True, style=discord.ButtonStyle.primary)
                button.row = 1
                view.add_item(button)
        return {"content": "\n".join(lines), "view": view}

    @app_commands.command(name="search", description="Search names, summaries and definitions for words")
    @app_commands.describe(text='Words to look for, e.g. calcineurin, bladder cancer, "tumour cell" (a phrase)')
    async def search(self, interaction: discord.Interaction, text: str) -> None:
        """Rank entries by full-text relevance and list them, ten per page, with the passage that matched."""
        if await self.too_fast(interaction):
            return
        key = search_key(text)
        results = await self.bot.catalog.search_page(key, interaction.guild_id, 0, SEARCH_PAGE_SIZE)
        if not results.hits:
            await interaction.response.send_message(
                f"Nothing in the glossary mentions “{quoted(text)}”. `/define` also understands names, "
                "abbreviations and typos.",
                ephemeral=True,
            )
            return
        await interaction.response.send_message(**search_reply(glossary_for(interaction), results, key, text))


async def setup(bot: ImmunoBot) -> None:
    """Load the extension and its persistent page buttons."""
    bot.add_dynamic_items(SearchPageButton)
    await bot.add_cog(Lookup(bot))
