"""/category and /stages: browse the classification, the preparation tree and the kidney-disease protocol."""

from __future__ import annotations

import io
import re
from functools import lru_cache
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.diagram import stages_diagram
from bot.glossary import Glossary
from bot.models import Concept
from cogs._components import MISSING, ConceptButton, PageButton, concept_reply, glossary_for
from cogs._render import (
    FIELD_COUNT_LIMIT,
    FIELD_VALUE_LIMIT,
    WARNING_COLOUR,
    EmbedBuilder,
    choice_label,
    clip,
    listing,
    plain,
)
from cogs.lookup import quoted

if TYPE_CHECKING:
    from bot.client import ImmunoBot

PAGE_SIZE = 8
PROTOCOL_ID = "kidney-disease-immunotherapy-protocol"
DIAGRAM_NAME = "stages.png"


def tree_lines(glossary: Glossary, concept: Concept, depth: int = 0) -> list[str]:
    """Render the preparation tree below `concept` as indented lines."""
    lines = [f"{'　' * depth}{'•' if depth else '▸'} {plain(concept.name)}"]
    for child in glossary.children(concept.id):
        lines += tree_lines(glossary, child, depth + 1)
    return lines


OVERVIEW_KEY = "-all"
"""The page buttons' key for the overview (no concept id starts with a hyphen)."""
OVERVIEW_PAGE_CHARS = 4_000
"""Field text per overview page: under the embed's 6,000 characters with the title, description and footer."""


def _chunks(title: str, lines: list[str]) -> list[tuple[str, str]]:
    """Fields of at most 1,024 characters holding `lines` whole, the later ones titled "(continued)"."""
    fields: list[tuple[str, str]] = []
    chunk: list[str] = []
    for line in lines:
        line = clip(line, FIELD_VALUE_LIMIT)
        if chunk and len("\n".join([*chunk, line])) > FIELD_VALUE_LIMIT:
            fields.append((title if not fields else f"{title} (continued)", "\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        fields.append((title if not fields else f"{title} (continued)", "\n".join(chunk)))
    return fields


def overview_pages(glossary: Glossary) -> list[list[tuple[str, str]]]:
    """The classification axes with their classes, then the whole preparation tree, as pages of fields: nothing
    is cut, however many entries a server adds."""
    fields: list[tuple[str, str]] = []
    for axis, classes in glossary.axes():
        fields += _chunks(axis.name, [f"• {plain(c.name)}" for c in classes])
    for root in glossary.tree_roots():
        fields += _chunks("Preparation tree", tree_lines(glossary, root))
    pages: list[list[tuple[str, str]]] = [[]]
    for name, value in fields:
        used = sum(len(n) + len(v) for n, v in pages[-1])
        if pages[-1] and (used + len(name) + len(value) > OVERVIEW_PAGE_CHARS or len(pages[-1]) >= FIELD_COUNT_LIMIT):
            pages.append([])
        pages[-1].append((name, value))
    return pages


def overview_page(glossary: Glossary, page: int = 0) -> tuple[discord.Embed, discord.ui.View | None]:
    """One page of the overview, with previous/next buttons when it takes more than one."""
    pages = overview_pages(glossary)
    page = min(max(page, 0), len(pages) - 1)
    builder = EmbedBuilder("Categories", "How the sources classify immunotherapy. Use `/category name:` to list one.")
    for name, value in pages[page]:
        builder.field(name, value)
    footer = "For study, not medical advice."
    if len(pages) > 1:
        footer = f"Page {page + 1} of {len(pages)}. {footer}"
    return builder.footer(footer).build(), CategoryPageButton.pager(OVERVIEW_KEY, page, len(pages))


def category_page(
    glossary: Glossary, concept: Concept, page: int, *, note: str = ""
) -> tuple[discord.Embed, discord.ui.View | None]:
    """One page of a category's members, with previous/next buttons when there is more than one page."""
    members = glossary.members(concept.id)
    pages = max(1, -(-len(members) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = members[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    path = " › ".join(c.name for c in glossary.category_path(concept.id))  # footers show no markdown
    builder = EmbedBuilder(plain(concept.name), f"{note}{plain(concept.summary)}\n\n{listing(shown)}")
    builder.footer(f"{path} · {len(members)} entries · page {page + 1} of {pages}")
    return builder.build(), CategoryPageButton.pager(concept.id, page, pages)


class CategoryPageButton(PageButton, template=r"category:(?P<key>[a-z0-9-]+):(?P<page>\d{1,3})"):
    """Turn a category listing's (or the overview's) page in place."""

    PREFIX = "category"

    async def callback(self, interaction: discord.Interaction) -> None:
        """Replace the message with the requested page."""
        glossary = glossary_for(interaction)
        if self.key == OVERVIEW_KEY:
            embed, view = overview_page(glossary, self.page)
            await interaction.response.edit_message(embed=embed, view=view)
            return
        concept = glossary.get(self.key)
        if concept is None:
            await interaction.response.send_message(MISSING, ephemeral=True)
            return
        embed, view = category_page(glossary, concept, self.page)
        await interaction.response.edit_message(embed=embed, view=view)


@lru_cache(maxsize=4)
def _diagram(title: str, stages: tuple[tuple[str, str], ...], caption: str) -> bytes:
    return stages_diagram(title, stages, caption)


def category_ids(glossary: Glossary) -> set[str]:
    """Ids of the entries that group others."""
    return {concept_id for concept_id in glossary.concepts if glossary.is_category(concept_id)}


def resolve_category(glossary: Glossary, text: str) -> Concept | str:
    """The category `text` clearly names, or a sentence telling the user what to try instead."""
    resolution = glossary.resolver.resolve(text, within=category_ids(glossary))
    concept = glossary.get(resolution.match.id) if resolution.match else None
    if concept is not None:
        return concept
    options = ", ".join(plain(s.name) for s in resolution.suggestions[:5])
    hint = f" Did you mean: {options}?" if options else " Run `/category` to see them all."
    return f"No category matches “{quoted(text)}”.{hint}"


_STAGE_NUMBER = re.compile(r"^\s*(?:stage|step|no\.?|number)?\s*#?\s*(\d{1,3})\s*[.)]?\s*$", re.IGNORECASE)


def stage_number(text: str) -> int | None:
    """The stage number `text` names ("2", "stage 3", "#4"), or None when it names a stage some other way."""
    found = _STAGE_NUMBER.match(text)
    return int(found[1]) if found else None


def stage_ids(glossary: Glossary) -> set[str]:
    """Ids of the protocol's stages."""
    return {concept.id for concept in glossary.stages(PROTOCOL_ID)}


async def suggest_categories(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete categories only, in the resolver's ranking."""
    glossary = glossary_for(interaction)
    found = glossary.resolver.suggest(current, within=category_ids(glossary))
    return [app_commands.Choice(name=choice_label(s.name, s.matched), value=s.name) for s in found]


async def suggest_stages(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete the protocol's stages, in order when nothing is typed."""
    glossary = glossary_for(interaction)
    ordered = glossary.stages(PROTOCOL_ID)
    number = stage_number(current)
    if not current.strip() or number is not None:
        return [
            app_commands.Choice(name=clip(f"{c.stage.order}. {c.name}" if c.stage else c.name, 100), value=c.name)
            for c in ordered
            if number is None or (c.stage and c.stage.order == number)
        ]
    found = glossary.resolver.suggest(current, within=stage_ids(glossary))
    return [app_commands.Choice(name=choice_label(s.name, s.matched), value=s.name) for s in found]


class Browse(commands.Cog):
    """Browsing the glossary's structure."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot

    @app_commands.command(name="category", description="List the classification axes, or the members of one category")
    @app_commands.describe(name="A category, e.g. cell therapy, immunosuppressant, passive immunotherapy")
    @app_commands.autocomplete(name=suggest_categories)
    async def category(self, interaction: discord.Interaction, name: str | None = None) -> None:
        """Show the overview, a category's members, or where a non-category entry belongs."""
        glossary = glossary_for(interaction)
        if name is None or not name.strip():
            embed, view = overview_page(glossary)
            await interaction.response.send_message(embed=embed, **({"view": view} if view else {}))
            return
        resolution = glossary.resolver.resolve(name)
        concept = glossary.get(resolution.match.id) if resolution.match else None
        note = ""
        if concept is not None and not glossary.is_category(concept.id):
            parent = glossary.get(concept.parent) if concept.parent else None
            if parent is None:
                await interaction.response.send_message(
                    f"**{plain(concept.name)}** is an entry, not a category. Use `/define` to read it.", ephemeral=True
                )
                return
            note = f"*{plain(concept.name)} is an entry in this category.*\n\n"
            concept = parent
        if concept is None:
            category = resolve_category(glossary, name)
            if isinstance(category, str):
                await interaction.response.send_message(category, ephemeral=True)
                return
            concept = category
        embed, view = category_page(glossary, concept, 0, note=note)
        await interaction.response.send_message(embed=embed, **({"view": view} if view else {}))

    @app_commands.command(name="stages", description="The kidney-disease protocol's stages in order, with a diagram")
    @app_commands.describe(stage="Show one stage by name or number, e.g. immune blocking, 2, stage 3")
    @app_commands.autocomplete(stage=suggest_stages)
    async def stages(self, interaction: discord.Interaction, stage: str | None = None) -> None:
        """Show every stage with the caveat and a diagram, or one stage in full."""
        glossary = glossary_for(interaction)
        protocol = glossary.get(PROTOCOL_ID)
        ordered = glossary.stages(PROTOCOL_ID)
        if protocol is None or not ordered:
            await interaction.response.send_message("This server's glossary has no protocol stages.", ephemeral=True)
            return
        if stage is not None and stage.strip():
            names = ", ".join(f"{c.stage.order if c.stage else '?'}. {plain(c.name)}" for c in ordered)
            number = stage_number(stage)
            if number is not None:
                numbered = next((c for c in ordered if c.stage and c.stage.order == number), None)
                if numbered is None:
                    await interaction.response.send_message(
                        f"There is no stage {number}. The stages are: {names}.", ephemeral=True
                    )
                    return
                await interaction.response.send_message(**concept_reply(glossary, numbered))
                return
            resolution = glossary.resolver.resolve(stage, within=stage_ids(glossary))
            if resolution.match is None:
                await interaction.response.send_message(
                    f"“{quoted(stage)}” is not one of the stages. They are: {names}.", ephemeral=True
                )
                return
            concept = glossary.get(resolution.match.id)
            if concept is not None:
                await interaction.response.send_message(**concept_reply(glossary, concept))
                return
        caveat = next((note for note in protocol.notes if "clinic" in note.lower()), protocol.summary)
        lines = "\n".join(
            f"**{c.stage.order if c.stage else '?'}. {plain(c.name)}** — {plain(c.summary)}" for c in ordered
        )
        builder = EmbedBuilder(plain(protocol.name), f"{lines}\n\n⚠️ {plain(caveat)}", colour=WARNING_COLOUR)
        builder.footer("Buttons show a stage's full text to you only. For study, not medical advice.")
        embed = builder.build()
        embed.set_image(url=f"attachment://{DIAGRAM_NAME}")
        png = _diagram(
            protocol.name,
            tuple((c.name, c.summary) for c in ordered),
            clip("One clinic's description — not a clinical guideline.", 90),
        )
        view = discord.ui.View(timeout=None)
        for concept in ordered[:25]:
            view.add_item(
                ConceptButton(
                    concept.id, f"{concept.stage.order if concept.stage else ''}. {concept.name}", public=False
                )
            )
        await interaction.response.send_message(
            embed=embed, view=view, file=discord.File(io.BytesIO(png), filename=DIAGRAM_NAME)
        )


async def setup(bot: ImmunoBot) -> None:
    """Load the extension and its persistent buttons."""
    bot.add_dynamic_items(CategoryPageButton)
    await bot.add_cog(Browse(bot))
