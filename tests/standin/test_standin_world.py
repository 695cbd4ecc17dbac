"""REST semantics, gateway events and the bot's view of a changing world."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from standin import Guild, Member, StandIn, run_bot
from standin.state import VIEW_CHANNEL


async def _call(standin: StandIn, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {standin.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, standin.api_base + path, json=body) as resp,
    ):
        data = await resp.json() if resp.headers.get("Content-Type") == "application/json" else None
        return resp.status, data


async def test_channel_messages_history_edit_delete(discord_: StandIn, guild: Guild) -> None:
    channel = guild.channel("study")
    ids = []
    for text in ("one", "two", "three"):
        status, message = await _call(discord_, "POST", f"/channels/{channel.id}/messages", {"content": text})
        assert status == 200
        ids.append(message["id"])
    status, history = await _call(discord_, "GET", f"/channels/{channel.id}/messages?limit=2")
    assert [m["content"] for m in history] == ["three", "two"]
    status, older = await _call(discord_, "GET", f"/channels/{channel.id}/messages?before={ids[1]}")
    assert [m["content"] for m in older] == ["one"]
    status, newer = await _call(discord_, "GET", f"/channels/{channel.id}/messages?after={ids[0]}")
    assert [m["content"] for m in newer] == ["three", "two"]
    status, edited = await _call(discord_, "PATCH", f"/channels/{channel.id}/messages/{ids[0]}", {"content": "1"})
    assert edited["content"] == "1"
    assert edited["edited_timestamp"] is not None
    status, _ = await _call(discord_, "DELETE", f"/channels/{channel.id}/messages/{ids[0]}")
    assert status == 204
    status, gone = await _call(discord_, "GET", f"/channels/{channel.id}/messages/{ids[0]}")
    assert (status, gone["code"]) == (404, 10008)
    status, empty = await _call(discord_, "POST", f"/channels/{channel.id}/messages", {"content": ""})
    assert (status, empty["code"]) == (400, 50006)


async def test_hidden_channel_is_missing_access(discord_: StandIn, guild: Guild) -> None:
    secret = discord_.add_channel(guild, "mods-only")
    discord_.set_channel_permissions(secret, guild, deny=VIEW_CHANNEL)
    status, body = await _call(discord_, "POST", f"/channels/{secret.id}/messages", {"content": "hi"})
    assert (status, body["code"]) == (403, 50001)
    discord_.set_channel_permissions(secret, discord_.bot_member(guild), allow=VIEW_CHANNEL)
    status, _ = await _call(discord_, "POST", f"/channels/{secret.id}/messages", {"content": "hi"})
    assert status == 200


async def test_invalid_command_sync_is_rejected(discord_: StandIn) -> None:
    path = f"/applications/{discord_.application_id}/commands"
    status, body = await _call(discord_, "PUT", path, [{"name": "Define", "description": "d"}])
    assert status == 400
    assert body["errors"]["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
    assert discord_.commands() == []
    status, body = await _call(discord_, "PUT", path, [{"name": "define", "description": "d"}])
    first_id = body[0]["id"]
    status, body = await _call(discord_, "PUT", path, [{"name": "define", "description": "new"}])
    assert body[0]["id"] == first_id  # bulk overwrite keeps ids of unchanged names
    assert discord_.sync_count == 3


async def test_guild_and_channel_events_reach_the_bot(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(), discord_) as bot:
        lab = discord_.add_guild("Lab meeting")
        await discord_.changes.wait_for(lambda: bot.get_guild(lab.id), 2, "GUILD_CREATE")
        journal = discord_.add_channel(lab, "journal-club")
        await discord_.changes.wait_for(lambda: bot.get_channel(journal.id), 2, "CHANNEL_CREATE")
        discord_.remove_channel(journal)
        await discord_.changes.wait_for(lambda: bot.get_channel(journal.id) is None, 2, "CHANNEL_DELETE")
        discord_.remove_guild(lab)
        await discord_.changes.wait_for(lambda: bot.get_guild(lab.id) is None, 2, "GUILD_DELETE")
        mods = discord_.add_role(guild, "mods", permissions=1 << 5)
        await discord_.changes.wait_for(lambda: bot.get_guild(guild.id).get_role(mods.id), 2, "GUILD_ROLE_CREATE")
        assert bot.get_guild(guild.id).get_role(mods.id).permissions.manage_guild
    assert bot.is_closed()


async def test_user_messages_respect_message_content_intent(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    bot = make_bot()
    seen: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        if message.author.id == alice.id:
            seen.append(message)

    bot.add_listener(on_message)
    async with run_bot(bot, discord_):
        discord_.user_message(guild, alice, "hello there")
        discord_.user_message(guild, alice, f"hello <@{discord_.bot_user.id}>")
        await discord_.changes.wait_for(lambda: len(seen) == 2, 2, "two messages")
    assert seen[0].content == ""  # no message_content intent
    assert seen[1].content == f"hello <@{discord_.bot_user.id}>"
    assert seen[1].mentions[0].id == discord_.bot_user.id


async def test_heartbeats_are_acknowledged(make_bot: Callable) -> None:
    async with StandIn(heartbeat_interval=40) as standin:
        standin.add_guild("Study group")
        async with run_bot(make_bot(), standin) as bot:
            await standin.changes.wait_for(lambda: standin.gateway.heartbeats >= 3, 2, "three heartbeats")
            await standin.changes.wait_for(lambda: bot.latency < 1, 2, "an ACK (after its round trip)")
            assert len(standin.identifies) == 1


async def test_zlib_stream_gateway(make_bot: Callable) -> None:
    async with StandIn(compress_gateway=True) as standin:
        guild = standin.add_guild("Study group")
        alice = standin.add_member(guild, "alice")
        async with run_bot(make_bot(), standin):
            assert standin.gateway.connections[0].query["compress"] == "zlib-stream"
            assert standin.gateway.connections[0].compress is not None
            result = await standin.slash(guild, alice, "define", term="antibody")
    assert result.response is not None


async def test_late_responses_are_flagged_and_can_be_enforced(make_bot: Callable) -> None:
    async with StandIn(enforce_deadline=True) as standin:
        guild = standin.add_guild("Study group")
        alice = standin.add_member(guild, "alice")
        async with run_bot(make_bot(), standin):
            on_time = await standin.slash(guild, alice, "define", term="antibody")
            late = await standin.slash(guild, alice, "define", term="antigen", wait=False)
            late.dispatched_at -= 3.5  # as if the bot had taken 3.5 s
            rejection = await late.wait_rejection()
            await asyncio.sleep(0.05)
    assert not on_time.late
    assert rejection.response == {"code": 10062, "message": "Unknown interaction"}
    assert late.response is None
    assert standin.late_interactions == [late]
