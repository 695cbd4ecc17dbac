"""Which entry a moderator means: the one resolver over what moderators act on, for commands and autocomplete."""

from __future__ import annotations

from collections.abc import Container

import discord
from discord import app_commands

from bot.glossary import Glossary
from bot.models import Concept
from cogs._components import glossary_for
from cogs._render import choice_label, clip, plain
from cogs.lookup import quoted
from cogs.moderation._access import editor_for, is_moderator
from cogs.moderation._replies import reply

MAX_TYPED = 100
"""Characters of a partly typed option that autocomplete looks at (no name is longer)."""


def moderated_view(interaction: discord.Interaction) -> Glossary:
    """The guild's glossary with its hidden entries: what moderators edit, revert and read the history of."""
    return editor_for(interaction).catalog.complete_view(interaction.guild_id)


def resolve_term(glossary: Glossary, term: str, within: Container[str] | None = None) -> Concept | str:
    """Return the entry the term clearly names, or a sentence saying why not (with the best guesses)."""
    resolution = glossary.resolver.resolve(term, within=within)
    concept = glossary.get(resolution.match.id) if resolution.match else None
    if concept is not None:
        return concept
    guesses = ", ".join(f"“{plain(s.name)}”" for s in resolution.suggestions[:5])
    if guesses:
        return f"“{quoted(term)}” does not clearly name one entry. Did you mean {guesses}? Pick one as you type."
    return f"No entry matches “{quoted(term)}”."


async def entry_or_reply(
    interaction: discord.Interaction, glossary: Glossary, term: str, within: Container[str] | None = None
) -> Concept | None:
    """Return the entry the term clearly names; otherwise tell the moderator why (privately) and return None."""
    found = resolve_term(glossary, term, within)
    if isinstance(found, str):
        await reply(interaction, found)
        return None
    return found


def _choices(glossary: Glossary, current: str, within: Container[str] | None = None) -> list[app_commands.Choice[str]]:
    found = glossary.resolver.suggest(current, within=within)
    return [app_commands.Choice(name=choice_label(s.name, s.matched), value=s.name) for s in found]


# discord.py never calls a cog's `interaction_check` for autocomplete: each suggester checks rights itself, so a
# member who can see /concept (a server may allow it) learns no hidden entry, alias or revision reason.


async def suggest_entries(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Every entry of the guild, hidden ones included (moderators only)."""
    if not await is_moderator(interaction):
        return []
    return _choices(moderated_view(interaction), current[:MAX_TYPED])


async def suggest_visible(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The entries members of the guild see (offered to moderators only, like every /concept option)."""
    if not await is_moderator(interaction):
        return []
    return _choices(glossary_for(interaction), current[:MAX_TYPED])


async def suggest_hidden(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The entries hidden in the guild (moderators only)."""
    if not await is_moderator(interaction):
        return []
    hidden = editor_for(interaction).catalog.hidden_ids(interaction.guild_id)
    return _choices(moderated_view(interaction), current[:MAX_TYPED], hidden) if hidden else []


def _named_entry(interaction: discord.Interaction) -> Concept | None:
    term = getattr(interaction.namespace, "term", None)
    found = resolve_term(moderated_view(interaction), term) if isinstance(term, str) and term.strip() else None
    return found if isinstance(found, Concept) else None


async def suggest_aliases(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The aliases of the entry named in `term`, those containing what was typed first (moderators only)."""
    if not await is_moderator(interaction):
        return []
    concept = _named_entry(interaction)
    if concept is None:
        return []
    typed = current[:MAX_TYPED].casefold().strip()
    ordered = sorted(concept.aliases, key=lambda alias: typed not in alias.casefold())
    return [app_commands.Choice(name=clip(alias, 100), value=alias) for alias in ordered[:25]]


async def suggest_revisions(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
    """The revisions of the entry named in `term`, newest first, each with what it did and why.

    Reads at most one page of revisions whose number starts with what was typed, however long the history.
    """
    if not await is_moderator(interaction):
        return []
    concept = _named_entry(interaction)
    if concept is None or interaction.guild_id is None:
        return []
    editor = editor_for(interaction)
    typed = current.strip()[:MAX_TYPED]
    choices = [
        app_commands.Choice(
            name=clip(
                f"{r.number} · {r.action.past_tense} · {r.created_at:%Y-%m-%d}"
                + (f" · {' '.join(r.reason.split())}" if r.reason else ""),
                100,
            ),
            value=r.number,
        )
        for r in await editor.repository.newest(interaction.guild_id, concept.id, limit=25, prefix=typed)
    ]
    if editor.catalog.shipped.get(concept.id) is not None and "0".startswith(typed):
        choices.append(app_commands.Choice(name="0 · the shipped entry", value=0))
    return choices[:25]
