"""/concept history: an entry's revisions in this server, newest first, paged with buttons, each with its diff."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import discord

from bot.diff import FieldChange, Op, entry_changes
from bot.models import Concept
from bot.overlay import Revision
from cogs._components import PageButton
from cogs._render import EmbedBuilder, clip, plain
from cogs.moderation._access import NOT_MODERATOR, editor_for, is_moderator

PAGE_SIZE = 3
CHANGE_LIMIT = 900
"""Characters of diff shown per revision (an embed field holds 1,024)."""

LABELS = {"parent": "Category (parent)", "source": "Source", "stage": "Stage", "kind": "Kind"}
ID_FIELDS = frozenset({"related", "parent"})
"""Fields that hold entry ids: the history names the entries instead."""


def _same(concept_id: str) -> str:
    return concept_id


def label(field: str) -> str:
    """A field's name as moderators read it."""
    return LABELS.get(field, field.capitalize())


def render_words(words: Sequence[tuple[Op, str]], limit: int) -> str:
    """Render a word diff: removed words struck through, added ones bold, cut to fit `limit` characters."""
    marks = {"=": "{}", "-": "~~{}~~", "+": "**{}**"}
    parts: list[str] = []
    used = 0
    for op, text in words:
        room = limit - used - 1
        part = "…" if op == "…" else ""
        share = {"=": 120, "-": limit // 3}.get(op, room)  # removed and kept text leave room for the new text
        budget = min(room, share) - 6  # the markers, and room for escapes added by `plain`
        while op != "…" and budget >= 8:
            part = marks[op].format(plain(clip(text, budget)))
            if len(part) <= room:
                break
            budget //= 2
        if not part or len(part) > room:
            parts.append("…")
            break
        parts.append(part)
        used += len(part) + 1
    return " ".join(parts)


def render_change(change: FieldChange, limit: int, name_of: Callable[[str], str] = _same) -> str:
    """One line (or paragraph) per changed field; entry ids (related, parent) shown as the entries' names."""
    name = label(change.field)
    show = name_of if change.field in ID_FIELDS else _same
    if change.words:
        return f"{name}: {render_words(change.words, limit - len(name) - 2)}"
    if change.added or change.removed:
        items = [f"+ {plain(show(item))}" for item in change.added]
        items += [f"− {plain(show(item))}" for item in change.removed]
        return clip(f"{name}: {'; '.join(items)}", limit)
    if change.field == "related":  # same entries, new order: "a, b" lists of ids
        before, after = (", ".join(show(i) for i in (v or "").split(", ") if i) for v in (change.before, change.after))
    else:
        before, after = (show(v) if v and v != "(none)" else (v or "") for v in (change.before, change.after))
    return clip(f"{name}: {plain(before)} → {plain(after)}", limit)


def revision_summary(
    revision: Revision, before: Concept | None, was_hidden: bool, name_of: Callable[[str], str] = _same
) -> str:
    """Who and why, then what changed against the state before it (the shipped entry for a first edit)."""
    lines = [f"by <@{revision.author_id}>" + (f" — “{plain(clip(revision.reason, 200))}”" if revision.reason else "")]
    if before is None:
        lines.append(f"New entry: **{plain(revision.concept.name)}** — {plain(clip(revision.concept.summary, 200))}")
    if revision.hidden != was_hidden:
        lines.append("Hidden in this server." if revision.hidden else "Shown again in this server.")
    changes = entry_changes(before, revision.concept) if before is not None else []
    room = CHANGE_LIMIT - sum(len(line) + 1 for line in lines)
    for change in changes:
        if room < 40:
            lines.append("…")
            break
        line = render_change(change, room, name_of)
        lines.append(line)
        room -= len(line) + 1
    if before is not None and not changes and revision.hidden == was_hidden:
        lines.append("The text did not change.")
    return "\n".join(lines)


def history_page(
    concept: Concept,
    shipped: Concept | None,
    window: Sequence[Revision],
    total: int,
    page: int,
    name_of: Callable[[str], str] = _same,
) -> tuple[discord.Embed, discord.ui.View | None]:
    """One page of an entry's `total` revisions: `window` holds the page's revisions newest first, plus the one
    before them (for the oldest one's diff) when there is one."""
    pages = max(1, -(-total // PAGE_SIZE))
    origin = "Revision 0 is the shipped entry." if shipped is not None else "It was added in this server."
    builder = EmbedBuilder(
        f"History: {plain(concept.name)}", f"{total} revision(s) in this server, newest first. {origin}"
    )
    for index, revision in enumerate(window[:PAGE_SIZE]):
        previous = window[index + 1] if index + 1 < len(window) else None
        before = previous.concept if previous else shipped
        when = revision.created_at.strftime("%Y-%m-%d %H:%M UTC")
        builder.field(
            f"Revision {revision.number} · {revision.action.past_tense} · {when}",
            revision_summary(revision, before, previous.hidden if previous else False, name_of),
        )
    builder.footer(f"Page {page + 1} of {pages} · /concept revert term:… revision:N restores a revision as a new one")
    return builder.build(), HistoryPageButton.pager(concept.id, page, pages, ("◀ Newer", "Older ▶"))


async def history_reply(interaction: discord.Interaction, concept: Concept, page: int) -> dict[str, Any] | str:
    """The message for one page of an entry's history, or a sentence when it has none (reads that page only)."""
    assert interaction.guild_id is not None
    editor = editor_for(interaction)
    total = await editor.repository.count(interaction.guild_id, concept.id)
    if not total:
        return f"“{plain(concept.name)}” has no changes in this server: it reads as shipped."
    entries = editor.catalog.complete_view(interaction.guild_id)

    def name_of(concept_id: str) -> str:
        found = entries.get(concept_id)
        return found.name if found is not None else concept_id

    page = min(max(page, 0), (total - 1) // PAGE_SIZE)
    window = await editor.repository.newest(
        interaction.guild_id, concept.id, offset=page * PAGE_SIZE, limit=PAGE_SIZE + 1
    )
    embed, view = history_page(concept, editor.catalog.shipped.get(concept.id), window, total, page, name_of)
    return {"embed": embed, "view": view} if view else {"embed": embed}


class HistoryPageButton(PageButton, template=r"concept-history:(?P<key>[a-z0-9]+(?:-[a-z0-9]+)*):(?P<page>\d{1,4})"):
    """Turn a history page in place; works after a restart, and only for this server's moderators."""

    PREFIX = "concept-history"

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the requested page, after checking the clicker moderates this server."""
        if not await is_moderator(interaction):
            await interaction.response.send_message(NOT_MODERATOR, ephemeral=True)
            return
        concept = editor_for(interaction).catalog.complete_view(interaction.guild_id).get(self.key)
        if concept is None:
            await interaction.response.send_message(
                "That entry is no longer in this server's glossary.", ephemeral=True
            )
            return
        reply = await history_reply(interaction, concept, self.page)
        if isinstance(reply, str):
            await interaction.response.send_message(reply, ephemeral=True)
            return
        await interaction.response.edit_message(embed=reply["embed"], view=reply.get("view"))
