"""/daily: a concept of the day in a channel each guild chooses, at its time, in its timezone."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.daily import (
    DailyRepository,
    DailySchedule,
    DailyScheduler,
    DailyState,
    PostError,
    parse_post_time,
)
from bot.glossary import Glossary
from bot.timezones import parse_timezone, suggest_timezones, timezone_label
from cogs._components import ConceptButton, RelatedSelect, glossary_for
from cogs._render import COLOUR, STUDY_NOTICE, WARNING_COLOUR, EmbedBuilder, choice_label, clip, plain, source_text
from cogs.browse import category_ids, resolve_category

if TYPE_CHECKING:
    from bot.client import ImmunoBot

log = logging.getLogger(__name__)

MARKER = "Concept of the day"
REQUIRED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}


def marker(day: date) -> str:
    """The footer text that identifies a guild's post for a day (found again after a crash)."""
    return f"{MARKER} · {day.isoformat()}"


def channel_problem(guild: discord.Guild | None, channel_id: int) -> str | None:
    """Why the bot cannot post in this channel (deleted, not a text channel, a missing permission), or None."""
    if guild is None:
        return "the bot is no longer in this server"
    channel = guild.get_channel(channel_id)
    if not isinstance(channel, discord.TextChannel):
        return "the daily channel was deleted" if channel is None else "the daily channel is not a text channel"
    permissions = channel.permissions_for(guild.me)
    missing = [label for flag, label in REQUIRED.items() if not getattr(permissions, flag)]
    return f"the bot lacks {', '.join(missing)} in #{channel.name}" if missing else None


def daily_post(glossary: Glossary, concept_id: str, day: date, reason: str | None = None) -> dict[str, Any]:
    """The post: name, summary, category path and source, with "Show definition" and a related-entries menu;
    for the weak pool, why this concept was chosen."""
    concept = glossary.concepts[concept_id]
    builder = EmbedBuilder(f"Concept of the day: {plain(concept.name)}", plain(concept.summary))
    path = glossary.category_path(concept.id)
    if len(path) > 1:
        builder.field("Category", " › ".join(plain(c.name) for c in path))
    builder.field("Source", source_text(glossary, concept))
    if reason:
        builder.field("Why this one", reason)
    builder.footer(f"{marker(day)} · {STUDY_NOTICE}")
    view = discord.ui.View(timeout=None)
    view.add_item(ConceptButton(concept.id, "Show definition", public=False, style=discord.ButtonStyle.primary))
    related = glossary.related(concept.id)
    if related:
        view.add_item(RelatedSelect(concept.id, related))
    return {"embed": builder.build(), "view": view}


class DiscordPostSender:
    """Posts to, and searches, guild channels through discord.py."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot

    def _channel(self, schedule: DailySchedule) -> discord.TextChannel:
        guild = self.bot.get_guild(schedule.guild_id)
        problem = channel_problem(guild, schedule.channel_id)
        if problem is not None or guild is None:
            raise PostError(problem or "the bot is no longer in this server", permanent=True)
        channel = guild.get_channel(schedule.channel_id)
        assert isinstance(channel, discord.TextChannel)  # checked by channel_problem
        return channel

    async def send(self, schedule: DailySchedule, concept_id: str, day: date) -> int:
        """Send the day's post; map Discord's refusals to permanent failures."""
        channel = self._channel(schedule)
        glossary = self.bot.catalog.view(schedule.guild_id)
        if concept_id not in glossary:  # removed since it was chosen: the shipped text is the honest fallback
            glossary = self.bot.catalog.shipped
        reason = await DailyRepository(self.bot.store).reason(schedule.guild_id, day)
        try:
            message = await channel.send(**daily_post(glossary, concept_id, day, reason))
        except discord.NotFound as error:
            raise PostError("the daily channel was deleted", permanent=True) from error
        except discord.Forbidden as error:
            raise PostError(f"the bot is not allowed to post in #{channel.name}", permanent=True) from error
        except discord.HTTPException as error:
            raise PostError(f"Discord answered {error.status}", permanent=False) from error
        return message.id

    async def find_post(self, schedule: DailySchedule, day: date, since: datetime) -> int | None:
        """Look through the channel's recent messages for the bot's post for `day`."""
        try:
            channel = self._channel(schedule)
            async for message in channel.history(limit=50, after=since):
                if message.author.id == self.bot.user.id and any(
                    (embed.footer.text or "").startswith(marker(day)) for embed in message.embeds
                ):
                    return message.id
        except PostError:
            return None  # sending will report why the channel cannot be used
        except discord.HTTPException as error:
            raise PostError(
                f"could not check the channel's recent messages ({error.status})", permanent=False
            ) from error
        return None


def timestamp(moment: datetime, style: str) -> str:
    """A Discord timestamp, shown in each reader's own timezone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class Daily(commands.GroupCog, group_name="daily", group_description="The concept of the day (Manage Server)"):
    """Moderators choose where and when; the scheduler does the rest."""

    def __init__(self, bot: ImmunoBot) -> None:
        self.bot = bot
        self.scheduler = DailyScheduler(
            DailyRepository(bot.store),
            bot.catalog.view,
            DiscordPostSender(bot),
            bot.clock,
            owns=bot.owns_guild,
            lease=timedelta(seconds=bot.settings.daily_claim_lease_seconds),
            share=bot.settings.share_of_shards,
        )
        self._starter: asyncio.Task[None] | None = None
        super().__init__()

    async def cog_load(self) -> None:
        """Start scheduling once the guild cache is filled (posting needs channels and permissions)."""

        async def start_when_ready() -> None:
            await self.bot.wait_until_ready()
            await self.scheduler.start()

        self._starter = asyncio.create_task(start_when_ready(), name="daily-start")

    async def cog_unload(self) -> None:
        """Stop the scheduler."""
        if self._starter is not None:
            self._starter.cancel()
        await self.scheduler.stop()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Check Manage Server ourselves: Discord's default permissions can be overridden per server."""
        if interaction.guild is None or not interaction.permissions.manage_guild:
            await interaction.response.send_message(
                "Only members with the Manage Server permission can change the concept of the day.", ephemeral=True
            )
            return False
        return True

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed: stop that guild's schedule."""
        await self.scheduler.halt(guild.id, "the bot was removed from this server")

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """The daily channel was deleted: stop until a moderator picks another."""
        schedule = self.scheduler.schedule_of(channel.guild.id)
        if schedule is not None and schedule.channel_id == channel.id:
            await self.scheduler.halt(channel.guild.id, f"the daily channel #{channel.name} was deleted")

    async def timezone_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete timezones, closest to what was typed first (cities, countries, abbreviations too)."""
        return [app_commands.Choice(name=timezone_label(name), value=name) for name in suggest_timezones(current)]

    async def category_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete the last of the comma-separated categories, in the resolver's ranking."""
        glossary = glossary_for(interaction)
        done, _, typing = current.rpartition(",")
        prefix = f"{done}, " if done else ""
        found = glossary.resolver.suggest(typing.strip(), within=category_ids(glossary))
        return [
            app_commands.Choice(
                name=clip(prefix + choice_label(s.name, s.matched), 100), value=clip(prefix + s.name, 100)
            )
            for s in found
        ]

    @app_commands.command(name="set", description="Turn the concept of the day on, or change where and when")
    @app_commands.describe(
        channel="Where to post (the bot needs View Channel, Send Messages, Embed Links, Read Message History)",
        time="Local time, 24-hour HH:MM, e.g. 08:00",
        timezone="Your timezone: a city, a country or an IANA name, e.g. London or Europe/London",
        category="Only these categories, comma-separated (e.g. immunosuppressant); leave empty for all",
        pool="cycle: every concept in turn (default); weak: what this server keeps missing in quizzes, else the cycle",
    )
    async def set_(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        time: str,
        timezone: str,
        category: str | None = None,
        pool: Literal["cycle", "weak"] = "cycle",
    ) -> None:
        """Validate everything first; save only a schedule that can work."""
        assert interaction.guild is not None
        try:
            post_time = parse_post_time(time)
            zone = parse_timezone(timezone)
            categories = self._categories(glossary_for(interaction), category)
        except ValueError as error:
            await interaction.response.send_message(str(error), ephemeral=True)
            return
        problem = channel_problem(interaction.guild, channel.id)
        if problem is not None:
            await interaction.response.send_message(
                f"I can't post in {channel.mention}: {problem}. Grant the permissions (channel settings → "
                "Permissions) or choose another channel. Nothing was saved.",
                ephemeral=True,
            )
            return
        if pool not in ("cycle", "weak"):
            await interaction.response.send_message("Choose the pool `cycle` or `weak`. Nothing was saved.",
                                                    ephemeral=True)  # fmt: skip
            return
        schedule = DailySchedule(
            interaction.guild.id, channel.id, post_time, zone, categories, DailyState.ACTIVE,
            active_since=self.bot.clock.now(), pool=pool,
        )  # fmt: skip
        await interaction.response.defer(thinking=True)  # before the write: the answer says whether it was saved
        await self.scheduler.update(schedule)
        await interaction.followup.send(embed=self._status_embed(schedule, "Concept of the day is on"))

    @set_.autocomplete("timezone")
    async def _set_timezone(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self.timezone_choices(interaction, current)

    @set_.autocomplete("category")
    async def _set_category(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self.category_choices(interaction, current)

    def _categories(self, glossary: Glossary, text: str | None) -> tuple[str, ...]:
        if text is None or not text.strip() or text.strip().casefold() == "all":
            return ()
        chosen: list[str] = []
        for part in (piece.strip() for piece in text.split(",")):
            if not part:
                continue
            found = resolve_category(glossary, part)
            if isinstance(found, str):
                raise ValueError(found)
            if found.id not in chosen:
                chosen.append(found.id)
        return tuple(chosen)

    def _status_embed(self, schedule: DailySchedule, title: str) -> discord.Embed:
        glossary = self.bot.catalog.view(schedule.guild_id)
        state = {
            DailyState.ACTIVE: "On",
            DailyState.PAUSED: "Paused (`/daily resume` to continue)",
            DailyState.OFF: "Off (`/daily set` to turn it on)",
            DailyState.STOPPED: f"Stopped: {schedule.stopped_reason}. Fix it, then `/daily resume` or `/daily set`.",
        }[schedule.state]
        builder = EmbedBuilder(title, colour=WARNING_COLOUR if schedule.state is DailyState.STOPPED else COLOUR)
        builder.field("Status", state)
        builder.field("Where and when", f"<#{schedule.channel_id}> at {schedule.post_time:%H:%M} ({schedule.timezone})")
        due = self.scheduler.next_post(schedule.guild_id)
        if due is not None:
            local = due.astimezone(schedule.zone)
            builder.field("Next post", f"{local:%a %d %b %Y, %H:%M} {schedule.timezone}\n"
                                       f"{timestamp(due, 'F')} ({timestamp(due, 'R')})")  # fmt: skip
        names = [plain(glossary.concepts[c].name) for c in schedule.categories if c in glossary]
        builder.field("Concepts from", ", ".join(names) if names else "All categories")
        if schedule.pool == "weak":
            builder.field("Pool", "Weak: what this server keeps missing in quizzes first, else the usual cycle")
        return builder.build()

    @app_commands.command(name="show", description="The current settings, the next post and the last concepts posted")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show settings, the next post as a Discord timestamp, why it stopped if it did, and recent posts."""
        assert interaction.guild is not None
        schedule = self.scheduler.schedule_of(interaction.guild.id)
        if schedule is None:
            await interaction.response.send_message(
                "The concept of the day is not set up here. Use `/daily set` to choose a channel and a time.",
                ephemeral=True,
            )
            return
        embed = self._status_embed(schedule, "Concept of the day")
        recent = await self.scheduler.recent_posts(interaction.guild.id)
        glossary = self.bot.catalog.view(interaction.guild.id)
        lines = []
        for record in recent:
            name = (
                plain(glossary.concepts[record.concept_id].name) if record.concept_id in glossary else record.concept_id
            )
            status = (
                ""
                if record.status == "posted"
                else f" ({record.status}{': ' + record.detail if record.detail else ''})"
            )
            lines.append(f"{record.local_date:%d %b}: {name}{status}")
        if lines:
            embed.add_field(name="Recent posts", value=clip("\n".join(lines), 1024), inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _change_state(self, interaction: discord.Interaction, state: DailyState, verb: str) -> None:
        assert interaction.guild is not None
        schedule = self.scheduler.schedule_of(interaction.guild.id)
        if schedule is None:
            await interaction.response.send_message(
                "The concept of the day is not set up here yet: use `/daily set`.", ephemeral=True
            )
            return
        problem = channel_problem(interaction.guild, schedule.channel_id) if state is DailyState.ACTIVE else None
        if problem is not None:
            await interaction.response.send_message(
                f"I still can't post: {problem}. Fix it or choose another channel with `/daily set`.",
                ephemeral=True,
            )
            return
        updated = replace(schedule, state=state, stopped_reason=None)
        if state is DailyState.ACTIVE and schedule.state is not DailyState.ACTIVE:
            updated = replace(updated, active_since=self.bot.clock.now())
        await interaction.response.defer(thinking=True)  # before the write: the answer says whether it was saved
        await self.scheduler.update(updated)
        await interaction.followup.send(embed=self._status_embed(updated, f"Concept of the day {verb}"))

    @app_commands.command(name="pause", description="Pause the daily posts (settings are kept)")
    async def pause(self, interaction: discord.Interaction) -> None:
        """Pause without forgetting the settings."""
        await self._change_state(interaction, DailyState.PAUSED, "paused")

    @app_commands.command(name="resume", description="Resume paused or stopped daily posts")
    async def resume(self, interaction: discord.Interaction) -> None:
        """Resume, after checking the channel works again."""
        await self._change_state(interaction, DailyState.ACTIVE, "resumed")

    @app_commands.command(name="off", description="Turn the concept of the day off")
    async def off(self, interaction: discord.Interaction) -> None:
        """Turn off (the history and cycle are kept for when it is turned on again)."""
        await self._change_state(interaction, DailyState.OFF, "turned off")

    @app_commands.command(name="now", description="Post the next concept now (counts as today's post)")
    async def now(self, interaction: discord.Interaction) -> None:
        """Post today's concept at once, unless today's is already out."""
        assert interaction.guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome, record = await self.scheduler.post_now(interaction.guild.id)
        glossary = self.bot.catalog.view(interaction.guild.id)
        name = plain(glossary.concepts[record.concept_id].name) if record and record.concept_id in glossary else "?"
        messages = {
            "unset": "The concept of the day is not set up here yet: use `/daily set` first.",
            "posted": f"Posted today's concept, **{name}**, in <#{record.channel_id if record else 0}>.",
            "already": f"Today's concept (**{name}**) is already posted; the next one comes tomorrow.",
            "empty": "There are no concepts in the chosen categories. Change them with `/daily set`.",
            "retry": "Discord did not accept the post just now; I'll try again in a few minutes.",
            "busy": "Today's post is being sent by another copy of the bot right now; it will appear shortly.",
        }
        text = messages.get(outcome) or f"I couldn't post: {outcome.removeprefix('failed: ')}. See `/daily show`."
        await interaction.followup.send(text, ephemeral=True)


async def setup(bot: ImmunoBot) -> None:
    """Load the extension."""
    await bot.add_cog(Daily(bot))
