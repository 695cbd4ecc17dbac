"""Telling every bot process of a guild's change: PostgreSQL LISTEN/NOTIFY.

Each process keeps every guild's glossary view and moderation settings in memory (lookups never wait for
the database). When one process commits an overlay edit, hide/unhide, import, revert or settings change it
sends a notification naming the guild; every other process hears it on a dedicated connection and rebuilds
that guild's view and settings from the database. A process that lost its listening connection cannot know
what it missed, so after reconnecting it resynchronises every guild. The database's revision check stays
the last line of defence: a process that has not heard of a change yet cannot overwrite it.

The channel is scoped by the connection's schema (`current_schema()`), so bots sharing one database in
separate schemas (the tests do) never hear each other. On SQLite there is one process, and no feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import DatabaseUrl

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
"""What a lost or broken connection raises (a send racing a termination can meet asyncpg's internal state error)."""

CHANNEL_PREFIX = "immunobot_changes:"
CHANNEL_SQL = f"'{CHANNEL_PREFIX}' || current_schema()"  # computed by the server: same for every process
PING_SECONDS = 5.0  # how often the listening connection is checked (a dead TCP peer sends no termination)
RETRY_SECONDS = 1.0
NOTIFY_SECONDS = 5.0

What = Literal["glossary", "settings"]


MAX_PAYLOAD = 7000  # bytes; PostgreSQL refuses a NOTIFY payload of 8,000


@dataclass(frozen=True)
class GuildChange:
    """A guild whose glossary overlay or moderation settings another process changed.

    `concepts` names the entries changed, so the others read only those; empty means "read the whole guild"
    (settings, or a change too large to name in one notification, such as a big import).
    """

    guild_id: int
    what: What
    concepts: tuple[str, ...] = ()


def asyncpg_dsn(url: DatabaseUrl) -> str:
    """The URL as asyncpg reads it (no SQLAlchemy driver name; a Unix socket stays in `?host=`)."""
    return url.url.set(drivername="postgresql").render_as_string(hide_password=False)


def payload(guild_id: int, what: What, origin: str, concepts: Sequence[str] = ()) -> str:
    """The notification's text: the guild, and the changed entries when they fit (NOTIFY allows 8,000 bytes)."""
    message: dict[str, Any] = {"guild": guild_id, "what": what, "origin": origin}
    if concepts:
        message["concepts"] = sorted(set(concepts))
    text_payload = json.dumps(message, separators=(",", ":"))
    if len(text_payload.encode()) > MAX_PAYLOAD:
        del message["concepts"]  # too many to name: the others read the whole guild
        text_payload = json.dumps(message, separators=(",", ":"))
    return text_payload


async def notify_in(
    connection: AsyncConnection, guild_id: int, what: What, origin: str = "", concepts: Sequence[str] = ()
) -> None:
    """Queue the notification inside the caller's transaction: PostgreSQL delivers it at commit, never on
    rollback. The way for write paths that run on PostgreSQL through `bot.db.Database`."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text(f"SELECT pg_notify({CHANNEL_SQL}, :payload)"),
            {"payload": payload(guild_id, what, origin, concepts)},
        )


class ChangeFeed:
    """Sends this process's guild changes and hears everyone else's (create, `await start()`, `await close()`).

    `on_change` is awaited for each change another process made, one at a time in the order heard;
    `on_resync` after the listening connection was lost and is back (changes may have been missed).
    """

    def __init__(
        self,
        url: DatabaseUrl,
        on_change: Callable[[GuildChange], Awaitable[None]],
        on_resync: Callable[[], Awaitable[None]],
        *,
        ping_seconds: float = PING_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        if url.backend != "postgresql":
            raise ValueError("the change feed needs PostgreSQL (one SQLite process has nobody to tell)")
        self._dsn = asyncpg_dsn(url)
        self._on_change = on_change
        self._on_resync = on_resync
        self._ping_seconds = ping_seconds
        self._retry_seconds = retry_seconds
        self.origin = secrets.token_hex(8)  # this process: its own notifications are not applied twice
        self.channel = ""
        self._connection: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._queue: asyncio.Queue[GuildChange | None] = asyncio.Queue()
        self._send_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.resyncs = 0  # how many times the listener came back (for the health report and tests)

    async def start(self) -> None:
        """Listen now (a failure here fails start-up, like the store's own connection would)."""
        await self._listen()
        self._tasks = [
            asyncio.create_task(self._watch(), name="change-feed-watch"),
            asyncio.create_task(self._apply(), name="change-feed-apply"),
        ]

    async def close(self) -> None:
        """Stop listening and close the connection (idempotent)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.close(), 5)
            self._connection = None

    @property
    def listening(self) -> bool:
        """Whether the listening connection is up."""
        return self._connection is not None and not self._connection.is_closed() and not self._lost.is_set()

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend of the listening connection (to find it in pg_stat_activity)."""
        return self._connection.get_server_pid() if self._connection is not None else None

    async def announce(
        self, connection: AsyncConnection, guild_id: int, what: What, concepts: Sequence[str] = ()
    ) -> None:
        """Tell every other process of `guild_id`'s change from inside the transaction that makes it (sent at
        commit; the way the bot's write paths use)."""
        await notify_in(connection, guild_id, what, self.origin, concepts)

    async def notify(self, guild_id: int, what: What, concepts: Sequence[str] = ()) -> None:
        """Tell every other process that `guild_id` changed (call after the change committed).

        On a lost connection it reconnects and sends once more, within NOTIFY_SECONDS (the moderator's reply
        waits for it). If that fails too it is logged: the others show the old text until they restart or
        resynchronise, and the revision check refuses edits based on it meanwhile. The bot's write paths use
        `announce` instead, which cannot be lost (it commits with the change).
        """
        message = payload(guild_id, what, self.origin, concepts)
        try:
            await asyncio.wait_for(self._send(message), NOTIFY_SECONDS)
        except (TimeoutError, OSError, *CONNECTION_ERRORS) as error:
            log.warning("Could not tell the other processes of guild %s's change: %s", guild_id, error or "timed out")

    async def _send(self, message: str) -> None:
        for attempt in (1, 2):
            try:
                async with self._send_lock:
                    connection = self._connection
                    if connection is None or connection.is_closed():
                        raise asyncpg.InterfaceError("the change feed's connection is closed")
                    await connection.execute(f"SELECT pg_notify({CHANNEL_SQL}, $1)", message)
                return
            except (OSError, *CONNECTION_ERRORS):
                if attempt == 2:
                    raise
                self._lost.set()
                await self._reconnect()

    # --- listening ------------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn)
        try:
            self.channel = await connection.fetchval(f"SELECT {CHANNEL_SQL}")
            await connection.add_listener(self.channel, self._heard)
        except BaseException:
            await connection.close()
            raise
        connection.add_termination_listener(lambda _connection: self._lost.set())
        self._connection = connection
        self._lost.clear()

    def _heard(self, _connection: Any, _pid: int, _channel: str, text_payload: str) -> None:
        try:
            message = json.loads(text_payload)
            concepts = tuple(str(concept) for concept in message.get("concepts", ()))
            change = GuildChange(int(message["guild"]), message["what"], concepts)
        except (ValueError, KeyError, TypeError):
            log.warning("Ignored a malformed change notification: %.200r", text_payload)
            return
        if message.get("origin") != self.origin:
            self._queue.put_nowait(change)

    async def _apply(self) -> None:
        """Apply heard changes one at a time (two rebuilds of one guild must not finish out of order)."""
        while True:
            change = await self._queue.get()
            try:
                if change is None:
                    await self._on_resync()
                else:
                    await self._on_change(change)
            except Exception:
                log.exception("Applying %s failed; the guild is resynchronised at the next change", change)

    async def _watch(self) -> None:
        """Notice a lost connection (termination, or a ping that fails) and come back with a full resync."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._ping_seconds)
            if not self._lost.is_set():
                try:
                    async with self._send_lock:
                        assert self._connection is not None
                        await asyncio.wait_for(self._connection.fetchval("SELECT 1"), self._ping_seconds)
                    continue
                except (OSError, TimeoutError, AssertionError, *CONNECTION_ERRORS):
                    self._lost.set()
            await self._reconnect()

    async def _reconnect(self) -> None:
        async with self._send_lock:
            if not self._lost.is_set():
                return  # another caller already reconnected
            log.warning("Lost the change feed's connection; reconnecting (then resynchronising every guild)")
            if self._connection is not None:
                self._connection.terminate()
                self._connection = None
            while True:
                try:
                    await self._listen()
                    break
                except (OSError, *CONNECTION_ERRORS) as error:
                    log.warning("Change feed: reconnecting failed (%s); retrying in %.0f s", error, self._retry_seconds)
                    await asyncio.sleep(self._retry_seconds)
        self.resyncs += 1
        self._queue.put_nowait(None)
        log.info("Change feed listening again on %s", self.channel)
