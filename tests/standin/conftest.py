"""A tiny discord.py bot exercising every interaction kind, and a running StandIn."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from standin import Guild, Member, NoIdentifyDelay, StandIn
from standin.records import InteractionResult

GLOSSARY = ["antibody", "antigen", "checkpoint inhibitor", "cytokine", "immunotherapy", "immunogenicity"]


class PanelView(discord.ui.View):
    """Persistent: no timeout, stable custom_id, registered with bot.add_view()."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Ping", custom_id="panel:ping", style=discord.ButtonStyle.primary)
    async def ping(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        await interaction.response.send_message(f"pong from {interaction.client.user.id}", ephemeral=True)


class MenuView(discord.ui.View):
    @discord.ui.button(label="More", custom_id="menu:more")
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button[MenuView]) -> None:
        button.disabled = True
        await interaction.response.edit_message(content="Here is more.", view=self)

    @discord.ui.select(
        custom_id="menu:pick",
        placeholder="Pick a topic",
        options=[
            discord.SelectOption(label="T cells", value="tcells"),
            discord.SelectOption(label="B cells", value="bcells"),
        ],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[MenuView]) -> None:
        await interaction.response.send_message(f"You picked {select.values[0]}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback_text", max_length=200)

    def __init__(self) -> None:
        super().__init__(custom_id="feedback_modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks: {self.text.value}", ephemeral=True)


class StudyBot(NoIdentifyDelay, commands.Bot):
    def __init__(self, *, sync: bool = True) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        self.sync_on_start = sync
        self.errors: list[BaseException] = []
        build_commands(self)

    async def setup_hook(self) -> None:
        self.add_view(PanelView())
        if self.sync_on_start:
            await self.tree.sync()


def build_commands(bot: StudyBot) -> None:
    tree = bot.tree

    async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        bot.errors.append(error)

    tree.on_error = on_tree_error  # type: ignore[method-assign]

    @tree.command(description="Define a glossary term")
    async def define(interaction: discord.Interaction, term: str) -> None:
        embed = discord.Embed(title=term, description=f"{term} is an immunology term.")
        await interaction.response.send_message(embed=embed)

    @define.autocomplete("term")
    async def define_term(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in GLOSSARY if t.startswith(current.lower())][:25]

    daily = app_commands.Group(name="daily", description="Daily concept")

    @daily.command(name="set", description="Choose the channel for the daily concept")
    async def daily_set(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        try:
            await channel.send("Daily concepts will appear here.")
        except discord.Forbidden as exc:
            await interaction.response.send_message(f"I cannot post in {channel.mention} ({exc.code})", ephemeral=True)
            return
        await interaction.response.send_message(f"Daily concept channel set to {channel.mention}", ephemeral=True)

    tree.add_command(daily)

    @tree.command(description="Lookup a member")
    async def whois(interaction: discord.Interaction, member: discord.Member, loud: bool = False) -> None:
        mentions = discord.AllowedMentions(users=loud, roles=False, everyone=False)
        text = f"{member.mention} ({member.name}) has {len(member.roles)} roles, loud={loud}"
        await interaction.response.send_message(text, allowed_mentions=mentions)

    @tree.command(description="Open the menu")
    async def menu(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Menu", embed=discord.Embed(title="Menu"), view=MenuView())

    @tree.command(description="Send feedback")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @tree.command(description="A study card as a file")
    async def card(interaction: discord.Interaction) -> None:
        file = discord.File(io.BytesIO(b"antibody,Y-shaped protein\n"), filename="card.csv")
        await interaction.response.send_message("Your card", file=file)

    @tree.command(description="Too long for Discord")
    async def huge(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message(embed=discord.Embed(description="x" * 5000))
        except discord.HTTPException as exc:
            await interaction.response.send_message(f"That was too long ({exc.code})", ephemeral=True)

    @tree.command(description="Think, then answer")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("Done thinking.")
        notes = discord.File(io.BytesIO(b"more notes"), filename="notes.txt")
        await interaction.followup.send("And one more thing.", file=notes, ephemeral=True)

    @tree.command(description="Moderator tools")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def modtools(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Moderator tools", ephemeral=True)

    @tree.command(description="Upload study notes")
    async def upload(interaction: discord.Interaction, notes: discord.Attachment, weight: float = 1.0) -> None:
        data = await notes.read()
        await interaction.response.send_message(f"{notes.filename}: {len(data)} bytes x {weight}")

    @tree.command(description="Post the persistent panel")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Panel", view=PanelView())


def registered_interaction(discord_: StandIn, guild: Guild) -> InteractionResult:
    """A registered interaction to answer (the validation happens before any bot is involved)."""
    channel = guild.default_channel
    message = discord_.messages.create(
        channel_id=channel.id, guild_id=guild.id, author=discord_.bot_user, payload={"content": "x"}, files=[]
    )
    result = InteractionResult(
        id=discord_.world.ids.next(),
        token="tok" + str(discord_.world.ids.next()),
        type=3,
        payload={},
        guild=guild,
        user=discord_.bot_user,
        channel=channel,
        changes=discord_.changes,
        default_timeout=1.0,
        source_message=message,
    )
    discord_.register_interaction(result)
    return result


@pytest.fixture
async def discord_() -> AsyncIterator[StandIn]:
    async with StandIn() as standin:
        yield standin
        standin.assert_discord_accepted(requests=False)  # these tests send invalid requests on purpose


@pytest.fixture
def guild(discord_: StandIn) -> Guild:
    return discord_.add_guild("Study group", channels=("general", "study"))


@pytest.fixture
def alice(discord_: StandIn, guild: Guild) -> Member:
    return discord_.add_member(guild, "alice")


@pytest.fixture
def make_bot() -> Callable[..., StudyBot]:
    return StudyBot
