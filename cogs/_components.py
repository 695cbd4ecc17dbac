"""Buttons and selects that keep working after a restart: their custom ids carry everything they need.

discord.py routes a click to a `DynamicItem` by matching its custom id against a template, so no view
has to be stored or re-registered per message.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import discord

from bot.glossary import Glossary
from bot.models import Concept
from cogs._render import clip, concept_embed

if TYPE_CHECKING:
    from bot.client import ImmunoBot

log = logging.getLogger(__name__)
T = TypeVar("T")

ID = r"(?P<id>[a-z0-9]+(?:-[a-z0-9]+)*)"
MISSING = "That entry is no longer in this server's glossary. Try /define to look it up again."
GUILD_ONLY = "This command works in a server, not in direct messages: use it in a channel of your study server."


ACKNOWLEDGE_AFTER = 2.0
"""Real seconds a write may take before its interaction is acknowledged: Discord drops an interaction whose first
response comes later than 3 s after it was sent, and the acknowledgement itself needs a round trip."""


class Acknowledge(enum.Enum):
    """How an interaction is acknowledged when its write is slow, so the answer can still come afterwards."""

    UPDATE = "update"  # a click whose answer may change its message: a deferred update (type 6), nothing shown
    PRIVATE = "private"  # "thinking…" that only the member sees, replaced by the answer
    PUBLIC = "public"  # "thinking…" in the channel, replaced by the answer


async def in_time(interaction: discord.Interaction, write: Awaitable[T], how: Acknowledge) -> T:
    """Run a write that may wait on the database; if it is not done within ACKNOWLEDGE_AFTER seconds, acknowledge
    the interaction first (as `how` says) and keep waiting. A quick write leaves the interaction unanswered, so the
    answer is given exactly as it always is; a slow one is answered with `edit_clicked`/`respond` afterwards. The
    write is never cut short: its failure (busy, full) reaches the caller, whose answer says nothing was saved."""
    task = asyncio.ensure_future(write)
    done, _ = await asyncio.wait({task}, timeout=ACKNOWLEDGE_AFTER)
    if not done and not interaction.response.is_done():
        log.info("Interaction %s: the database is slow; acknowledged before the write finished", interaction.id)
        if how is Acknowledge.UPDATE:
            await interaction.response.defer()
        else:
            await interaction.response.defer(ephemeral=how is Acknowledge.PRIVATE, thinking=True)
    return await task


async def edit_clicked(interaction: discord.Interaction, **message: Any) -> None:
    """Change the message a component is on: in the response, or after an early acknowledgement by editing it."""
    if interaction.response.is_done():
        await interaction.edit_original_response(**message)
    else:
        await interaction.response.edit_message(**message)


async def respond(interaction: discord.Interaction, *, ephemeral: bool = False, **message: Any) -> int | None:
    """Send the answer: as the response, or after an early acknowledgement as a followup (which replaces a
    "thinking…" message). Returns the id of the message sent, when Discord gives one."""
    if interaction.response.is_done():
        sent = await interaction.followup.send(ephemeral=ephemeral, wait=True, **message)
        return sent.id
    callback = await interaction.response.send_message(ephemeral=ephemeral, **message)
    return callback.message_id


def glossary_for(interaction: discord.Interaction) -> Glossary:
    """Return the glossary the interaction's guild sees."""
    client = cast("ImmunoBot", interaction.client)
    return client.catalog.view(interaction.guild_id)


def concept_view(glossary: Glossary, concept: Concept) -> discord.ui.View | None:
    """A select menu of the concept's related entries, when it has any."""
    related = glossary.related(concept.id)
    if not related:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(RelatedSelect(concept.id, related))
    return view


def concept_reply(
    glossary: Glossary, concept: Concept, matched: str | None = None, *, how: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for sending a concept: its embed and its related-entries menu."""
    reply: dict[str, Any] = {"embed": concept_embed(glossary, concept, matched=matched, how=how)}
    view = concept_view(glossary, concept)
    if view is not None:
        reply["view"] = view
    return reply


class ConceptButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"concept:(?P<mode>show|peek):{ID}"):
    """Open a concept: `show` posts it in the channel (did-you-mean), `peek` shows it only to the clicker."""

    def __init__(self, concept_id: str, label: str, *, public: bool, style: discord.ButtonStyle | None = None) -> None:
        mode = "show" if public else "peek"
        super().__init__(
            discord.ui.Button(
                label=clip(label, 80),
                style=style or discord.ButtonStyle.secondary,
                custom_id=f"concept:{mode}:{concept_id}",
            )
        )
        self.concept_id = concept_id
        self.public = public

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild the button from its custom id (after a restart too)."""
        return cls(match["id"], item.label or match["id"], public=match["mode"] == "show")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Send the concept: in the channel for did-you-mean choices, privately for peeks."""
        glossary = glossary_for(interaction)
        concept = glossary.get(self.concept_id)
        if concept is None:
            await interaction.response.send_message(MISSING, ephemeral=True)
            return
        await interaction.response.send_message(**concept_reply(glossary, concept), ephemeral=not self.public)
        if self.public and interaction.guild_id is not None:  # a did-you-mean choice completes a /define
            cast("ImmunoBot", interaction.client).usage.record(interaction.guild_id, concept.id, interaction.user.id)


class RelatedSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"concept:related:{ID}"):
    """A menu of related entries; choosing one shows it to the chooser."""

    def __init__(self, concept_id: str, related: list[Concept] | None = None) -> None:
        options = [
            discord.SelectOption(label=clip(c.name, 100), value=c.id, description=clip(c.summary, 100))
            for c in (related or [])[:25]
        ] or [discord.SelectOption(label="(none)", value="none")]
        super().__init__(
            discord.ui.Select(
                custom_id=f"concept:related:{concept_id}",
                placeholder="Related entries…",
                options=options,
                min_values=1,
                max_values=1,
            )
        )
        self.concept_id = concept_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild the menu from its custom id; the chosen value arrives with the interaction."""
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the chosen related entry to the person who chose it."""
        values = cast(dict[str, Any], interaction.data or {}).get("values") or []
        glossary = glossary_for(interaction)
        concept = glossary.get(values[0]) if values else None
        if concept is None:
            await interaction.response.send_message(MISSING, ephemeral=True)
            return
        await interaction.response.send_message(**concept_reply(glossary, concept), ephemeral=True)


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """Previous/next buttons of a paged listing, kept working across restarts by their custom id.

    A subclass sets `PREFIX` and a template `PREFIX:(?P<key>…):(?P<page>\\d+)` and implements `callback`; this base
    (its template matches nothing) only builds and rebuilds the buttons.
    """

    PREFIX = "page"

    def __init__(self, key: str, page: int, label: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"{self.PREFIX}:{key}:{max(page, 0)}",
                disabled=disabled,
            )
        )
        self.key = key
        self.page = max(page, 0)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild the button from its custom id."""
        return cls(match["key"], int(match["page"]), item.label or "")

    @classmethod
    def pager(
        cls, key: str, page: int, pages: int, labels: tuple[str, str] = ("◀ Previous", "Next ▶")
    ) -> discord.ui.View | None:
        """The ◀ ▶ buttons for page `page` (0-based) of `pages`, or None when everything fits on one page."""
        if pages <= 1:
            return None
        view = discord.ui.View(timeout=None)
        view.add_item(cls(key, page - 1, labels[0], disabled=page <= 0))
        view.add_item(cls(key, page + 1, labels[1], disabled=page >= pages - 1))
        return view


COMPONENTS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (ConceptButton, RelatedSelect)
