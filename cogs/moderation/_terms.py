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
from cogs.moderation._access import editor_for
from cogs.moderation._replies import reply


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


async def suggest_entries(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Every entry of the guild, hidden ones included."""
    return _choices(moderated_view(interaction), current)


async def suggest_visible(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The entries members of the guild see."""
    return _choices(glossary_for(interaction), current)


async def suggest_hidden(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The entries hidden in the guild."""
    hidden = editor_for(interaction).catalog.hidden_ids(interaction.guild_id)
    return _choices(moderated_view(interaction), current, hidden) if hidden else []


def _named_entry(interaction: discord.Interaction) -> Concept | None:
    term = getattr(interaction.namespace, "term", None)
    found = resolve_term(moderated_view(interaction), term) if isinstance(term, str) and term.strip() else None
    return found if isinstance(found, Concept) else None


async def suggest_aliases(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The aliases of the entry named in `term`, those containing what was typed first."""
    concept = _named_entry(interaction)
    if concept is None:
        return []
    typed = current.casefold().strip()
    ordered = sorted(concept.aliases, key=lambda alias: typed not in alias.casefold())
    return [app_commands.Choice(name=clip(alias, 100), value=alias) for alias in ordered[:25]]


async def suggest_revisions(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
    """The revisions of the entry named in `term`, newest first, each with what it did and why."""
    concept = _named_entry(interaction)
    if concept is None or interaction.guild_id is None:
        return []
    editor = editor_for(interaction)
    choices = [
        app_commands.Choice(
            name=clip(
                f"{r.number} · {r.action.past_tense} · {r.created_at:%Y-%m-%d}"
                + (f" · {r.reason}" if r.reason else ""),
                100,
            ),
            value=r.number,
        )
        for r in reversed(await editor.history(interaction.guild_id, concept.id))
    ]
    if editor.catalog.shipped.get(concept.id) is not None:
        choices.append(app_commands.Choice(name="0 · the shipped entry", value=0))
    typed = current.strip()
    return [choice for choice in choices if str(choice.value).startswith(typed)][:25]
