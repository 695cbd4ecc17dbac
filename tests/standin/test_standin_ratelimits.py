"""Discord's HTTP rate limits: headers on every answer, 429 past a bucket or the global limit, and
discord.py pacing itself from the headers so a burst never meets a 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import discord
import pytest

from standin import Guild, StandIn, run_bot
from standin.ratelimits import RateLimiter

MESSAGES = ("POST", "/channels/{channel_id}/messages")
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After")


@pytest.fixture
async def http(discord_: StandIn) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(discord_.base_url, headers={"Authorization": f"Bot {discord_.token}"}) as s:
        yield s


async def test_every_answer_carries_the_bucket_headers(
    discord_: StandIn, guild: Guild, http: aiohttp.ClientSession
) -> None:
    path = f"/api/v10/channels/{guild.default_channel.id}/messages"
    remaining = []
    for n in range(3):
        async with http.post(path, json={"content": f"note {n}"}) as resp:
            assert resp.status == 200
            assert all(h in resp.headers for h in HEADERS), dict(resp.headers)
            remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
            bucket = resp.headers["X-RateLimit-Bucket"]
    assert remaining == [4, 3, 2]
    async with http.get(f"/api/v10/channels/{guild.default_channel.id}") as resp:
        assert resp.headers["X-RateLimit-Bucket"] != bucket  # another route, another bucket


async def test_exceeding_a_bucket_answers_429_with_retry_after(
    discord_: StandIn, guild: Guild, http: aiohttp.ClientSession
) -> None:
    path = f"/api/v10/channels/{guild.default_channel.id}/messages"
    for n in range(5):
        async with http.post(path, json={"content": f"note {n}"}) as resp:
            assert resp.status == 200
    async with http.post(path, json={"content": "one too many"}) as resp:
        body = await resp.json()
        assert resp.status == 429
        assert resp.headers["X-RateLimit-Scope"] == "user"
        assert resp.headers["X-RateLimit-Remaining"] == "0"
    assert body["global"] is False
    assert 0 < body["retry_after"] <= 5.0
    assert [m.content for m in discord_.channel_messages(guild.default_channel)][-1] == "note 4"  # nothing posted
    other = discord_.add_channel(guild, "other")
    async with http.post(f"/api/v10/channels/{other.id}/messages", json={"content": "elsewhere"}) as resp:
        assert resp.status == 200  # buckets are per top-level resource (channel)
    assert discord_.response_violations == []  # the 429 body matches the spec (without its `code`, see README)


async def test_global_limit_spans_routes_but_not_interactions() -> None:
    limiter = RateLimiter(global_limit=(3, 30.0))
    async with StandIn(rate_limits=limiter) as standin:
        g = standin.add_guild("G")
        headers = {"Authorization": f"Bot {standin.token}"}
        async with aiohttp.ClientSession(standin.base_url, headers=headers) as http:
            for path in ("/api/v10/users/@me", f"/api/v10/guilds/{g.id}", f"/api/v10/guilds/{g.id}/roles"):
                async with http.get(path) as resp:
                    assert resp.status == 200
            async with http.get(f"/api/v10/guilds/{g.id}/channels") as resp:
                body = await resp.json()
                assert resp.status == 429
                assert resp.headers["X-RateLimit-Global"] == "true"
                assert resp.headers["X-RateLimit-Scope"] == "global"
            assert body["global"] is True
            async with http.post("/api/v10/interactions/1/tok/callback", json={"type": 1}) as resp:
                assert resp.status == 404  # reached the route (unknown interaction), not refused with 429


async def test_a_burst_is_paced_by_discord_py_without_any_429(make_bot: Callable) -> None:
    """12 messages to one channel with a 5-per-second bucket: discord.py waits on Remaining=0 itself."""
    limiter = RateLimiter(limits={MESSAGES: (5, 1.0)})
    async with StandIn(rate_limits=limiter) as standin:
        guild = standin.add_guild("Study group")
        async with run_bot(make_bot(sync=False), standin) as bot:
            channel = bot.get_channel(guild.default_channel.id)
            assert isinstance(channel, discord.TextChannel)
            started = time.perf_counter()
            await asyncio.gather(*(channel.send(f"card {n}") for n in range(12)))
            elapsed = time.perf_counter() - started
        posted = standin.find_requests("POST", f"/channels/{guild.default_channel.id}/messages")
        assert [r.status for r in posted] == [200] * 12
        assert limiter.limited == []
        assert elapsed >= 1.5, elapsed  # three windows of five: at least two waits for the reset
        standin.assert_discord_accepted()
