"""Who may change a guild's glossary: checked by the bot on every command, button and form, not only by Discord."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

from bot.editing import ConceptEditor

if TYPE_CHECKING:
    from bot.client import ImmunoBot

NOT_MODERATOR = (
    "Only this server's moderators can change its glossary: you need the Manage Server permission, "
    "or the moderator role set with `/concept config role:`."
)
GUILD_ONLY = "Glossary moderation works inside a server, not in direct messages."


class NotModerator(app_commands.CheckFailure):
    """The member may not moderate this guild's glossary; the message says who may."""


def editor_for(interaction: discord.Interaction) -> ConceptEditor:
    """Return the editor of the running moderation cog (components and forms reach it through the client)."""
    cog = interaction.client.get_cog("Moderation")  # type: ignore[attr-defined]
    editor = getattr(cog, "editor", None)
    if not isinstance(editor, ConceptEditor):
        raise RuntimeError("the moderation extension is not loaded")
    return editor


def manages_server(interaction: discord.Interaction) -> bool:
    """Say whether the member holds Manage Server (or Administrator) in the interaction's guild."""
    permissions = interaction.permissions
    return interaction.guild_id is not None and (permissions.manage_guild or permissions.administrator)


async def is_moderator(interaction: discord.Interaction) -> bool:
    """Manage Server, or this guild's configured moderator role; rights in another guild count for nothing."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return False
    if manages_server(interaction):
        return True
    settings = await editor_for(interaction).settings(interaction.guild_id)
    role_id = settings.moderator_role_id
    return role_id is not None and interaction.user.get_role(role_id) is not None


async def is_bot_owner(interaction: discord.Interaction) -> bool:
    """The application's owner, or a user listed in OWNER_IDS."""
    bot = cast("ImmunoBot", interaction.client)
    return interaction.user.id in bot.settings.owner_ids or await bot.is_owner(interaction.user)
