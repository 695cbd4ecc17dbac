"""``python -m standin``: the stand-in of Discord on its own, for bot processes to connect to.

    python -m standin --world world.yaml --port 8765

serves REST on http://127.0.0.1:8765/api/v10 and the gateway on ws://127.0.0.1:8765/gateway with
the world the file describes (YAML or JSON):

    bot_name: Immunobot
    token: standin.bot.token        # what the bots log in with
    shards: 2                       # what GET /gateway/bot recommends
    max_concurrency: 1
    enforce_identify_limit: true    # refuse IDENTIFYs faster than max_concurrency allows (op 9)
    guilds:
      - name: Study group
        channels: [general, daily]
        roles: [{name: Moderators, permissions: 32}]
        members: [alice, {name: mod, roles: [Moderators]}]

A bot process points discord.py at it with ``discord.http.Route.BASE = "http://127.0.0.1:8765/api/v10"`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("ws://127.0.0.1:8765/gateway")`` (as
``standin.run_bot`` does in-process). The log says what the stand-in refused and why:
invalid form bodies, 429s, gateway close codes, ignored requests. The first line printed to stdout
is ``standin listening on <base url>`` (with ``--port 0`` it names the port chosen).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from .server import StandIn

log = logging.getLogger("standin")


def load_world(path: Path | None) -> dict[str, Any]:
    """The world file as a dict (YAML is a superset of JSON, so one parser reads both)."""
    if path is None:
        return {"guilds": [{"name": "Study group", "channels": ["general"], "members": ["alice"]}]}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.suffix != ".json" else json.loads(path.read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: the world file must be a mapping with a 'guilds' list")
    return data


def build(world: dict[str, Any], *, host: str, port: int, shards: int | None) -> StandIn:
    options: dict[str, Any] = {
        key: world[key]
        for key in ("bot_name", "token", "max_concurrency", "heartbeat_interval", "enforce_identify_limit")
        if key in world
    }
    standin = StandIn(host=host, port=port, shards=shards or int(world.get("shards", 1)), **options)
    for spec in world.get("guilds", []):
        guild = standin.add_guild(spec["name"], channels=tuple(spec.get("channels") or ("general",)))
        for role in spec.get("roles", []):
            role = {"name": role} if isinstance(role, str) else role
            standin.add_role(guild, role["name"], permissions=int(role.get("permissions", 0)))
        for member in spec.get("members", []):
            member = {"name": member} if isinstance(member, str) else member
            roles = [guild.role(name) for name in member.get("roles", [])]
            standin.add_member(guild, member["name"], permissions=member.get("permissions"), roles=roles)
    return standin


async def serve(standin: StandIn) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with standin:
        print(f"standin listening on {standin.base_url}", flush=True)
        guilds = ", ".join(f"{g.name} ({g.id})" for g in standin.world.guilds.values())
        log.info(
            "REST %s, gateway %s, token %r, %d shard(s) recommended; guilds: %s",
            standin.api_base,
            standin.gateway_url,
            standin.token,
            standin.shards,
            guilds or "none",
        )
        await stop.wait()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standin", description="A local stand-in of Discord.")
    parser.add_argument("--world", type=Path, help="YAML or JSON file: guilds, channels, roles, members, shards")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    parser.add_argument("--shards", type=int, help="shard count GET /gateway/bot recommends (overrides the file)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO (default) or WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    standin = build(load_world(args.world), host=args.host, port=args.port, shards=args.shards)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(standin))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
