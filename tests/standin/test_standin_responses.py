"""Every body the stand-in answers is one Discord's spec documents for that route and status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from standin import Guild, Member, StandIn, Upload, run_bot
from standin.state import User


async def _session(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    """A representative session: sync, slash with embed, components, select, modal, files, defer + followups."""
    async with run_bot(make_bot(), discord_) as bot:
        await discord_.slash(guild, alice, "define", term="antigen")
        await discord_.autocomplete(guild, alice, "define", focused="term", term="immu")
        menu = await discord_.slash(guild, alice, "menu")
        await discord_.click(guild, alice, menu, "menu:more")
        await discord_.select(guild, alice, menu, "menu:pick", ["bcells"])
        await discord_.slash(guild, alice, "feedback")
        await discord_.submit_modal(guild, alice, "feedback_modal", {"feedback_text": "great bot"})
        await discord_.slash(guild, alice, "card")
        slow = await discord_.slash(guild, alice, "slow")
        await slow.wait_followup(2)
        await discord_.slash(guild, alice, "upload", notes=Upload("notes.md", b"# T cells\n"), weight=2.5)
        await discord_.slash(guild, alice, "daily set", channel=guild.channel("study"))
        await discord_.slash(guild, alice, "panel")
        await bot.fetch_channel(guild.default_channel.id)
        await bot.fetch_guild(guild.id)
        await bot.application_info()
        assert [m async for m in guild_channel(bot, guild).history(limit=5)]


def guild_channel(bot: Any, guild: Guild) -> Any:
    return bot.get_channel(guild.channel("study").id)


async def test_a_representative_session_answers_only_spec_valid_bodies(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    await _session(discord_, guild, alice, make_bot)
    assert discord_.validated_responses >= 20
    assert discord_.validated_responses == len([r for r in discord_.requests if r.route and not r.fault])
    assert discord_.response_violations == []
    message = next(
        r.response for r in discord_.requests if r.route == "/channels/{channel_id}/messages" and r.method == "POST"
    )
    assert "guild_id" not in message  # REST message objects carry no guild_id / member (gateway events do)
    assert "member" not in message
    assert {"flags", "primary_guild"} <= set(message["author"])
    menu = next(i for i in discord_.interactions if (i.payload.get("data") or {}).get("name") == "menu")
    assert menu.message is not None
    assert all(isinstance(c.get("id"), int) for c in menu.message.iter_components())  # ids Discord assigns
    sync = discord_.sync_requests[0].response
    assert all(
        c["default_member_permissions"] is None or isinstance(c["default_member_permissions"], str) for c in sync
    )


async def test_an_off_spec_answer_is_caught(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the stand-in drifted from the spec (a user object without `flags`), the check would say so."""
    original = User.to_dict

    def without_flags(self: User) -> dict[str, Any]:
        data = original(self)
        del data["flags"]
        return data

    monkeypatch.setattr(User, "to_dict", without_flags)
    async with run_bot(make_bot(sync=False), discord_):
        await discord_.slash(guild, alice, "define", term="antigen") if discord_.commands() else None
    assert any("'flags' is a required property" in v for v in discord_.response_violations)
    with pytest.raises(AssertionError, match="flags"):
        discord_.assert_discord_accepted()
    discord_.response_violations.clear()  # the fixture's own teardown check should pass now


async def test_every_route_answers_a_spec_valid_body(discord_: StandIn, guild: Guild, alice: Member) -> None:
    """Each of the stand-in's routes once, with a valid request: every answer matches the spec."""
    discord_.set_bot_permissions(guild, 0x10000000 | 0x8000000 | 0x2 | 0x4 | 0x10000000000 | 0x2000 | 0x4C00)
    role = discord_.add_role(guild, "Helpers")
    channel = guild.default_channel
    app = discord_.application_id
    cmd = {
        "name": "define",
        "description": "Define a term",
        "options": [{"type": 3, "name": "term", "description": "t"}],
    }
    calls: list[tuple[str, str, object]] = [
        ("GET", "/users/@me", None),
        ("GET", f"/users/{alice.id}", None),
        ("POST", "/users/@me/channels", {"recipient_id": str(alice.id)}),
        ("GET", "/oauth2/applications/@me", None),
        ("GET", "/applications/@me", None),
        ("GET", "/gateway", None),
        ("GET", "/gateway/bot", None),
        ("PUT", f"/applications/{app}/commands", [cmd]),
        ("GET", f"/applications/{app}/commands", None),
        ("POST", f"/applications/{app}/commands", {**cmd, "name": "search"}),
        ("PUT", f"/applications/{app}/guilds/{guild.id}/commands", [cmd]),
        ("GET", f"/applications/{app}/guilds/{guild.id}/commands", None),
        ("GET", f"/channels/{channel.id}", None),
        ("POST", f"/channels/{channel.id}/messages", {"content": "hi", "components": [
            {"type": 1, "components": [{"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}]}]}),
        ("GET", f"/channels/{channel.id}/messages?limit=10", None),
        ("POST", f"/channels/{channel.id}/typing", None),
        ("GET", f"/guilds/{guild.id}", None),
        ("GET", f"/guilds/{guild.id}/channels", None),
        ("GET", f"/guilds/{guild.id}/roles", None),
        ("GET", f"/guilds/{guild.id}/members/{alice.id}", None),
        ("PATCH", f"/guilds/{guild.id}/members/{alice.id}", {"nick": "Al"}),
        ("PUT", f"/guilds/{guild.id}/members/{alice.id}/roles/{role.id}", None),
        ("DELETE", f"/guilds/{guild.id}/members/{alice.id}/roles/{role.id}", None),
    ]  # fmt: skip
    async with aiohttp.ClientSession(discord_.base_url, headers={"Authorization": f"Bot {discord_.token}"}) as http:
        for method, path, body in calls:
            async with http.request(method, "/api/v10" + path, json=body) as resp:
                assert resp.status < 300, (method, path, resp.status, await resp.text())
        posted = discord_.channel_messages(channel)[-1]
        command_id = discord_.commands()[0]["id"]
        for method, path, body in [
            ("GET", f"/channels/{channel.id}/messages/{posted.id}", None),
            ("PATCH", f"/channels/{channel.id}/messages/{posted.id}", {"content": "edited"}),
            ("GET", f"/applications/{app}/commands/{command_id}", None),
            ("PATCH", f"/applications/{app}/commands/{command_id}", {"description": "Look up"}),
            ("DELETE", f"/applications/{app}/commands/{command_id}", None),
            ("DELETE", f"/channels/{channel.id}/messages/{posted.id}", None),
            ("DELETE", f"/guilds/{guild.id}/members/{alice.id}", None),
        ]:
            async with http.request(method, "/api/v10" + path, json=body) as resp:
                assert resp.status < 300, (method, path, resp.status, await resp.text())
    assert discord_.validated_responses == 30
    assert discord_.response_violations == []
