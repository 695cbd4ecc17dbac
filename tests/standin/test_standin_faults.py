"""Fault injection: rate limits, server errors, gateway drops, restarts, crashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
import discord
import pytest

from standin import Guild, Member, StandIn, run_bot


async def test_rate_limited_callback_is_retried(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(), discord_):
        fault = discord_.fail_next("POST", "/interactions/*/callback", status=429, retry_after=0.05)
        result = await discord_.slash(guild, alice, "define", term="antibody")
    attempts = discord_.find_requests("POST", "/interactions/*/callback")
    assert [r.status for r in attempts] == [429, 200]
    assert fault.hits == 1
    assert attempts[0].fault
    assert attempts[0].response["retry_after"] == 0.05
    assert attempts[1].at - attempts[0].at >= 0.05
    assert result.response is not None
    assert result.response.request is attempts[1]
    assert result.rejections == [attempts[0]]


async def test_429_without_via_is_not_retried(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(), discord_):
        discord_.fail_next("POST", "/interactions/*/callback", status=429, via=False)
        result = await discord_.slash(guild, alice, "define", term="antibody", wait=False)
        await result.wait_rejection()
        await asyncio.sleep(0.1)
    assert result.response is None
    assert result.late
    assert len(discord_.find_requests("POST", "/interactions/*/callback")) == 1


async def test_server_error_is_seen_and_retried(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(), discord_):
        discord_.fail_next("POST", "/channels/*/messages", status=500)
        result = await discord_.slash(guild, alice, "daily set", channel=guild.channel("study"), within=5)
    statuses = [r.status for r in discord_.find_requests("POST", "/channels/*/messages")]
    assert statuses == [500, 200]  # discord.py waits 1 s, then retries a 500
    assert result.response is not None
    assert result.response.content is not None
    assert result.response.content.startswith("Daily concept channel set")
    assert result.latency is not None
    assert result.latency > 1


@pytest.mark.parametrize("abrupt", [False, True])
async def test_gateway_drop_resumes(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable, abrupt: bool
) -> None:
    bot = make_bot()
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)
    async with run_bot(bot, discord_):
        discord_.drop_gateway(abrupt=abrupt)
        # Dispatched while the bot is away: kept in the session and replayed on RESUME.
        missed = await discord_.slash(guild, alice, "define", term="antigen", wait=False)
        record = await discord_.wait_for_resume()
        await missed.wait_response()
        await asyncio.wait_for(resumed.wait(), 2)
        after = await discord_.slash(guild, alice, "define", term="cytokine")
    assert record.path == "/gateway/resume"
    assert discord_.gateway.records[0].op == "IDENTIFY"
    assert record.replayed >= 1
    assert len(discord_.identifies) == 1
    assert after.response is not None
    assert after.response.embeds[0]["title"] == "cytokine"


async def test_invalid_session_reidentifies(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        discord_.invalidate_session(resumable=False)
        await discord_.wait_for_identify(2)
        await discord_.changes.wait_for(lambda: discord_.connected, 2, "reconnection")
        result = await discord_.slash(guild, alice, "define", term="antigen")
    assert result.response is not None
    assert discord_.resumes == []


async def test_persistent_view_survives_restart(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(), discord_) as first:
        panel = await discord_.slash(guild, alice, "panel")
    assert not discord_.connected
    async with run_bot(make_bot(sync=False), discord_):
        click = await discord_.click(guild, alice, panel.message_id, "panel:ping")
    assert discord_.sync_count == 1  # the second bot did not sync
    assert click.response is not None
    assert click.response.content == f"pong from {first.user.id}"
    assert len(discord_.identifies) == 2
    assert click.payload["message"]["id"] == str(panel.message_id)


async def _start_and_stop(bot: discord.Client, standin: StandIn) -> None:
    async with run_bot(bot, standin):
        pass


async def test_startup_failure_surfaces_immediately(discord_: StandIn, guild: Guild, make_bot: Callable) -> None:
    discord_.fail_next("GET", "/users/@me", status=401, body={"message": "401: Unauthorized", "code": 0})
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(discord.LoginFailure):
        await _start_and_stop(make_bot(), discord_)
    assert loop.time() - started < 1


async def _crash_then_slash(bot: discord.Client, standin: StandIn, guild: Guild, alice: Member) -> None:
    async with run_bot(bot, standin):
        standin.dispatch("MESSAGE_CREATE", {"id": "1"})  # malformed: discord.py's parser raises KeyError
        await standin.slash(guild, alice, "define", term="antigen", within=5)


async def test_bot_crash_fails_waits_fast(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(AssertionError, match="the bot stopped with KeyError"):
        await _crash_then_slash(make_bot(), discord_, guild, alice)
    assert loop.time() - started < 1


async def test_unknown_endpoint_and_exact_content_type(discord_: StandIn) -> None:
    headers = {"Authorization": f"Bot {discord_.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{discord_.api_base}/users/@me") as resp:
            assert resp.headers["Content-Type"] == "application/json"
        async with session.post(f"{discord_.api_base}/guilds/1/stickers", json={"x": 1}) as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
        async with session.get(f"{discord_.api_base}/channels/123") as resp:
            assert resp.status == 404
            assert json.loads(await resp.read()) == {"code": 10003, "message": "Unknown Channel"}
    async with aiohttp.ClientSession() as session, session.get(f"{discord_.api_base}/users/@me") as resp:
        assert resp.status == 401
    (unknown,) = discord_.unknown_requests
    assert (unknown.method, unknown.path, unknown.json) == ("POST", "/guilds/1/stickers", {"x": 1})


async def test_second_callback_is_rejected(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "define", term="antigen")
    url = f"{discord_.api_base}/interactions/{result.id}/{result.token}/callback"
    body = {"type": 4, "data": {"content": "again"}}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == 40060
    assert result.rejections[-1].json == body


@pytest.mark.parametrize("act", [True, False])
async def test_a_held_request_is_acted_on_or_dropped_after_its_sender_went_away(
    discord_: StandIn, guild: Guild, act: bool
) -> None:
    """A test holds a send, kills the sender, then decides whether Discord had acted (crash-recovery tests)."""
    channel = guild.channel("general")
    hold = discord_.hold_next("POST", f"/channels/{channel.id}/messages")
    headers = {"Authorization": f"Bot {discord_.token}"}
    async with aiohttp.ClientSession() as http:  # the sender, gone before Discord answers
        sending = asyncio.create_task(
            http.post(f"{discord_.api_base}/channels/{channel.id}/messages", json={"content": "hi"}, headers=headers)
        )
        await asyncio.wait_for(hold.reached.wait(), 10)
        sending.cancel()
    assert discord_.channel_messages(channel) == []
    hold.release() if act else hold.drop()
    await discord_.changes.wait_for(lambda: hold.request is not None and hold.request.status, 10, "the answer")
    assert hold.request is not None
    assert hold.request.status == (200 if act else 500)
    assert [message.content for message in discord_.channel_messages(channel)] == (["hi"] if act else [])
