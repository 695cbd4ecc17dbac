"""Rendering glossary content as Discord embeds, always within Discord's limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import discord

from bot import markup
from bot.glossary import Glossary
from bot.models import Concept, Kind
from bot.resolver import Suggestion

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELD_COUNT_LIMIT = 25
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000

STUDY_NOTICE = "For study, not medical advice."
COLOUR = discord.Colour.from_rgb(52, 101, 164)
WARNING_COLOUR = discord.Colour.from_rgb(191, 128, 0)


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters at a word boundary where possible, ending with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


@lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """Show text as written: markdown and mentions neutralised, so moderator-written text cannot restyle or ping.

    Cached: the same names and sentences are escaped for every reply, and the escaping is regex-heavy."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def marked(text: str) -> str:
    """Show core text safely: everything escaped (moderators wrote part of it), then the core's own emphasis
    markers (`bot.markup`) turned into markdown. Search snippets use the same markers for their highlights."""
    return (
        plain(text).replace(markup.EMPHASIS_START, "**").replace(markup.EMPHASIS_END, "**").replace(markup.QUOTE, "> ")
    )


def names(concepts: Iterable[Concept]) -> str:
    """Join concept names for a field."""
    return ", ".join(plain(concept.name) for concept in concepts)


class EmbedBuilder:
    """Build an embed field by field, clipping each part and stopping before the 6,000-character total."""

    def __init__(self, title: str, description: str = "", *, colour: discord.Colour = COLOUR) -> None:
        self.embed = discord.Embed(
            title=clip(title, TITLE_LIMIT), description=clip(description, DESCRIPTION_LIMIT), colour=colour
        )
        self._footer = ""

    def _used(self) -> int:
        return len(self.embed) + len(self._footer)

    def field(self, name: str, value: str, *, inline: bool = False) -> EmbedBuilder:
        """Add a field if there is room; empty values are skipped."""
        if not value.strip() or len(self.embed.fields) >= FIELD_COUNT_LIMIT:
            return self
        name = clip(name, FIELD_NAME_LIMIT)
        room = EMBED_TOTAL_LIMIT - self._used() - len(name) - len(STUDY_NOTICE) - 64
        if room < 20:
            return self
        self.embed.add_field(name=name, value=clip(value, min(FIELD_VALUE_LIMIT, room)), inline=inline)
        return self

    def long_field(self, name: str, items: Sequence[str]) -> EmbedBuilder:
        """Add items (e.g. notes) over as many fields as they need, so none is cut while there is room."""
        chunk: list[str] = []
        title = name
        for item in items:
            line = clip(item, FIELD_VALUE_LIMIT)
            if chunk and len("\n".join([*chunk, line])) > FIELD_VALUE_LIMIT:
                self.field(title, "\n".join(chunk))
                chunk, title = [], f"{name} (continued)"
            chunk.append(line)
        if chunk:
            self.field(title, "\n".join(chunk))
        return self

    def footer(self, text: str) -> EmbedBuilder:
        """Set the footer text."""
        self._footer = clip(text, FOOTER_LIMIT)
        return self

    def build(self) -> discord.Embed:
        """Return the embed, its footer clipped to whatever room is left."""
        if self._footer:
            room = EMBED_TOTAL_LIMIT - len(self.embed)
            self.embed.set_footer(text=clip(self._footer, max(1, min(FOOTER_LIMIT, room))))
        return self.embed


def source_text(glossary: Glossary, concept: Concept) -> str:
    """Say where an entry comes from: the document and section, and what goes beyond it; or that it is editorial."""
    document = glossary.documents.get(concept.source.document)
    editorial = concept.source.editorial
    if document is None:
        return f"Editorial: {plain(editorial)}" if editorial else "Editorial (beyond the source documents)"
    text = plain(document.title)
    if concept.source.section:
        text += f" — {plain(concept.source.section)}"
    if editorial:
        text += f"\nBeyond the document: {plain(editorial)}"
    return text


def match_note(typed: str, match: Suggestion) -> str | None:
    """Say how a lookup found its entry when it was not by the entry's own name: an example ("rituximab — an
    example of: Monoclonal antibody"), a corrected typo ("tacrolimis → Tacrolimus") or an alias ("Matched “MMF”").
    Plain text (footers show no markdown)."""
    typed = clip(" ".join(typed.split()), 80)
    if match.example:
        return f"{match.matched} — an example of: {match.name}"
    if not match.exact:
        named = f" ({match.name})" if match.matched.casefold() != match.name.casefold() else ""
        return f"{typed} → {match.matched}{named}"
    if match.matched.casefold() != match.name.casefold():
        return f"Matched “{match.matched}”"
    return None


def concept_embed(
    glossary: Glossary, concept: Concept, *, matched: str | None = None, how: str | None = None
) -> discord.Embed:
    """The full entry: name, summary, definition, category path, classes, aliases, related, source, notes.

    `how` (from `match_note`) says how a lookup found it, in the footer and, for an example or a corrected typo,
    above the summary too, so the reader knows the entry is not named what they typed."""
    description = f"**{plain(concept.summary)}**\n\n{plain(concept.definition)}"
    if how and not how.startswith("Matched"):
        description = f"*{plain(how)}*\n\n{description}"
    builder = EmbedBuilder(plain(concept.name), description)
    path = glossary.category_path(concept.id)
    if len(path) > 1:
        builder.field("Category", " › ".join(plain(c.name) for c in path))
    classes = glossary.lookup_many(list(concept.classification.values()))
    if classes:
        builder.field("Classification", names(classes))
    if concept.stage is not None:
        protocol = glossary.get(concept.stage.protocol)
        total = len(glossary.stages(concept.stage.protocol))
        builder.field("Stage", f"{concept.stage.order} of {total} — {plain(protocol.name) if protocol else ''}")
    if concept.kind in (Kind.AXIS, Kind.CLASS) or glossary.children(concept.id):
        builder.field("Includes", names(glossary.members(concept.id)))
    if concept.aliases:
        builder.field("Also called", ", ".join(map(plain, concept.aliases)))
    if concept.examples:
        builder.field("Examples", ", ".join(map(plain, concept.examples)))
    related = glossary.related(concept.id)
    if related:
        builder.field("Related", names(related))
    builder.field("Source", source_text(glossary, concept))
    if concept.notes:
        builder.long_field("Notes and corrections", [f"• {plain(note)}" for note in concept.notes])
    footer = STUDY_NOTICE
    if how:
        footer = f"{how}. {footer}"
    elif matched and matched.casefold() != concept.name.casefold():
        footer = f"Matched “{matched}”. {footer}"  # footers show no markdown
    return builder.footer(footer).build()


def choice_label(name: str, matched: str) -> str:
    """Label an autocomplete choice: the concept's name, with the alias that matched when it differs."""
    if matched and matched.casefold() != name.casefold():
        return clip(f"{name} ({matched})", 100)
    return clip(name, 100)


def listing(concepts: Sequence[Concept]) -> str:
    """One line per concept: name and summary."""
    return "\n".join(f"**{plain(concept.name)}** — {plain(concept.summary)}" for concept in concepts)
