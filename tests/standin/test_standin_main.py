"""`python -m standin` serves a world from a file; bot processes connect; the log says what it refused."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

REPO = Path(__file__).resolve().parents[2]
WORLD = """
bot_name: Scaled
token: shared.bot.token
shards: 2
guilds:
  - name: Alpha
    channels: [general, daily]
    roles: [{name: Moderators, permissions: 32}]
    members: [alice, {name: mod, roles: [Moderators]}]
  - name: Beta
  - name: Gamma
  - name: Delta
"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    world = tmp_path / "world.yaml"
    world.write_text(WORLD)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "standin", "--world", str(world), "--port", "0",
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    match = re.match(r"standin listening on (http://127\.0\.0\.1:\d+)", line)
    assert match, line
    try:
        yield match.group(1), proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 10)


async def _ready_client(
    base: str, shard_id: int
) -> tuple[discord.AutoShardedClient | discord.Client, asyncio.Task[None]]:
    client = discord.Client(intents=discord.Intents.default(), shard_id=shard_id, shard_count=2)
    task = asyncio.create_task(client.start("shared.bot.token"))
    await asyncio.wait_for(client.wait_until_ready(), 20)
    return client, task


async def test_two_bot_processes_share_one_standin_by_shard(served: tuple[str, asyncio.subprocess.Process]) -> None:
    base, proc = served
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = base + "/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http://", "ws://") + "/gateway")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bot shared.bot.token"}) as http:
            async with http.get(base + "/api/v10/gateway/bot") as resp:
                assert (await resp.json())["shards"] == 2
            async with http.get(base + "/api/v10/users/@me") as resp:
                assert (await resp.json())["username"] == "Scaled"
        clients = [await _ready_client(base, shard) for shard in (0, 1)]
        names = [sorted(g.name for g in client.guilds) for client, _ in clients]
        assert sorted(names[0] + names[1]) == ["Alpha", "Beta", "Delta", "Gamma"]  # each guild on exactly one shard
        assert all(client.ws is not None and not client.is_closed() for client, _ in clients)  # both live at once
        alpha = next(g for client, _ in clients for g in client.guilds if g.name == "Alpha")
        assert sorted(r.name for r in alpha.roles) == ["@everyone", "Moderators", "Scaled"]
        for client, task in clients:
            await client.close()
            await asyncio.wait_for(task, 10)
        async with aiohttp.ClientSession() as http, http.ws_connect(base + "/gateway") as ws:
            await ws.receive_json(timeout=5)
            await ws.send_str("{not json")
            await ws.receive(timeout=5)
        async with (
            aiohttp.ClientSession(headers={"Authorization": "Bot shared.bot.token"}) as http,
            http.post(base + "/api/v10/channels/1/messages", json={"content": 5}) as resp,
        ):
            assert resp.status == 400
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
    proc.send_signal(signal.SIGINT)
    _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    log = stderr.decode()
    assert "gateway closed 4002: not a JSON object" in log
    assert "refused with 400 (invalid form body): POST /channels/1/messages" in log
    assert proc.returncode == 0
    assert "Traceback" not in log


def test_world_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "world.json"
    bad.write_text(json.dumps(["not", "a", "mapping"]))
    result = subprocess.run(
        [sys.executable, "-m", "standin", "--world", str(bad), "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "must be a mapping" in result.stderr
