"""The gateway holds clients to Discord's protocol: heartbeats, close codes, intents and shards.

Raw websocket clients send the violating payload and see the close code Discord documents
(opcodes-and-status-codes.mdx); discord.py bots show the well-behaved side.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from standin import StandIn, run_bot
from standin.gateway import GUILD_MEMBERS, GUILDS

INTENTS = GUILDS | (1 << 9) | (1 << 12)  # guilds, guild messages, direct messages


@asynccontextmanager
async def gateway(standin: StandIn) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as http, http.ws_connect(standin.gateway_url + "?v=10&encoding=json") as ws:
        hello = await ws.receive_json(timeout=2)
        assert hello["op"] == 10
        yield ws


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes; the close code."""
    while True:
        msg = await ws.receive(timeout=3)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code
        assert msg.type is aiohttp.WSMsgType.TEXT


async def next_dispatch(ws: aiohttp.ClientWebSocketResponse, event: str) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json(timeout=3)
        if frame.get("t") == event:
            return frame["d"]


def identify(standin: StandIn, **extra: Any) -> dict[str, Any]:
    data = {"token": standin.token, "intents": INTENTS, "properties": {"os": "linux"}, **extra}
    return {"op": 2, "d": data}


async def test_silent_client_is_closed_and_a_heartbeating_one_stays() -> None:
    async with StandIn(heartbeat_interval=100, heartbeat_grace=0.1) as standin:
        async with gateway(standin) as silent:
            assert await closed_with(silent) == 4009
        assert any("no heartbeat" in r for r in standin.gateway.refusals)
        async with gateway(standin) as alive:
            for _ in range(8):  # 0.4 s: twice the allowed silence, with heartbeats every 50 ms
                await alive.send_json({"op": 1, "d": None})
                assert (await alive.receive_json(timeout=2))["op"] == 11
                await asyncio.sleep(0.05)
            assert not alive.closed


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        pytest.param(["{not json"], 4002, id="invalid-json-4002"),
        pytest.param(["[1, 2]"], 4002, id="not-an-object-4002"),
        pytest.param([json.dumps({"op": 1, "d": "x" * 4100})], 4002, id="over-4096-bytes-4002"),
        pytest.param([json.dumps({"op": 99, "d": None})], 4001, id="unknown-opcode-4001"),
        pytest.param([json.dumps({"op": 8, "d": {"guild_id": "1", "query": ""}})], 4003, id="before-identify-4003"),
    ],
)
async def test_bad_frames_close_with_discords_code(frames: list[str], code: int) -> None:
    async with StandIn() as standin, gateway(standin) as ws:
        for frame in frames:
            await ws.send_str(frame)
        assert await closed_with(ws) == code


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param({"token": "wrong"}, 4004, id="bad-token-4004"),
        pytest.param({"intents": 1 << 30}, 4013, id="invalid-intents-4013"),
        pytest.param({"intents": GUILDS | GUILD_MEMBERS}, 4014, id="privileged-intent-not-enabled-4014"),
        pytest.param({"shard": [2, 2]}, 4010, id="shard-id-out-of-range-4010"),
        pytest.param({"shard": [0, 0]}, 4010, id="zero-shards-4010"),
    ],
)
async def test_identify_refusals(extra: dict[str, Any], code: int) -> None:
    async with StandIn() as standin, gateway(standin) as ws:
        await ws.send_json(identify(standin, **extra))
        assert await closed_with(ws) == code
        assert standin.gateway.refusals


async def test_second_identify_on_a_connection_is_4005() -> None:
    async with StandIn() as standin, gateway(standin) as ws:
        await ws.send_json(identify(standin))
        await next_dispatch(ws, "READY")
        await ws.send_json(identify(standin))
        assert await closed_with(ws) == 4005


async def test_resume_with_a_sequence_never_sent_is_4007() -> None:
    async with StandIn() as standin:
        async with gateway(standin) as ws:
            await ws.send_json(identify(standin))
            ready = await next_dispatch(ws, "READY")
            await ws.close(code=4000)  # not 1000: a clean close would end the session
        resume = {"token": standin.token, "session_id": ready["session_id"]}
        async with gateway(standin) as ws:
            await ws.send_json({"op": 6, "d": {**resume, "seq": 999}})
            assert await closed_with(ws) == 4007
        async with gateway(standin) as ws:
            await ws.send_json({"op": 6, "d": {**resume, "seq": 1}})
            assert (await next_dispatch(ws, "RESUMED")) is not None


async def test_too_many_guilds_for_one_shard_is_4011() -> None:
    async with StandIn(max_guilds_per_shard=1) as standin:
        standin.add_guild("One")
        standin.add_guild("Two")
        async with gateway(standin) as ws:
            await ws.send_json(identify(standin))
            assert await closed_with(ws) == 4011


async def test_sending_too_fast_is_4008() -> None:
    async with StandIn(gateway_rate_limit=(5, 60.0)) as standin, gateway(standin) as ws:
        for _ in range(6):
            await ws.send_json({"op": 1, "d": None})
        assert await closed_with(ws) == 4008


async def test_server_can_request_a_heartbeat(make_bot: Callable) -> None:
    async with StandIn() as standin, run_bot(make_bot(sync=False), standin):
        before = standin.gateway.heartbeats  # discord.py's first heartbeat; the next is 41 s away
        standin.gateway.request_heartbeat()
        await standin.changes.wait_for(lambda: standin.gateway.heartbeats > before, 2, "a requested heartbeat")


async def test_heartbeat_latency_is_the_round_trip_not_the_interval(make_bot: Callable) -> None:
    """The console's "Can't keep up, websocket is 41s behind": an ACK faster than discord.py's keep-alive
    thread records its send time is measured against the previous heartbeat. The stand-in's ACK takes
    a round trip, so discord.py's latency stays far below the interval on every beat."""
    async with StandIn(heartbeat_interval=300) as standin:
        bot = make_bot(sync=False)
        async with run_bot(bot, standin):
            keep_alive = bot.ws._keep_alive
            assert keep_alive is not None
            seen: list[float] = []
            for n in range(2, 12):  # the race is not lost on every beat: watch ten
                await standin.changes.wait_for(lambda n=n: standin.gateway.heartbeats >= n, 3, f"heartbeat {n}")
                acked = keep_alive._last_ack
                await standin.changes.wait_for(lambda a=acked: keep_alive._last_ack > a, 3, f"ACK {n}")
                seen.append(keep_alive.latency)
            assert max(seen) < 0.25, seen  # the ACK's 0.1 s round trip, never the 0.3 s interval
        assert min(standin.gateway.ack_delays) >= standin.heartbeat_ack_delay >= 0.05  # the cause, checked directly


async def test_guild_create_members_follow_the_members_intent() -> None:
    async with StandIn() as standin:
        guild = standin.add_guild("Study group")
        standin.add_member(guild, "alice")
        async with gateway(standin) as ws:
            await ws.send_json(identify(standin))
            created = await next_dispatch(ws, "GUILD_CREATE")
            assert [m["user"]["id"] for m in created["members"]] == [str(standin.bot_user.id)]
            assert created["member_count"] == len(guild.members) == 3  # owner, bot, alice
            await ws.send_json({"op": 8, "d": {"guild_id": str(guild.id), "query": "", "limit": 0}})
            await standin.changes.wait_for(lambda: standin.gateway.refusals, 2, "the refused member request")
            assert "GUILD_MEMBERS" in standin.gateway.refusals[-1]
        standin.application_flags |= 1 << 15  # GATEWAY_GUILD_MEMBERS enabled in the portal
        async with gateway(standin) as ws:
            await ws.send_json(identify(standin, intents=INTENTS | GUILD_MEMBERS))
            created = await next_dispatch(ws, "GUILD_CREATE")
            assert len(created["members"]) == 3
            await ws.send_json({"op": 8, "d": {"guild_id": str(guild.id), "query": "", "limit": 0}})
            chunk = await next_dispatch(ws, "GUILD_MEMBERS_CHUNK")
            assert len(chunk["members"]) == 3


async def test_message_content_is_stripped_in_guilds_but_not_in_dms() -> None:
    async with StandIn() as standin:
        guild = standin.add_guild("Study group")
        alice = standin.add_member(guild, "alice")
        async with gateway(standin) as ws:
            await ws.send_json(identify(standin))
            await next_dispatch(ws, "READY")
            standin.user_message(guild, alice, "hello guild")
            assert (await next_dispatch(ws, "MESSAGE_CREATE"))["content"] == ""
            standin.user_message(None, alice, "hello dm")
            assert (await next_dispatch(ws, "MESSAGE_CREATE"))["content"] == "hello dm"


async def test_gateway_bot_recommends_shards_and_session_start_limit() -> None:
    async with (
        StandIn(shards=2, max_concurrency=2) as standin,
        aiohttp.ClientSession(headers={"Authorization": f"Bot {standin.token}"}) as http,
        http.get(standin.api_base + "/gateway/bot") as resp,
    ):
        body = await resp.json()
    assert body["shards"] == 2
    assert body["session_start_limit"]["max_concurrency"] == 2
    assert {"total", "remaining", "reset_after"} <= set(body["session_start_limit"])
    assert standin.response_violations == []


async def test_two_shards_coexist_and_events_follow_the_guild() -> None:
    async with StandIn(shards=2) as standin:
        guilds = []
        for i in range(6):
            standin.world.ids._last += 1 << 22  # the next id a millisecond later: guilds alternate shards
            guilds.append(standin.add_guild(f"G{i}"))
        owner = {g.id: (g.id >> 22) % 2 for g in guilds}
        assert set(owner.values()) == {0, 1}, "ids should land on both shards"
        alice = standin.add_member(guilds[0], "alice")
        async with gateway(standin) as ws0, gateway(standin) as ws1:
            await ws0.send_json(identify(standin, shard=[0, 2], intents=INTENTS | (1 << 15)))
            ready0 = await next_dispatch(ws0, "READY")
            await ws1.send_json(identify(standin, shard=[1, 2], intents=INTENTS | (1 << 15)))
            ready1 = await next_dispatch(ws1, "READY")
            assert (ready0["shard"], ready1["shard"]) == ([0, 2], [1, 2])
            assert {int(g["id"]) for g in ready0["guilds"]} == {g for g, s in owner.items() if s == 0}
            assert {int(g["id"]) for g in ready1["guilds"]} == {g for g, s in owner.items() if s == 1}
            assert standin.gateway.by_shard[0].valid
            assert standin.gateway.by_shard[1].valid
            shard_ws = ws0 if owner[guilds[0].id] == 0 else ws1
            standin.user_message(guilds[0], alice, "in a guild")
            assert (await next_dispatch(shard_ws, "MESSAGE_CREATE"))["content"] == "in a guild"
            standin.user_message(None, alice, "a dm")
            assert (await next_dispatch(ws0, "MESSAGE_CREATE"))["content"] == "a dm"  # DMs: shard 0


async def test_identify_faster_than_max_concurrency_gets_invalid_session() -> None:
    standin = StandIn(shards=2, max_concurrency=1, enforce_identify_limit=True)
    async with standin, gateway(standin) as ws0, gateway(standin) as ws1:
        await ws0.send_json(identify(standin, shard=[0, 2]))
        await next_dispatch(ws0, "READY")
        await ws1.send_json(identify(standin, shard=[1, 2]))  # same bucket (1 % 1), within 5 s
        frame = await ws1.receive_json(timeout=2)
        assert (frame["op"], frame["d"]) == (9, False)
    standin = StandIn(shards=2, max_concurrency=2, enforce_identify_limit=True)
    async with standin, gateway(standin) as ws0, gateway(standin) as ws1:
        await ws0.send_json(identify(standin, shard=[0, 2]))
        await ws1.send_json(identify(standin, shard=[1, 2]))  # buckets 0 and 1: allowed together
        await next_dispatch(ws0, "READY")
        await next_dispatch(ws1, "READY")


async def test_compression_is_on_by_default_when_asked(make_bot: Callable) -> None:
    async with StandIn() as standin, run_bot(make_bot(sync=False), standin):
        conn = standin.gateway.connections[0]
        assert conn.query.get("compress") == "zlib-stream"
        assert conn.compress is not None
