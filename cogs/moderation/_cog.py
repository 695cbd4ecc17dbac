"""/concept: moderators change this server's glossary; every change is a revision and nothing is ever lost.

The cog only translates: terms go through the one resolver (`_terms`), changes through
`bot.editing.ConceptEditor`, and outcomes become private replies (`_replies`) plus one line per change in the
optional audit channel.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.editing import ConceptEditor, Outcome, Refused, Unchanged
from bot.export import concepts_yaml
from bot.models import MAX_ALIAS, Concept
from bot.overlay import Action, OverlayRepository
from bot.store import storage_failure
from cogs._components import ConceptButton, glossary_for
from cogs._render import clip, concept_embed, plain
from cogs.moderation._access import GUILD_ONLY, NOT_MODERATOR, NotModerator, is_bot_owner, is_moderator, manages_server
from cogs.moderation._forms import (
    FORM_ID,
    REASON_LIMIT,
    EntryForm,
    add_form_id,
    edit_form_id,
    entry_text,
    open_form,
    submitted_values,
    with_returned_text,
)
from cogs.moderation._history import history_reply
from cogs.moderation._replies import (
    MESSAGE_LIMIT,
    audit_line,
    chunks,
    count_entries,
    refusal_text,
    reply,
    saved_text,
    working,
)
from cogs.moderation._terms import (
    entry_or_reply,
    moderated_view,
    resolve_term,
    suggest_aliases,
    suggest_entries,
    suggest_hidden,
    suggest_revisions,
    suggest_visible,
)

if TYPE_CHECKING:
    import re

    from bot.client import ImmunoBot

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 1_000_000
ATTACHMENT_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DOWNLOAD_SECONDS = 20


class TooLarge(Exception):  # noqa: N818 - it names the situation
    """The download went past its byte cap (whatever size was declared)."""


def from_discord(url: str) -> bool:
    """Say whether an attachment URL points at Discord's attachment hosts (over https).

    When the bot talks to another Discord endpoint (a stand-in, for tests), that endpoint's host counts too.
    """
    parsed = yarl.URL(url)
    if parsed.scheme == "https" and parsed.host in ATTACHMENT_HOSTS:
        return True
    api = yarl.URL(discord.http.Route.BASE)
    return api.host != "discord.com" and (parsed.scheme, parsed.host, parsed.port) == (api.scheme, api.host, api.port)


async def download(url: str, limit: int) -> bytes:
    """Fetch a file, reading at most `limit` bytes: a larger body is refused as it streams in."""
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, allow_redirects=False) as response:
        if response.status != 200:  # redirects are not followed: a file must come from Discord's hosts themselves
            raise aiohttp.ClientError(f"Discord answered {response.status}")
        if (response.content_length or 0) > limit:
            raise TooLarge
        data = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise TooLarge
        return bytes(data)


SOMETHING_WENT_WRONG = "Something went wrong on our side and it has been logged. Nothing was saved."
Reason = app_commands.Range[str, 1, REASON_LIMIT]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Moderation(
    commands.GroupCog,
    group_name="concept",
    group_description="Moderators: change this server's glossary (every change kept, reversible)",
):
    """Adding, editing, hiding, reverting, importing and exporting a guild's entries."""

    alias = app_commands.Group(name="alias", description="Add or remove a name an entry answers to")

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.editor = ConceptEditor(bot.catalog, OverlayRepository(bot.store), now=bot.clock.now)
        self._failing_audit_channels: set[tuple[int, int]] = set()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        """Every /concept command: this server's moderators only (bot owners may also export)."""
        if interaction.guild_id is None:
            raise NotModerator(GUILD_ONLY)
        if await is_moderator(interaction):
            return True
        command = interaction.command
        if command is not None and command.name == "export" and await is_bot_owner(interaction):
            return True
        raise NotModerator(NOT_MODERATOR)

    # --- answering ------------------------------------------------------------------------------------------

    async def answer(self, interaction: discord.Interaction, outcome: Outcome, returned: Mapping[str, str]) -> None:
        """Reply with the outcome; a refusal hands the moderator's text back, a change is announced."""
        if isinstance(outcome, Refused):
            content, file = with_returned_text(refusal_text(outcome), returned)
            await reply(interaction, content, file=file)
            return
        if isinstance(outcome, Unchanged):
            await reply(interaction, plain(outcome.message))
            return
        assert interaction.guild_id is not None
        view = self.bot.catalog.view(interaction.guild_id)
        shown = outcome.changes[0].revision
        embed, buttons = None, None
        single = len(outcome.changes) == 1 and shown.action not in (Action.IMPORT, Action.HIDE)
        if single and shown.concept_id in view and shown.action is Action.ALIAS:  # one line, and the entry on demand
            buttons = discord.ui.View(timeout=None)
            buttons.add_item(ConceptButton(shown.concept_id, "Show the entry", public=False))
        elif single and shown.concept_id in view:
            embed = concept_embed(view, view.concepts[shown.concept_id])
        await reply(interaction, clip(saved_text(outcome, view), MESSAGE_LIMIT), embed=embed, view=buttons)
        await self.announce(interaction, [audit_line(change, interaction.user) for change in outcome.changes])

    async def announce(self, interaction: discord.Interaction, lines: Sequence[str]) -> None:
        """Post lines in the guild's audit channel; a missing or forbidden channel is logged once, never fatal."""
        guild = interaction.guild
        if guild is None:
            return
        channel_id = (await self.editor.settings(guild.id)).audit_channel_id
        if channel_id is None:
            return
        key = (guild.id, channel_id)
        channel = guild.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            self._audit_failed(key, "the channel no longer exists")
            return
        if not channel.permissions_for(guild.me).send_messages:
            self._audit_failed(key, "the bot may not send messages there")
            return
        try:
            for message in chunks(lines):
                await channel.send(message)
        except discord.HTTPException as error:
            self._audit_failed(key, f"Discord answered {error.status}: {error.text or error}")
            return
        self._failing_audit_channels.discard(key)

    def _audit_failed(self, key: tuple[int, int], why: str) -> None:
        if key in self._failing_audit_channels:
            return
        self._failing_audit_channels.add(key)
        log.warning(
            "Audit channel %s of guild %s: %s. Changes are still saved; they are not announced until it works.",
            key[1], key[0], why,
        )  # fmt: skip

    # --- the entry form ---------------------------------------------------------------------------------------

    @app_commands.command(name="add", description="Add an entry to this server's glossary (opens a form)")
    @app_commands.describe(category="The category it belongs under, e.g. cell therapy (optional)")
    @app_commands.autocomplete(category=suggest_visible)
    async def add(self, interaction: discord.Interaction, category: str | None = None) -> None:
        """Open an empty entry form; the category is resolved now and carried in the form's id."""
        parent = None
        if category is not None and category.strip():
            found = await entry_or_reply(interaction, glossary_for(interaction), category)
            if found is None:
                return
            parent = found.id
        await open_form(interaction, EntryForm(title="New glossary entry", custom_id=add_form_id(parent), concept=None))

    @app_commands.command(name="edit", description="Edit an entry's text in this server (opens a pre-filled form)")
    @app_commands.describe(term="The entry to edit (typos are fine)")
    @app_commands.autocomplete(term=suggest_entries)
    async def edit(self, interaction: discord.Interaction, term: str) -> None:
        """Open the entry form at its current text and revision (the revision guards against lost updates)."""
        assert interaction.guild_id is not None
        found = await entry_or_reply(interaction, moderated_view(interaction), term)
        if found is None:
            return
        base = self.editor.revision_number(interaction.guild_id, found.id)
        form = EntryForm(title=f"Edit: {found.name}", custom_id=edit_form_id(found.id, base), concept=found)
        await open_form(interaction, form)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Answer entry-form submissions from their custom id (the forms themselves are not kept in memory)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        values = submitted_values(data)
        returned = {**entry_text(values).labelled(), "Why": values.get("reason", "")}
        try:
            await self.submit_form(interaction, match, values, returned)
        except Exception as error:
            stored = storage_failure(error)
            if stored is None:
                log.exception(
                    "Entry form %s failed (guild %s, user %s)", match[0], interaction.guild_id, interaction.user.id
                )
            else:
                log.warning("Entry form %s could not be saved: %s", match[0], error)
            content, file = with_returned_text(stored or SOMETHING_WENT_WRONG, returned)
            try:
                await reply(interaction, content, file=file)
            except discord.HTTPException:
                log.warning("Could not deliver an error message for interaction %s", interaction.id, exc_info=True)

    async def submit_form(
        self,
        interaction: discord.Interaction,
        match: re.Match[str],
        values: Mapping[str, str],
        returned: Mapping[str, str],
    ) -> None:
        """Save a submitted form as a new entry or a new revision, or say why not and give the text back."""
        if interaction.guild_id is None or not await is_moderator(interaction):
            content, file = with_returned_text(NOT_MODERATOR, returned)
            await reply(interaction, content, file=file)
            return
        text = entry_text(values)
        reason = values.get("reason", "").strip() or None
        author = interaction.user.id
        await working(interaction)
        if match["id"]:
            outcome = await self.editor.edit(
                interaction.guild_id, match["id"], int(match["base"]), text, author_id=author, reason=reason
            )
        else:
            outcome = await self.editor.add(
                interaction.guild_id, text, parent=match["parent"] or None, author_id=author, reason=reason
            )
        await self.answer(interaction, outcome, returned)

    # --- aliases ------------------------------------------------------------------------------------------------

    @alias.command(name="add", description="Add a name an entry answers to (in lookups and autocomplete at once)")
    @app_commands.describe(
        term="The entry", alias="The new name, e.g. a course's abbreviation", reason="Why (optional)"
    )
    @app_commands.autocomplete(term=suggest_entries)
    async def alias_add(
        self,
        interaction: discord.Interaction,
        term: str,
        alias: app_commands.Range[str, 1, MAX_ALIAS],
        reason: Reason | None = None,
    ) -> None:
        """Add an alias; refused when another entry already answers to it."""
        assert interaction.guild_id is not None
        found = await entry_or_reply(interaction, moderated_view(interaction), term)
        if found is None:
            return
        await working(interaction)
        outcome = await self.editor.add_alias(
            interaction.guild_id, found.id, alias, author_id=interaction.user.id, reason=reason
        )
        await self.answer(interaction, outcome, {"Alias": alias})

    @alias.command(name="remove", description="Remove a name an entry answers to")
    @app_commands.describe(term="The entry", alias="The alias to remove", reason="Why (optional)")
    @app_commands.autocomplete(term=suggest_entries, alias=suggest_aliases)
    async def alias_remove(
        self,
        interaction: discord.Interaction,
        term: str,
        alias: app_commands.Range[str, 1, MAX_ALIAS],
        reason: Reason | None = None,
    ) -> None:
        """Remove an alias of the entry."""
        assert interaction.guild_id is not None
        found = await entry_or_reply(interaction, moderated_view(interaction), term)
        if found is None:
            return
        await working(interaction)
        outcome = await self.editor.remove_alias(
            interaction.guild_id, found.id, alias, author_id=interaction.user.id, reason=reason
        )
        await self.answer(interaction, outcome, {})

    # --- hiding -------------------------------------------------------------------------------------------------

    @app_commands.command(name="hide", description="Hide an entry in this server (reversible with unhide)")
    @app_commands.describe(term="The entry to hide", reason="Why (optional)")
    @app_commands.autocomplete(term=suggest_visible)
    async def hide(self, interaction: discord.Interaction, term: str, reason: Reason | None = None) -> None:
        """Hide a visible entry: members no longer find it; its history and names are kept."""
        assert interaction.guild_id is not None
        found = await entry_or_reply(interaction, glossary_for(interaction), term)
        if found is None:
            return
        await working(interaction)
        outcome = await self.editor.set_hidden(
            interaction.guild_id, found.id, True, author_id=interaction.user.id, reason=reason
        )
        await self.answer(interaction, outcome, {})

    @app_commands.command(name="unhide", description="Show a hidden entry in this server again")
    @app_commands.describe(term="The hidden entry", reason="Why (optional)")
    @app_commands.autocomplete(term=suggest_hidden)
    async def unhide(self, interaction: discord.Interaction, term: str, reason: Reason | None = None) -> None:
        """Show a hidden entry again."""
        assert interaction.guild_id is not None
        hidden = self.editor.catalog.hidden_ids(interaction.guild_id)
        named = resolve_term(moderated_view(interaction), term)
        if isinstance(named, Concept) and named.id not in hidden:
            await reply(interaction, f"“{plain(named.name)}” is not hidden in this server.")
            return
        if not hidden:
            await reply(interaction, "Nothing is hidden in this server.")
            return
        found = await entry_or_reply(interaction, moderated_view(interaction), term, within=hidden)
        if found is None:
            return
        await working(interaction)
        outcome = await self.editor.set_hidden(
            interaction.guild_id, found.id, False, author_id=interaction.user.id, reason=reason
        )
        await self.answer(interaction, outcome, {})

    # --- history and revert -------------------------------------------------------------------------------------

    @app_commands.command(name="history", description="An entry's changes in this server, with what each changed")
    @app_commands.describe(term="The entry")
    @app_commands.autocomplete(term=suggest_entries)
    async def history(self, interaction: discord.Interaction, term: str) -> None:
        """Show the newest page of the entry's revisions (older pages through the buttons)."""
        found = await entry_or_reply(interaction, moderated_view(interaction), term)
        if found is None:
            return
        page = await history_reply(interaction, found, 0)
        if isinstance(page, str):
            await reply(interaction, page)
            return
        await interaction.response.send_message(ephemeral=True, **page)

    @app_commands.command(name="revert", description="Bring back an earlier revision of an entry (as a new revision)")
    @app_commands.describe(term="The entry", revision="The revision to bring back (0 is the shipped entry)",
                           reason="Why (optional)")  # fmt: skip
    @app_commands.autocomplete(term=suggest_entries, revision=suggest_revisions)
    async def revert(
        self,
        interaction: discord.Interaction,
        term: str,
        revision: app_commands.Range[int, 0, 1_000_000],
        reason: Reason | None = None,
    ) -> None:
        """Save the chosen revision's text (and hidden state) as the newest revision."""
        assert interaction.guild_id is not None
        found = await entry_or_reply(interaction, moderated_view(interaction), term)
        if found is None:
            return
        await working(interaction)
        outcome = await self.editor.revert(
            interaction.guild_id, found.id, revision, author_id=interaction.user.id, reason=reason
        )
        await self.answer(interaction, outcome, {})

    # --- export and import --------------------------------------------------------------------------------------

    @app_commands.command(name="export", description="This server's edited and added entries as a YAML file")
    @app_commands.describe(everything="Export every entry as this server sees it, not only its changes")
    async def export(self, interaction: discord.Interaction, everything: bool = False) -> None:
        """Attach the guild's overlay (or whole view) in the `data/` format; hidden entries are listed, not included."""
        guild = interaction.guild
        assert guild is not None
        catalog = self.editor.catalog
        hidden = sorted(catalog.hidden_ids(guild.id))
        if everything:
            concepts = list(catalog.view(guild.id).concepts.values())
        else:  # what differs from the shipped text (an entry edited and reverted, or hidden then shown, does not)
            concepts = [
                r.concept
                for r in catalog.overlay(guild.id).values()
                if not r.hidden and r.concept != catalog.shipped.get(r.concept_id)
            ]
        if not concepts:
            await reply(
                interaction,
                "This server has no edited or added entries yet: nothing to export. "
                "`/concept export everything:True` exports the whole glossary as this server sees it.",
            )
            return
        what = "every entry" if everything else "the edited and added entries"
        comments = [
            f"Immunobot glossary export: {what} of server {guild.name} ({guild.id}), "
            f"{self.bot.clock.now().astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
            "Same format as data/*.yaml: change it and load it with /concept import, or merge entries into data/.",
        ]
        if hidden:
            comments.append(f"Hidden in this server (not included): {', '.join(hidden)}")
        text = concepts_yaml(sorted(concepts, key=lambda concept: concept.id), comments)
        name = f"glossary-{guild.id}{'-all' if everything else ''}.yaml"
        file = discord.File(io.BytesIO(text.encode("utf-8")), filename=name)
        hidden_note = (
            f" {len(hidden)} hidden entr{'y is' if len(hidden) == 1 else 'ies are'} listed in its header."
            if hidden
            else ""
        )
        await reply(interaction, f"{count_entries(len(concepts)).capitalize()} exported.{hidden_note}", file=file)

    @app_commands.command(name="import", description="Apply a YAML file of entries (all or nothing, validated)")
    @app_commands.describe(file="A .yaml file in the data/ format (as /concept export writes)", reason="Why (optional)")
    async def import_file(
        self, interaction: discord.Interaction, file: discord.Attachment, reason: Reason | None = None
    ) -> None:
        """Validate the whole file exactly like data/ and save every entry in it, or none."""
        assert interaction.guild_id is not None
        name = plain(clip(file.filename, 80))
        too_large = f"{name} is larger than {MAX_IMPORT_BYTES // 1000} kB. Nothing was imported."
        if file.size > MAX_IMPORT_BYTES:
            await reply(interaction, too_large)
            return
        if not from_discord(file.url):
            log.warning("Import refused: attachment URL outside Discord's hosts (guild %s)", interaction.guild_id)
            await reply(interaction, f"{name} does not come from Discord's file servers. Nothing was imported.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await download(file.url, MAX_IMPORT_BYTES)
        except TooLarge:
            await reply(interaction, too_large)
            return
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("Import download failed (guild %s): %s", interaction.guild_id, error)
            await reply(interaction, f"I could not download {name} from Discord just now. Nothing was imported.")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            await reply(interaction, f"{name} is not UTF-8 text: save it as UTF-8 YAML. Nothing was imported.")
            return
        outcome = await self.editor.import_entries(
            interaction.guild_id, text, file.filename, author_id=interaction.user.id, reason=reason
        )
        await self.answer(interaction, outcome, {})

    # --- settings -----------------------------------------------------------------------------------------------

    @app_commands.command(name="config", description="Who may moderate the glossary, and where changes are announced")
    @app_commands.describe(
        role="Members with this role may moderate the glossary (besides Manage Server)",
        audit_channel="A channel that gets one line per change",
        clear="Remove a setting",
    )
    async def config(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        audit_channel: discord.TextChannel | None = None,
        clear: Literal["role", "audit channel"] | None = None,
    ) -> None:
        """Show the settings; with options, change them (Manage Server only: a role must not promote itself)."""
        guild = interaction.guild
        assert guild is not None
        settings = await self.editor.settings(guild.id)
        changes: dict[str, int | None] = {}
        if clear == "role":
            changes["moderator_role_id"] = None
        if clear == "audit channel":
            changes["audit_channel_id"] = None
        if role is not None:
            changes["moderator_role_id"] = role.id
        if audit_channel is not None:
            changes["audit_channel_id"] = audit_channel.id
        if changes and not manages_server(interaction):
            await reply(interaction, "Only members with Manage Server can change these settings. Nothing was changed.")
            return
        if role is not None and role.is_default():
            await reply(interaction, "@\u200beveryone cannot be the moderator role. Nothing was changed.")
            return
        notes: list[str] = []
        if changes:
            await working(interaction)
            settings = settings.model_copy(update=changes)
            await self.editor.save_settings(guild.id, settings)
            notes.append("Saved.")
        role_text = f"<@&{settings.moderator_role_id}>" if settings.moderator_role_id else "none (Manage Server only)"
        channel = guild.get_channel(settings.audit_channel_id) if settings.audit_channel_id else None
        channel_text = f"<#{settings.audit_channel_id}>" if settings.audit_channel_id else "none"
        if settings.audit_channel_id and (
            not isinstance(channel, discord.TextChannel) or not channel.permissions_for(guild.me).send_messages
        ):
            notes.append("I cannot post in the audit channel: give me View Channel and Send Messages there.")
        text = "\n".join([*notes, f"Moderator role: {role_text}", f"Audit channel: {channel_text}"])
        await reply(interaction, text)
        if changes:
            author = interaction.user.mention
            line = f"⚙️ Moderation settings changed by {author}: role {role_text}, audit channel {channel_text}"
            await self.announce(interaction, [line])
