"""End-to-end fixtures: the real ImmunoBot (real discord.py client) against the local Discord stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.client import ImmunoBot
from bot.clock import Clock
from bot.config import Settings, load_settings
from standin import Guild, Member, NoIdentifyDelay, StandIn, run_bot


class E2EBot(NoIdentifyDelay, ImmunoBot):
    """ImmunoBot as shipped, minus the 5-second pause before a re-IDENTIFY."""


@dataclass
class Server:
    """A guild on the stand-in with a plain member and a moderator."""

    guild: Guild
    member: Member
    moderator: Member


@pytest.fixture
async def discord_() -> AsyncIterator[StandIn]:
    """A fresh stand-in of Discord on loopback; the test fails if the bot sent anything Discord would refuse
    as an invalid form body (spec schema or documented rule) or the stand-in answered off-spec."""
    async with StandIn() as standin:
        yield standin
        standin.assert_discord_accepted()


BOTH_BACKENDS = "both_backends"
"""Marker: run this end-to-end test on SQLite and again on PostgreSQL (the representative slice of issue 12)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{BOTH_BACKENDS}: run the end-to-end test on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked both_backends (and using the bot's settings) run once per backend."""
    if metafunc.definition.get_closest_marker(BOTH_BACKENDS) and "settings" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store the bot runs on: SQLite unless the test is marked both_backends."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    """Settings with a database of the test's own (a PostgreSQL one for the postgresql run of a both_backends test)."""
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return load_settings(database_url=url, discord_token=None, dev_guild_id=None)
    return load_settings(database_path=tmp_path / "immunobot.db", discord_token=None, dev_guild_id=None)


@pytest.fixture
def server(discord_: StandIn) -> Server:
    """One study server."""
    guild = discord_.add_guild("Study group", channels=("general", "daily"))
    member = discord_.add_member(guild, "alice")
    moderator = discord_.add_member(guild, "mod", permissions=0x20)  # Manage Server
    return Server(guild, member, moderator)


@pytest.fixture
def start_bot(discord_: StandIn, settings: Settings) -> Callable[..., AbstractAsyncContextManager[ImmunoBot]]:
    """Start a new bot process-equivalent (same database) against the stand-in; usable more than once."""

    def start(*, clock: Clock | None = None, **overrides: Any) -> AbstractAsyncContextManager[ImmunoBot]:
        configured = settings.model_copy(update=overrides) if overrides else settings
        return run_bot(E2EBot(configured, clock=clock, guild_ready_timeout=0.05), discord_)

    return start


@pytest.fixture
async def bot(
    server: Server, start_bot: Callable[..., AbstractAsyncContextManager[ImmunoBot]], discord_: StandIn
) -> AsyncIterator[ImmunoBot]:
    """The bot, connected and ready; afterwards, checks nothing it sent could ping anyone or was rejected."""
    async with start_bot() as running:
        yield running
    assert_never_pinged(discord_)
    assert discord_.rejected_requests == [], [(r.path, r.status, r.response) for r in discord_.rejected_requests]


def assert_never_pinged(standin: StandIn) -> None:
    """Every message the bot sent carried allowed_mentions that ping nobody."""
    for request in standin.requests:
        body = request.json if isinstance(request.json, dict) else {}
        payload = body.get("data", body) if "/callback" in request.path else body
        if isinstance(payload, dict) and ("content" in payload or "embeds" in payload):
            assert payload.get("allowed_mentions", {}).get("parse") == [], (request.path, payload)
