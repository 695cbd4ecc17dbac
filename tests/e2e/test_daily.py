"""Concept of the day end to end: the real bot, the stand-in, and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, time, timedelta

import discord
import pytest

from bot.client import ImmunoBot
from bot.clock import ManualClock
from bot.daily import RETRY_AFTER_TRANSIENT, DailyRepository, DailySchedule, DailyScheduler, DailyState
from standin import StandIn
from standin.state import Channel, Message
from tests.e2e.conftest import Server, assert_never_pinged

Start = Callable[..., AbstractAsyncContextManager[ImmunoBot]]
MONDAY_7AM = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
SEND_MESSAGES = discord.Permissions(send_messages=True).value


def scheduler(bot: ImmunoBot) -> DailyScheduler:
    """The running bot's daily scheduler."""
    cog = bot.get_cog("Daily")
    assert cog is not None
    return cog.scheduler  # type: ignore[attr-defined]


async def at(bot: ImmunoBot, clock: ManualClock, when: datetime) -> None:
    """Move the clock and wait until the scheduler has done everything due."""
    clock.set(when)
    await asyncio.wait_for(scheduler(bot).wait_idle(), 10)


def daily_posts(discord_: StandIn, channel: Channel) -> list[Message]:
    """The concept-of-the-day messages in a channel."""
    return [
        message
        for message in discord_.channel_messages(channel)
        if message.embeds and message.embeds[0].get("title", "").startswith("Concept of the day: ")
    ]


async def set_daily(
    discord_: StandIn, server: Server, channel: Channel, when: str = "08:00", zone: str = "Europe/London", **more: str
):
    """Run `/daily set` as the moderator and wait for its answer (the bot acknowledges before it saves)."""
    result = await discord_.slash(
        server.guild,
        server.moderator,
        "daily set",
        options={"channel": channel, "time": when, "timezone": zone, **more},
    )
    await result.answer()
    return result


@pytest.mark.both_backends
async def test_set_show_and_post_at_the_local_time(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Set it up, see the next post as a Discord timestamp, and get one post at 08:00 London time with buttons."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        answer = await set_daily(discord_, server, channel)
        assert (await answer.answer()).embeds[0]["title"] == "Concept of the day is on"
        shown = await discord_.slash(server.guild, server.moderator, "daily show")
        fields = {f["name"]: f["value"] for f in (await shown.answer()).embeds[0]["fields"]}
        eight = int(datetime(2026, 11, 23, 8, tzinfo=UTC).timestamp())
        assert f"<t:{eight}:F>" in fields["Next post"]
        assert f"<t:{eight}:R>" in fields["Next post"]
        assert "Mon 23 Nov 2026, 08:00 Europe/London" in fields["Next post"]

        await at(bot, clock, datetime(2026, 11, 23, 7, 59, tzinfo=UTC))
        assert daily_posts(discord_, channel) == []
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        await at(bot, clock, datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
        posts = daily_posts(discord_, channel)
        assert len(posts) == 1
        post = posts[0]
        assert "Concept of the day · 2026-11-23" in post.embeds[0]["footer"]["text"]
        assert "Source" in {f["name"] for f in post.embeds[0]["fields"]}
        show = next(cid for cid in post.custom_ids if cid.startswith("concept:peek:"))
        revealed = await discord_.click(server.guild, server.member, post, show)
        assert revealed.response.ephemeral
        assert (await revealed.answer()).embeds[0]["description"]
    assert_never_pinged(discord_)


async def test_bad_settings_are_refused_and_nothing_is_saved(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """A non-time, an unknown timezone, an unknown category, a channel the bot can't post in: clear refusals."""
    channel = server.guild.channel("daily")
    closed = discord_.add_channel(server.guild, "closed")
    discord_.set_channel_permissions(closed, discord_.bot_role(server.guild), deny=SEND_MESSAGES)
    async with start_bot(clock=ManualClock(MONDAY_7AM)) as bot:
        cases = [
            ({"when": "25:00"}, "is not a time"),
            ({"when": "noon"}, "is not a time"),
            ({"zone": "Mars/Olympus_Mons"}, "not a timezone I know"),
            ({"category": "pizza"}, "No category matches"),
        ]
        for arguments, message in cases:
            category = arguments.pop("category", None)
            extra = {"category": category} if category else {}
            result = await set_daily(discord_, server, channel, **arguments, **extra)  # type: ignore[arg-type]
            assert result.response.ephemeral, arguments
            assert message in (await result.answer()).content
        refused = await set_daily(discord_, server, closed)
        assert refused.response.ephemeral
        assert "lacks Send Messages" in (await refused.answer()).content
        assert "Nothing was saved" in (await refused.answer()).content
        assert await DailyRepository(bot.store).schedules() == []
        assert scheduler(bot).schedule_of(server.guild.id) is None


async def test_members_without_manage_server_are_refused(server: Server, settings, tmp_path) -> None:
    """The bot checks Manage Server itself, even where Discord's default permission was overridden."""
    from standin import run_bot
    from tests.e2e.conftest import E2EBot

    async with StandIn(enforce_command_permissions=False) as lenient:
        guild = lenient.add_guild("Open server")
        member = lenient.add_member(guild, "student")
        async with run_bot(E2EBot(settings, clock=ManualClock(MONDAY_7AM), guild_ready_timeout=0.05), lenient) as bot:
            result = await lenient.slash(
                guild,
                member,
                "daily set",
                options={"channel": guild.channel("general"), "time": "08:00", "timezone": "UTC"},
            )
            assert result.response.ephemeral
            assert "Manage Server" in (await result.answer()).content
            assert await DailyRepository(bot.store).schedules() == []


@pytest.mark.both_backends
async def test_two_guilds_in_different_timezones(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Each guild posts at its own local time."""
    other = discord_.add_guild("Tokyo group", channels=("daily",))
    other_mod = discord_.add_member(other, "mod-tokyo", permissions=0x20)
    clock = ManualClock(datetime(2026, 11, 22, 20, 0, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, server.guild.channel("daily"), "09:00", "Europe/London")
        tokyo = await discord_.slash(other, other_mod, "daily set",
                                     options={"channel": other.channel("daily"), "time": "09:00", "timezone": "Asia/Tokyo"})  # fmt: skip
        await tokyo.answer()
        await at(bot, clock, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))  # 09:00 in Tokyo
        assert len(daily_posts(discord_, other.channel("daily"))) == 1
        assert daily_posts(discord_, server.guild.channel("daily")) == []
        await at(bot, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # 09:00 in London
        assert len(daily_posts(discord_, server.guild.channel("daily"))) == 1
        assert len(daily_posts(discord_, other.channel("daily"))) == 1


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (
            datetime(2026, 3, 7, 5, tzinfo=UTC),
            datetime(2026, 3, 10, 5, tzinfo=UTC),
            ["2026-03-07", "2026-03-08", "2026-03-09"],
        ),
        (
            datetime(2026, 10, 31, 4, tzinfo=UTC),
            datetime(2026, 11, 3, 4, tzinfo=UTC),
            ["2026-10-31", "2026-11-01", "2026-11-02"],
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
async def test_daylight_saving_days_post_exactly_once(
    discord_: StandIn, server: Server, start_bot: Start, start: datetime, end: datetime, days: list[str]
) -> None:
    """02:30 New York time (missing on the spring day) and 01:30 (twice on the autumn day): one post a day."""
    clock = ManualClock(start)
    channel = server.guild.channel("daily")
    post_time = "02:30" if start.month == 3 else "01:30"
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel, post_time, "America/New_York")
        moment = start
        while moment < end:
            moment += timedelta(minutes=30)
            await at(bot, clock, moment)
    footers = [post.embeds[0]["footer"]["text"].split(" · ")[1] for post in daily_posts(discord_, channel)]
    assert footers == days


@pytest.mark.both_backends
async def test_restart_before_and_after_post_time(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Down at post time and back the same day: one catch-up post. Back before post time: it waits."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
    clock.set(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))  # restart before 08:00
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 7, 45, tzinfo=UTC))
        assert daily_posts(discord_, channel) == []
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # the bot was down at 08:00
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 15, 1, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 1
    async with start_bot(clock=clock) as bot:  # another restart the same day: nothing more
        await at(bot, clock, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 1


async def test_back_days_later_posts_only_today(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """After three days down, one post for today, never a burst of the missed days."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        await at(bot, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 26, 12, 5, tzinfo=UTC))
    footers = [post.embeds[0]["footer"]["text"].split(" · ")[1] for post in daily_posts(discord_, channel)]
    assert footers == ["2026-11-23", "2026-11-26"]


@pytest.mark.both_backends
async def test_crash_between_send_and_record_never_doubles(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message went out but the result was not recorded: the restart finds the post and does not resend."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    original = DailyRepository.finish

    async def killed(self: DailyRepository, guild_id: int, day: date, **_: object) -> None:
        raise RuntimeError("process killed after sending")

    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        monkeypatch.setattr(DailyRepository, "finish", killed)
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 1
        assert (await DailyRepository(bot.store).post(server.guild.id, date(2026, 11, 23))).status == "pending"
    monkeypatch.setattr(DailyRepository, "finish", original)
    clock.set(datetime(2026, 11, 23, 8, 3, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        record = await DailyRepository(bot.store).post(server.guild.id, date(2026, 11, 23))
    posts = daily_posts(discord_, channel)
    assert len(posts) == 1
    assert record is not None
    assert (record.status, record.message_id) == ("posted", posts[0].id)


async def test_deleted_channel_stops_and_show_says_why(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """The channel is deleted: the schedule stops, nothing is sent, and /daily show explains."""
    clock = ManualClock(MONDAY_7AM)
    doomed = discord_.add_channel(server.guild, "doomed")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, doomed)
        discord_.remove_channel(doomed)
        await discord_.changes.wait_for(
            lambda: scheduler(bot).schedule_of(server.guild.id).state is DailyState.STOPPED, 5, "the stop"
        )
        await at(bot, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        shown = await discord_.slash(server.guild, server.moderator, "daily show")
        status = next(f["value"] for f in (await shown.answer()).embeds[0]["fields"] if f["name"] == "Status")
        assert "was deleted" in status
        assert discord_.find_requests("POST", f"/channels/{doomed.id}/messages") == []


async def test_lost_permission_stops_once_and_logs_once(
    discord_: StandIn, server: Server, start_bot: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """Send Messages removed after setup: at post time the schedule stops, logged once, and stays stopped."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        discord_.set_channel_permissions(channel, discord_.bot_role(server.guild), deny=SEND_MESSAGES)
        cached = bot.get_guild(server.guild.id)
        assert cached is not None
        await discord_.changes.wait_for(
            lambda: not cached.get_channel(channel.id).permissions_for(cached.me).send_messages,  # type: ignore[union-attr]
            5,
            "the CHANNEL_UPDATE to reach the bot's cache",
        )
        for hour in (8, 9, 10):
            await at(bot, clock, datetime(2026, 11, 23, hour, 0, tzinfo=UTC))
        await at(bot, clock, datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        schedule = scheduler(bot).schedule_of(server.guild.id)
        assert schedule.state is DailyState.STOPPED
        assert "Send Messages" in schedule.stopped_reason
        resumed = await discord_.slash(server.guild, server.moderator, "daily resume")
        assert resumed.response.ephemeral
        assert "still can't post" in (await resumed.answer()).content
    assert daily_posts(discord_, channel) == []
    assert sum("Daily posts stopped" in record.getMessage() for record in caplog.records) == 1


async def test_bot_removed_from_guild_stops_the_schedule(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Removed from the server: its schedule stops with the reason recorded."""
    clock = ManualClock(MONDAY_7AM)
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, server.guild.channel("daily"))
        discord_.remove_guild(server.guild)
        await discord_.changes.wait_for(
            lambda: scheduler(bot).schedule_of(server.guild.id).state is DailyState.STOPPED, 5, "the stop"
        )
        saved = await DailyRepository(bot.store).schedule(server.guild.id)
        assert saved is not None
        assert saved.stopped_reason == "the bot was removed from this server"


async def test_many_guilds_at_once_under_rate_limits(discord_: StandIn, start_bot: Start) -> None:
    """150 guilds due the same minute, with 429s from Discord: each posts exactly once, lookups stay fast."""
    guilds = [discord_.add_guild(f"Group {number}", channels=("daily",)) for number in range(150)]
    reader = discord_.add_member(guilds[0], "reader")
    clock = ManualClock(MONDAY_7AM)
    async with start_bot(clock=clock) as bot:
        for guild in guilds:
            await scheduler(bot).update(
                DailySchedule(
                    guild.id, guild.channel("daily").id, time(8, 0), "UTC", (), DailyState.ACTIVE, None, MONDAY_7AM
                )
            )
        discord_.fail_next("POST", "/channels/*/messages", status=429, times=25, retry_after=0.05)
        clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        lookup = await discord_.slash(guilds[0], reader, "define", term="cytokine", wait=False)
        await asyncio.wait_for(scheduler(bot).wait_idle(), 60)
        await lookup.wait_response()
        assert lookup.latency is not None
        assert lookup.latency < 1.0
        # A post that met discord.py's five 429s in a row is retried later, as any transient failure (how the 25
        # injected 429s fall on the guilds depends on timing): still exactly one post each.
        clock.advance(RETRY_AFTER_TRANSIENT)
        await asyncio.wait_for(scheduler(bot).wait_idle(), 60)
    counts = [len(daily_posts(discord_, guild.channel("daily"))) for guild in guilds]
    assert counts == [1] * len(guilds)
    injected = [r for r in discord_.find_requests("POST", "/channels/*/messages", status=429) if r.fault]
    assert len(injected) == 25
    # 150 posts due at once stay under Discord's global limit of 50 requests/s (posts are paced at 40/s).
    assert [r.path for r in discord_.requests if r.global_limited] == []


async def test_a_process_with_a_quarter_of_the_shards_posts_at_a_quarter_of_the_rate(
    discord_: StandIn, start_bot: Start
) -> None:
    """Four processes share Discord's global limit: one running 2 of 8 shards starts at most ~10 posts a second
    (its guilds' posts due at once), so the cluster's burst stays under 50 requests a second together."""
    guilds = [discord_.add_guild(f"Group {number}", channels=("daily",)) for number in range(400)]
    mine = [guild for guild in guilds if (guild.id >> 22) % 8 in (0, 1)][:30]
    assert len(mine) == 30
    clock = ManualClock(MONDAY_7AM)
    async with start_bot(clock=clock, shard_count=8, shard_ids=(0, 1)) as bot:
        for guild in mine:
            await scheduler(bot).update(
                DailySchedule(
                    guild.id, guild.channel("daily").id, time(8, 0), "UTC", (), DailyState.ACTIVE, None, MONDAY_7AM
                )
            )
        clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        await asyncio.wait_for(scheduler(bot).wait_idle(), 60)
    sent = sorted(r.at for r in discord_.find_requests("POST", "/channels/*/messages", status=200))
    assert len(sent) == 30
    # Evenly spaced, 10 a second: the 30th post starts no sooner than 2.9 s after the first.
    assert sent[-1] - sent[0] >= 2.8
    assert max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent) <= 11


@pytest.mark.both_backends
async def test_full_cycle_without_repeats(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Restricted to immunosuppressants (7 entries): seven days, seven different ones; then a new cycle."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        result = await set_daily(discord_, server, channel, "08:00", "UTC", category="immunosuppressants")
        assert not result.response.ephemeral
        for day in range(9):
            await at(bot, clock, datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(days=day))
    titles = [post.embeds[0]["title"].removeprefix("Concept of the day: ") for post in daily_posts(discord_, channel)]
    assert len(titles) == 9
    assert len(set(titles[:7])) == 7
    assert titles[7] != titles[6]
    assert set(titles) <= {"Glucocorticoid", "Cyclophosphamide", "Azathioprine", "Cyclosporine", "Tacrolimus",
                           "Sirolimus", "Mycophenolate mofetil"}  # fmt: skip


async def test_now_pause_resume_off(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """`now` posts at once and counts as today's; pause skips days; resume and off do what they say."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        unset = await discord_.slash(server.guild, server.moderator, "daily now")
        assert "not set up" in (await unset.wait_followup()).content
        await set_daily(discord_, server, channel)
        now = await discord_.slash(server.guild, server.moderator, "daily now")
        assert "Posted today's concept" in (await now.wait_followup()).content
        again = await discord_.slash(server.guild, server.moderator, "daily now")
        assert "already posted" in (await again.wait_followup()).content
        await at(bot, clock, datetime(2026, 11, 23, 12, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 1
        await (await discord_.slash(server.guild, server.moderator, "daily pause")).answer()
        await at(bot, clock, datetime(2026, 11, 24, 12, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 1
        await (await discord_.slash(server.guild, server.moderator, "daily resume")).answer()
        await at(bot, clock, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 1  # resumed after 08:00: the next post is tomorrow's
        await at(bot, clock, datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 2
        await (await discord_.slash(server.guild, server.moderator, "daily off")).answer()
        await at(bot, clock, datetime(2026, 11, 26, 12, tzinfo=UTC))
        assert len(daily_posts(discord_, channel)) == 2


async def test_daily_post_buttons_work_after_restart(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """The post's "Show definition" button answers after the bot restarts."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        await at(bot, clock, datetime(2026, 11, 23, 8, tzinfo=UTC))
    post = daily_posts(discord_, channel)[0]
    show = next(cid for cid in post.custom_ids if cid.startswith("concept:peek:"))
    async with start_bot(clock=clock):
        revealed = await discord_.click(server.guild, server.member, post, show)
        assert revealed.response.ephemeral


async def test_timezone_by_city_country_or_abbreviation(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """`timezone:` takes a city, a country or an abbreviation that names one zone; one that names clocks that
    differ is refused with the zones to choose from and nothing changes; autocomplete ranks by closeness."""
    channel = server.guild.channel("daily")
    async with start_bot(clock=ManualClock(MONDAY_7AM)) as bot:
        suggested = await discord_.autocomplete(
            server.guild, server.moderator, "daily set", focused="timezone", timezone="london"
        )
        assert [choice["value"] for choice in suggested.choices] == ["Europe/London"]
        typo = await discord_.autocomplete(
            server.guild, server.moderator, "daily set", focused="timezone", timezone="tokio"
        )
        assert typo.choices[0]["value"] == "Asia/Tokyo"
        for typed, zone in (("London", "Europe/London"), ("Germany", "Europe/Berlin"), ("JST", "Asia/Tokyo")):
            answer = await set_daily(discord_, server, channel, zone=typed)
            assert not answer.response.ephemeral
            assert f"({zone})" in str((await answer.answer()).embeds[0]), typed
        # Monday 07:00 UTC is 16:00 in Tokyo: the next 08:00 there is on Tuesday
        assert scheduler(bot).schedule_of(server.guild.id).timezone == "Asia/Tokyo"
        shown = await discord_.slash(server.guild, server.moderator, "daily show")
        assert "Tue 24 Nov 2026, 08:00 Asia/Tokyo" in str((await shown.answer()).embeds[0])
        refused = await set_daily(discord_, server, channel, zone="IST")
        assert refused.response.ephemeral
        assert "Europe/Dublin" in (await refused.answer()).content
        assert "Asia/Kolkata" in (await refused.answer()).content
        assert scheduler(bot).schedule_of(server.guild.id).timezone == "Asia/Tokyo"  # unchanged
