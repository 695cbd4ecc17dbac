"""Running the bot for real: logging, signals, and start-up failures reported in one line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys

import discord
import yarl

from bot.client import ImmunoBot
from bot.config import Settings
from bot.loader import GlossaryError
from bot.store import SchemaError

log = logging.getLogger(__name__)


class _NoVoiceNotice(logging.Filter):
    """Drop discord.py's start-up notices about voice libraries: Immunobot has no voice features."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


_TEXT_KEYS = "token|content|value|values|description|title|query|text"
_QUOTED = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # interaction and webhook tokens in URLs: /interactions/<id>/<token>/callback, /webhooks/<app id>/<token>
    (re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9_.\-]+"), r"\1<token>"),
    # typed text and tokens in logged payloads, JSON ("key": "…") or Python reprs ('key': '…'), lists included
    (re.compile(rf"""(['"](?:{_TEXT_KEYS})['"]\s*:\s*)(?:{_QUOTED}|\[(?:\s*{_QUOTED}\s*,?)*\s*\])"""),
     r"\1'<redacted>'"),
)  # fmt: skip


class RedactSecrets(logging.Filter):
    """Keep interaction tokens (valid 15 minutes) and what people type out of every log line, at every level.

    discord.py logs whole gateway events and REST payloads at DEBUG; they carry interaction tokens, options
    and message text. Records are rewritten before any handler formats them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern, replacement in _REDACTIONS:
            redacted = pattern.sub(replacement, redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(settings: Settings, *, console: bool = False) -> None:
    """Log to stderr with timestamps (discord.py's handler and format); the console shows warnings only.

    Every handler redacts tokens and typed text (`RedactSecrets`)."""
    level = max(settings.log_level_number, logging.WARNING) if console else settings.log_level_number
    discord.utils.setup_logging(level=level, root=True)
    logging.getLogger("discord.client").addFilter(_NoVoiceNotice())
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))  # its DEBUG lines hold every SQL parameter
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())


async def _run(bot: ImmunoBot, token: str, *, sync_only: bool) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with bot:
        if sync_only:
            await bot.login(token)  # login runs setup_hook, which syncs (forced)
            return
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("Shutting down")
            await bot.close()
            runner.cancel()  # discord.py retries a shard that failed to connect every 5 s, even once closed
        else:
            stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


def point_at(settings: Settings) -> None:
    """Use another Discord endpoint when configured (a stand-in, for tests of this very entry point)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def run_online(settings: Settings, *, sync_only: bool = False) -> int:
    """Connect to Discord with the configured token; return the process exit status."""
    assert settings.discord_token is not None
    point_at(settings)
    bot = ImmunoBot(settings, sync_commands=True if sync_only else None)
    try:
        asyncio.run(_run(bot, settings.discord_token.get_secret_value(), sync_only=sync_only))
    except discord.LoginFailure:
        print("Discord rejected DISCORD_TOKEN: copy the bot token again from the Developer Portal.", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired:
        print("Discord refused the gateway intents; Immunobot needs none that are privileged.", file=sys.stderr)
        return 2
    except (GlossaryError, SchemaError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0
