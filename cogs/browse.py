"""/category and /stages: browse the classification, the preparation tree and the kidney-disease protocol."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.diagram import stages_diagram
from bot.glossary import Glossary
from bot.models import Concept
from cogs._components import MISSING, ConceptButton, PageButton, concept_reply, glossary_for
from cogs._render import WARNING_COLOUR, EmbedBuilder, choice_label, clip, listing, plain
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


def overview_embed(glossary: Glossary) -> discord.Embed:
    """The four classification axes with their classes, and the preparation tree."""
    builder = EmbedBuilder("Categories", "How the sources classify immunotherapy. Use `/category name:` to list one.")
    for axis, classes in glossary.axes():
        builder.field(axis.name, "\n".join(f"• {plain(c.name)}" for c in classes))
    for root in glossary.tree_roots():
        builder.field("Preparation tree", "\n".join(tree_lines(glossary, root)))
    return builder.footer("For study, not medical advice.").build()


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
    """Turn a category listing's page in place."""

    PREFIX = "category"

    async def callback(self, interaction: discord.Interaction) -> None:
        """Replace the message with the requested page."""
        glossary = glossary_for(interaction)
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
    if not current.strip():
        return [app_commands.Choice(name=c.name, value=c.name) for c in glossary.stages(PROTOCOL_ID)]
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
            await interaction.response.send_message(embed=overview_embed(glossary))
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
    @app_commands.describe(stage="Show one stage, e.g. immune blocking")
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
            resolution = glossary.resolver.resolve(stage, within=stage_ids(glossary))
            if resolution.match is None:
                names = ", ".join(plain(c.name) for c in ordered)
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
