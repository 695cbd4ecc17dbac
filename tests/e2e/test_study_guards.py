"""Study commands that only make sense in a server: declared guild-only (so Discord does not offer them in DMs),
and answered plainly if a DM interaction reaches them anyway (no assert, no traceback)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from standin import StandIn
from standin.payloads import find_command
from tests.e2e.conftest import Server
from tests.e2e.test_study import T0, Start

GUILD_ONLY = "This command works in a server, not in direct messages"


@pytest.fixture
async def discord_() -> AsyncIterator[StandIn]:
    """A stand-in that delivers commands wherever they are sent, so the bot's own checks are what answers."""
    async with StandIn(enforce_command_permissions=False) as standin:
        yield standin


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("quiz start", {}),
        ("quiz stop", {}),
        ("quiz timeout", {}),
        ("leaderboard", {}),
        ("stats", {}),
        ("top", {}),
        ("weak", {"scope": "server"}),
    ],
)
async def test_server_commands_in_a_dm_are_declined_plainly(
    discord_: StandIn, server: Server, start_bot: Start, caplog: pytest.LogCaptureFixture, command: str,
    options: dict[str, str],
) -> None:  # fmt: skip
    """Declared guild-only in the synced schema; a DM that reaches the bot anyway gets one clear private line."""
    from bot.clock import ManualClock

    async with start_bot(clock=ManualClock(T0)) as bot:
        synced, _ = find_command(discord_.world, None, command.split()[0])
        if command != "weak":
            assert synced.get("contexts") == [0] or synced.get("dm_permission") is False, synced
        reply = await discord_.slash(None, server.member, command, options=options)
        assert reply.response.ephemeral
        assert GUILD_ONLY in reply.response.content
        assert reply.followups == []
        assert await bot.store.fetch_all("SELECT count(*) FROM quiz_sessions") == [(0,)]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
