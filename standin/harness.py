"""Run an unmodified discord.py client against a StandIn.

Only two addresses are redirected: ``discord.http.Route.BASE`` (REST, also used by
interaction webhooks) and ``DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``).

Start-up speed: discord.py waits ``guild_ready_timeout`` (2 s by default) after the last
GUILD_CREATE before it fires ``on_ready``; construct test bots with
``guild_ready_timeout=0.05``. A re-IDENTIFY (not a RESUME) sleeps 5 s in
``before_identify_hook``; mix in ``NoIdentifyDelay`` to skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .server import StandIn, finish_or_explain

ClientT = TypeVar("ClientT", bound=discord.Client)


class NoIdentifyDelay:
    """Mixin for test bots: re-IDENTIFY immediately instead of sleeping 5 s."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def preload_commands(bot: discord.Client, standin: StandIn) -> None:
    """Register the bot's app-command tree as if it had been synced in an earlier run."""
    tree: discord.app_commands.CommandTree[Any] | None = getattr(bot, "tree", None)
    if tree is None:
        raise TypeError("bot has no command tree")
    standin.register_commands([c.to_dict(tree) for c in tree.get_commands()])
    for guild in standin.world.guilds.values():
        commands = tree.get_commands(guild=discord.Object(guild.id))
        if commands:
            standin.register_commands([c.to_dict(tree) for c in commands], guild=guild)


async def _wait_ready(bot: discord.Client, task: asyncio.Task[None], within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not bot.is_ready():
        if task.done():
            exc = None if task.cancelled() else task.exception()
            if exc is not None:
                raise exc  # e.g. a KeyError from a malformed gateway payload: show it, don't time out
            raise RuntimeError("bot.start() ended before the bot became ready")
        if loop.time() > deadline:
            raise AssertionError(
                f"bot not ready after {within}s (its guild_ready_timeout is "
                f"{bot._connection.guild_ready_timeout}s; use ~0.05 in tests)"
            )
        await asyncio.wait({task}, timeout=0.01)


async def _stop(bot: discord.Client, task: asyncio.Task[None], *, reraise: bool) -> None:
    if not bot.is_closed():
        await finish_or_explain(bot.close(), "bot.close()")
    try:
        await asyncio.wait_for(task, 5.0)
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    except Exception:
        if reraise:
            raise


@contextlib.asynccontextmanager
async def run_bot(
    bot: ClientT,
    standin: StandIn,
    *,
    token: str | None = None,
    ready_timeout: float = 5.0,
    guild_ready_timeout: float | None = None,
    preload: bool = False,
) -> AsyncIterator[ClientT]:
    """Start ``bot`` against ``standin``, yield once it is ready, close it cleanly afterwards.

    If ``bot.start()`` fails during start-up its exception is raised at once; if it dies
    later, waits on the stand-in raise AssertionError naming it. ``preload=True`` registers
    the bot's command tree as already synced (for bots that don't sync on start).
    """
    saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    Route.BASE = standin.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(standin.gateway_url)
    if guild_ready_timeout is not None:
        bot._connection.guild_ready_timeout = guild_ready_timeout
    task = asyncio.create_task(bot.start(token or standin.token), name="standin-bot")
    standin.changes.watch(task)
    try:
        await _wait_ready(bot, task, ready_timeout)
        if preload:
            preload_commands(bot, standin)
        yield bot
    except BaseException:
        standin.changes.unwatch(task)
        await _stop(bot, task, reraise=False)
        raise
    else:
        standin.changes.unwatch(task)
        await _stop(bot, task, reraise=True)
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
