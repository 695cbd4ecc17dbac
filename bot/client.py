"""The Discord client: start-up (database, data, extensions, persistent components), command sync, shutdown.

This is the one module of `bot/` that knows discord.py; it wires the core to the cogs and holds no
feature logic of its own.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import json
import logging
import pkgutil
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

import cogs
from bot import __version__
from bot.catalog import GlossaryCatalog
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.loader import load_glossary
from bot.store import Store, storage_failure, utc_now
from bot.usage import UsageRecorder, UsageRepository
from cogs._components import COMPONENTS

log = logging.getLogger(__name__)

TREE_HASH_KEY = "command_tree_hash"
HEARTBEAT_SECONDS = 30
HTTP_CONNECTIONS = 100


def discover_extensions() -> list[str]:
    """Return every extension module in `cogs/`: modules whose names start with `_` are helpers, not features."""
    return sorted(
        f"{cogs.__name__}.{module.name}"
        for module in pkgutil.iter_modules(cogs.__path__)
        if not module.name.startswith("_")
    )


class ImmunoBot(commands.Bot):
    """Immunobot: slash commands only, no privileged intents, mentions never ping anyone."""

    def __init__(
        self, settings: Settings, *, sync_commands: bool | None = None, clock: Clock | None = None, **options: Any
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.version = __version__
        self._sync_commands = sync_commands  # None: sync only when the tree changed; True: always; False: never
        self._store: Store | None = None
        self._catalog: GlossaryCatalog | None = None
        self._usage: UsageRecorder | None = None

    @property
    def store(self) -> Store:
        """The open database (available once `setup_hook` has run)."""
        if self._store is None:
            raise RuntimeError("the database is not open yet")
        return self._store

    @property
    def catalog(self) -> GlossaryCatalog:
        """The glossary views (available once `setup_hook` has run)."""
        if self._catalog is None:
            raise RuntimeError("the glossary is not loaded yet")
        return self._catalog

    @property
    def usage(self) -> UsageRecorder:
        """Lookup counts, batched (available once `setup_hook` has run)."""
        if self._usage is None:
            raise RuntimeError("the database is not open yet")
        return self._usage

    async def login(self, token: str) -> None:
        """Cap concurrent HTTP connections: discord.py's default is unlimited, and a burst of interactions then
        opens a connection (a TLS handshake, on Discord) per reply. Created here, inside the running loop."""
        if self.http.connector is discord.utils.MISSING:
            self.http.connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS)
        await super().login(token)

    def add_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None:
        """Register persistent buttons and menus, each made to answer even when it fails."""
        for item in items:
            answered_on_failure(item)
        super().add_dynamic_items(*items)

    async def setup_hook(self) -> None:
        """Open and migrate the database, load the shipped data, load the cogs, sync commands if they changed."""
        self._store = await Store.open(self.settings.database)
        report = await self._store.sync_shipped(load_glossary())
        log.info("Glossary data: %s", report.summary())
        self._catalog = await GlossaryCatalog.load(self._store)
        self._usage = UsageRecorder(UsageRepository(self._store), self.clock)
        self._usage.start()
        self.add_dynamic_items(*COMPONENTS)
        for extension in discover_extensions():
            await self.load_extension(extension)
        self.tree.on_error = self.on_app_command_error
        # Buttons and menus are routed by custom id into views discord.py makes itself: answer their failures there.
        discord.ui.View.on_error = answer_component_error  # type: ignore[method-assign]
        if self._sync_commands is not False:
            await self.sync_commands(force=bool(self._sync_commands))
        if self.settings.health_file is not None:
            self.heartbeat.start()
        gc.collect()
        gc.freeze()  # start-up objects (glossary, index) live for the whole run: keep them out of every GC pass

    @tasks.loop(seconds=HEARTBEAT_SECONDS)
    async def heartbeat(self) -> None:
        """Touch the health file while connected, so a container health check can tell a live bot from a stuck one."""
        if self.settings.health_file is not None and self.is_ready() and not self.is_closed():
            await asyncio.to_thread(self.settings.health_file.write_text, utc_now())

    @heartbeat.before_loop
    async def _first_heartbeat_when_ready(self) -> None:
        await self.wait_until_ready()

    def command_scope(self) -> discord.Object | None:
        """Return the development guild commands are synced to, or None for global commands."""
        return discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None

    def command_tree_hash(self) -> str:
        """Hash the command tree as Discord would receive it, with the scope it goes to."""
        scope = self.command_scope()
        payload = {
            "scope": scope.id if scope else None,
            "commands": sorted((c.to_dict(self.tree) for c in self.tree.get_commands()), key=lambda c: c["name"]),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync the command tree when it differs from the last one synced (or when forced); say whether it did."""
        digest = self.command_tree_hash()
        if not force and await self.store.get_meta(TREE_HASH_KEY) == digest:
            log.info("Slash commands unchanged since the last sync; not syncing")
            return False
        scope = self.command_scope()
        if scope is not None:
            self.tree.copy_global_to(guild=scope)
        synced = await self.tree.sync(guild=scope)
        await self.store.set_meta(TREE_HASH_KEY, digest)
        where = f"guild {scope.id}" if scope else "all guilds (global; Discord may take up to an hour to show them)"
        log.info("Synced %d slash commands to %s", len(synced), where)
        return True

    async def on_ready(self) -> None:
        """Log once that the bot is connected, where, and as whom."""
        log.info(
            "Connected as %s (id %s) in %d guild(s)", self.user, self.user.id if self.user else "?", len(self.guilds)
        )

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Tell the user plainly, log the unexpected once with context; never leave an interaction unanswered."""
        stored = storage_failure(error)
        if isinstance(error, app_commands.CheckFailure):
            message = str(error) or "You can't use this command here."
        elif isinstance(error, app_commands.CommandOnCooldown):
            message = f"Slow down a little: try again in {error.retry_after:.0f} s."
        elif stored is not None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.warning("Command /%s could not write to the database: %s", command, error.__cause__ or error)
            message = stored
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error(
                "Command /%s failed (guild %s, user %s)", command, interaction.guild_id, interaction.user.id,
                exc_info=error,
            )  # fmt: skip
            message = "Something went wrong on our side and it has been logged. Please try again in a moment."
        await send_ephemeral(interaction, message)

    async def close(self) -> None:
        """Close the gateway and HTTP session, then the database."""
        self.heartbeat.cancel()
        await super().close()
        if self._usage is not None:
            await self._usage.stop()  # the last batch of lookup counts, before the database closes
            self._usage = None
        if self._store is not None:
            await self._store.close()
            self._store = None


async def answer_component_error(
    view: discord.ui.View, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
) -> None:
    """Every button and menu answers, even when its callback failed (discord.py only logs by default)."""
    await answer_failure(interaction, error, type(item).__name__)


async def answer_failure(interaction: discord.Interaction, error: Exception, what: str) -> None:
    """Answer a failed interaction: "nothing was saved" for a storage failure, else a logged generic apology."""
    stored = storage_failure(error)
    if stored is not None:
        log.warning("A %s could not write to the database: %s", what, error)
        await send_ephemeral(interaction, stored)
        return
    log.error("A %s failed (guild %s, user %s)", what, interaction.guild_id, interaction.user.id, exc_info=error)
    await send_ephemeral(interaction, "Something went wrong on our side and it has been logged. Please try again.")


def answered_on_failure(item: type[discord.ui.DynamicItem[Any]]) -> None:
    """Make a button or menu class answer when its callback fails (discord.py only logs a dynamic item's failure)."""
    callback = item.__dict__.get("callback")
    if callback is None or getattr(callback, "answers_failures", False):
        return

    @functools.wraps(callback)
    async def answering(self: discord.ui.DynamicItem[Any], interaction: discord.Interaction) -> None:
        try:
            await callback(self, interaction)
        except Exception as error:
            await answer_failure(interaction, error, type(self).__name__)

    answering.answers_failures = True  # type: ignore[attr-defined]
    item.callback = answering  # type: ignore[method-assign]


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Reply privately, whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not deliver an error message for interaction %s", interaction.id, exc_info=True)
