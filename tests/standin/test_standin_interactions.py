"""Every interaction kind round-trips between the stand-in and an unmodified discord.py bot."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import discord
import pytest

from standin import Guild, Member, StandIn, Upload, run_bot
from standin.state import SEND_MESSAGES


async def test_startup_syncs_and_logs_in(discord_: StandIn, guild: Guild, make_bot: Callable) -> None:
    bot = make_bot()
    async with run_bot(bot, discord_):
        assert bot.user is not None
        assert bot.user.id == discord_.bot_user.id
        assert bot.application_id == discord_.application_id
        assert [g.id for g in bot.guilds] == [guild.id]
        me = bot.guilds[0].me
        assert me.guild_permissions.send_messages
        assert not me.guild_permissions.manage_guild
        assert discord_.sync_count == 1
        names = {c["name"] for c in discord_.commands()}
        assert {"define", "daily", "menu", "feedback", "card", "huge", "slow", "panel", "whois"} <= names
        assert all(c["id"].isdigit() for c in discord_.commands())
        first = discord_.requests[0]
        assert (first.method, first.path) == ("GET", "/users/@me")
        assert first.headers["Authorization"] == f"Bot {discord_.token}"
    assert discord_.identifies[0].data["intents"] == bot.intents.value
    assert not discord_.connected


async def test_slash_with_embed(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "define", term="antigen")
    assert result.response is not None
    assert result.response.type == 4
    assert result.response.embeds[0]["title"] == "antigen"
    assert result.message is not None
    assert result.message.channel_id == guild.default_channel.id
    assert discord_.world.channel_messages(guild.default_channel.id)[-1].id == result.message_id
    assert result.latency is not None
    assert not result.late
    assert result.message.interaction_metadata is not None
    assert result.message.interaction_metadata["user"]["id"] == str(alice.id)


async def test_autocomplete(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.autocomplete(guild, alice, "define", focused="term", term="immu")
    assert result.response is not None
    assert result.response.type == 8
    assert [c["name"] for c in result.choices] == ["immunotherapy", "immunogenicity"]
    assert result.payload["data"]["options"] == [{"type": 3, "name": "term", "value": "immu", "focused": True}]
    assert result.message is None


async def test_subcommand_with_channel_option(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    study = guild.channel("study")
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "daily set", channel=study)
    assert result.response is not None
    assert result.response.ephemeral
    assert result.response.content == f"Daily concept channel set to <#{study.id}>"
    posted = discord_.find_requests("POST", f"/channels/{study.id}/messages")
    assert [r.status for r in posted] == [200]
    assert [m.content for m in discord_.world.channel_messages(study.id)] == ["Daily concepts will appear here."]
    option = result.payload["data"]["options"][0]
    assert option["type"] == 1
    assert option["options"][0] == {"type": 7, "name": "channel", "value": str(study.id)}
    assert str(study.id) in result.payload["data"]["resolved"]["channels"]


async def test_channel_permissions_are_enforced(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    study = guild.channel("study")
    async with run_bot(make_bot(), discord_):
        discord_.set_channel_permissions(study, discord_.bot_role(guild), deny=SEND_MESSAGES)
        result = await discord_.slash(guild, alice, "daily set", channel=study)
    assert result.response is not None
    assert result.response.content == f"I cannot post in <#{study.id}> (50013)"
    rejected = discord_.find_requests("POST", f"/channels/{study.id}/messages", status=403)
    assert rejected[0].response == {"code": 50013, "message": "Missing Permissions"}
    assert int(result.payload["app_permissions"]) & SEND_MESSAGES == SEND_MESSAGES  # default channel unaffected


async def test_user_and_boolean_options(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    mod = discord_.add_member(guild, "bob", permissions=1 << 5)
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "whois", member=mod, loud=True)
        quiet = await discord_.slash(guild, alice, "whois", member=mod)
        with pytest.raises(AssertionError, match="unknown option"):
            await discord_.slash(guild, alice, "whois", member=mod, volume=3)
        with pytest.raises(AssertionError, match="required option"):
            await discord_.slash(guild, alice, "whois")
        with pytest.raises(AssertionError, match="is a boolean"):
            await discord_.slash(guild, alice, "whois", member=mod, loud="yes")
    assert result.response is not None
    assert result.response.content == f"<@{mod.id}> (bob) has 2 roles, loud=True"
    assert result.message is not None
    assert [u.id for u in result.message.mentions] == [mod.id]
    assert quiet.message is not None
    assert quiet.message.allowed_mentions == {"parse": [], "replied_user": True}
    assert quiet.message.mentions == []
    assert result.payload["data"]["resolved"]["members"][str(mod.id)]["roles"] == [str(mod.roles[0])]


async def test_button_and_select(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        menu = await discord_.slash(guild, alice, "menu")
        assert menu.response is not None
        assert menu.response.custom_ids == ["menu:more", "menu:pick"]
        click = await discord_.click(guild, alice, menu.message_id, "menu:more")
        chosen = await discord_.select(guild, alice, menu, "menu:pick", ["bcells"])
        with pytest.raises(AssertionError, match="disabled"):
            await discord_.click(guild, alice, menu, "menu:more")
        with pytest.raises(AssertionError, match="no option"):
            await discord_.select(guild, alice, menu, "menu:pick", ["nk"])
    assert click.response is not None
    assert click.response.type == 7
    assert click.message_id == menu.message_id
    assert click.edits[0].via == "callback"
    assert menu.message is not None
    assert menu.message.content == "Here is more."
    assert menu.message.component("menu:more")["disabled"] is True
    assert chosen.response is not None
    assert chosen.response.content == "You picked bcells"
    assert chosen.payload["message"]["id"] == str(menu.message_id)


async def test_modal_round_trip(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        opened = await discord_.slash(guild, alice, "feedback")
        assert opened.modal is not None
        assert opened.modal["title"] == "Feedback"
        submitted = await discord_.submit_modal(guild, alice, "feedback_modal", {"feedback_text": "great bot"})
        with pytest.raises(AssertionError, match="no field"):
            await discord_.submit_modal(guild, alice, "feedback_modal", {"nope": "x"})
    assert submitted.response is not None
    assert submitted.response.content == "Thanks: great bot"
    assert submitted.response.ephemeral
    assert submitted.message is not None
    assert submitted.message.ephemeral
    assert discord_.world.channel_messages(guild.default_channel.id) == []


async def test_file_attachment(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "card")
    assert result.response is not None
    assert [f.filename for f in result.response.request.files] == ["card.csv"]
    (attachment,) = result.response.attachments
    assert attachment.filename == "card.csv"
    assert attachment.content == b"antibody,Y-shaped protein\n"
    assert attachment.content_type == "text/csv"
    async with aiohttp.ClientSession() as session, session.get(attachment.url) as resp:
        assert await resp.read() == attachment.content


async def test_too_long_embed_gets_400(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "huge")
    rejection = result.rejections[0]
    assert rejection.status == 400
    assert rejection.response["code"] == 50035
    errors = rejection.response["errors"]["data"]["embeds"]["0"]["description"]["_errors"]
    assert errors[0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert result.response is not None
    assert result.response.content == "That was too long (50035)"


async def test_defer_then_followups(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "slow")
        first = await result.wait_followup(1)
        second = await result.wait_followup(2)
    assert result.response is not None
    assert result.response.type == 5
    assert first.id == result.message_id  # the first followup replaces the "thinking" message
    assert first.content == "Done thinking."
    assert not first.flags & (1 << 7)
    assert second.id != first.id
    assert second.content == "And one more thing."
    assert second.ephemeral
    assert [a.content for a in second.attachments] == [b"more notes"]
    posted = discord_.find_requests("POST", "/webhooks/*")
    assert [r.query.get("wait") for r in posted] == ["1", "1"]
    assert posted[1].files[0].field == "files[0]"


async def test_dm_interaction(discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(None, alice, "define", term="cytokine")
    assert "member" not in result.payload
    assert result.payload["user"]["id"] == str(alice.id)
    assert result.payload["context"] == 1
    assert result.response is not None
    assert result.response.embeds[0]["title"] == "cytokine"
    assert result.message is not None
    assert result.message.channel_id == discord_.dm_channel(alice).id


async def test_preloaded_commands_without_sync(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(sync=False), discord_, preload=True):
        result = await discord_.slash(guild, alice, "daily set", options={"channel": guild.channel("study")})
    assert discord_.sync_count == 0
    assert result.response is not None
    assert result.response.content is not None
    assert result.response.content.startswith("Daily concept channel set")


async def test_unanswered_interaction_times_out_clearly(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    discord_.register_commands([{"name": "ghost", "description": "The bot has no such command"}])
    async with run_bot(make_bot(sync=False), discord_):
        with pytest.raises(AssertionError, match=r"timed out after 0.2s waiting for the bot to answer"):
            await discord_.slash(guild, alice, "ghost", within=0.2)
    assert discord_.late_interactions == discord_.interactions


async def test_default_member_permissions_are_enforced(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    mod = discord_.add_member(guild, "mod", permissions=discord.Permissions(manage_guild=True))
    async with run_bot(make_bot(), discord_):
        with pytest.raises(AssertionError, match="would not offer /modtools to 'alice'"):
            await discord_.slash(guild, alice, "modtools")
        with pytest.raises(AssertionError, match="would not offer /modtools in DMs"):
            await discord_.slash(None, mod, "modtools")
        result = await discord_.slash(guild, mod, "modtools")
    assert result.response is not None
    assert result.response.content == "Moderator tools"
    assert int(result.payload["member"]["permissions"]) & (1 << 5)


async def test_attachment_and_number_options(
    discord_: StandIn, guild: Guild, alice: Member, make_bot: Callable
) -> None:
    async with run_bot(make_bot(), discord_):
        result = await discord_.slash(guild, alice, "upload", notes=Upload("notes.md", b"# T cells\n"), weight=2.5)
    assert result.response is not None
    assert result.response.content == "notes.md: 10 bytes x 2.5"
    (attachment,) = result.payload["data"]["resolved"]["attachments"].values()
    assert attachment["filename"] == "notes.md"
    assert attachment["content_type"] == "text/markdown"
