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
import math
import pkgutil
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

import cogs
from bot import __version__
from bot.catalog import GlossaryCatalog
from bot.clock import Clock
from bot.config import Settings
from bot.db.changes import ChangeFeed, GuildChange
from bot.db.pacing import IdentifyPacer
from bot.editing import ConceptEditor
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


class ImmunoBot(commands.AutoShardedBot):
    """Immunobot: slash commands only, no privileged intents, mentions never ping anyone.

    Sharded with discord.py's AutoShardedBot: by default one process runs every shard Discord recommends;
    with SHARD_COUNT (and SHARD_IDS) it runs only its own, and other processes run the rest (issue 12).
    """

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
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,
            **options,
        )
        self.settings = settings
        self.clock: Clock = clock or settings.clock()
        self.version = __version__
        self._sync_commands = sync_commands  # None: sync only when the tree changed; True: always; False: never
        self._store: Store | None = None
        self._catalog: GlossaryCatalog | None = None
        self._usage: UsageRecorder | None = None
        self._changes: ChangeFeed | None = None  # PostgreSQL: other processes' changes, and ours to them
        self._pacer: IdentifyPacer | None = None  # PostgreSQL: IDENTIFY turns shared with other processes

    @property
    def shared_database(self) -> bool:
        """Whether other bot processes may share the database (PostgreSQL), so changes and logins are coordinated."""
        return self.settings.database.backend == "postgresql"

    @property
    def runs_command_sync(self) -> bool:
        """Only one process syncs the commands: the one with shard 0 (every process when unsharded runs it)."""
        return self.settings.shard_ids is None or 0 in self.settings.shard_ids

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process runs the shard Discord routes the guild to (all guilds when it runs every shard)."""
        return self.settings.owns_guild(guild_id)

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
        if self.shared_database:
            await self._start_change_feed()
        self.tree.on_error = self.on_app_command_error
        # Buttons and menus are routed by custom id into views discord.py makes itself: answer their failures there.
        discord.ui.View.on_error = answer_component_error  # type: ignore[method-assign]
        if self._sync_commands is True or (self._sync_commands is None and self.runs_command_sync):
            await self.sync_commands(force=bool(self._sync_commands))
        if self.settings.health_file is not None:
            self.heartbeat.start()
        gc.collect()
        gc.freeze()  # start-up objects (glossary, index) live for the whole run: keep them out of every GC pass

    # --- several processes (PostgreSQL) ------------------------------------------------------------------------

    def _editor(self) -> ConceptEditor | None:
        editor = getattr(self.get_cog("Moderation"), "editor", None)
        return editor if isinstance(editor, ConceptEditor) else None

    async def _start_change_feed(self) -> None:
        """Hear other processes' guild changes, and tell them ours (after each commit)."""
        editor = self._editor()
        if editor is None:
            return

        async def changed(change: GuildChange) -> None:
            await editor.reload(change.guild_id, change.what, change.concepts)
            log.info("Took in guild %s's %s change from another process", change.guild_id, change.what)

        async def resync() -> None:
            await editor.resync()
            log.info("Resynchronised every guild's glossary and settings after the change feed came back")

        self._changes = ChangeFeed(self.settings.database, changed, resync)
        await self._changes.start()
        editor.repository.announce = self._changes.announce

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """On PostgreSQL wait for the shard's bucket turn, shared by every process; else discord.py's 5 s pause."""
        if not self.shared_database:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        if self._pacer is None:
            _, _, limits = await self.http.get_bot_gateway()
            self._pacer = IdentifyPacer(self.settings.database, int(limits.get("max_concurrency", 1)))
        await self._pacer.wait_turn(shard_id or 0)

    # --- health -------------------------------------------------------------------------------------------------

    def health_report(self) -> dict[str, Any]:
        """Each shard's state for the health file: connected or not, and its heartbeat round trip."""
        shards = []
        for shard_id, info in sorted(self.shards.items()):
            latency = info.latency
            connected = not info.is_closed()
            shards.append({
                "id": shard_id,
                "connected": connected,
                "latency_ms": round(latency * 1000, 1) if connected and math.isfinite(latency) else None,
            })  # fmt: skip
        report: dict[str, Any] = {"at": utc_now(), "shard_count": self.shard_count, "shards": shards}
        if self._changes is not None:
            report["change_feed"] = "listening" if self._changes.listening else "reconnecting"
        return report

    async def write_health(self) -> None:
        """Write the health file now (atomically: the health check never reads half a file)."""
        path = self.settings.health_file
        if path is None:
            return
        body = json.dumps(self.health_report())

        def write() -> None:  # a file of its own per write: two writes at once (heartbeat, shard ready) never collide
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
            ) as partial:
                partial.write(body)
            Path(partial.name).replace(path)

        await asyncio.to_thread(write)

    @tasks.loop(seconds=HEARTBEAT_SECONDS)
    async def heartbeat(self) -> None:
        """Write the health file while connected, so a container health check can tell a live bot from a stuck one."""
        if self.settings.health_file is not None and self.is_ready() and not self.is_closed():
            await self.write_health()

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
        for coordination in (self._changes, self._pacer):
            if coordination is not None:
                await coordination.close()
        self._changes = self._pacer = None
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
