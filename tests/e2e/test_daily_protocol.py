"""The rest of the exactly-once daily protocol, end to end: crashes, Discord refusing, recovery, two guilds' days.

Each test drives the real bot against the stand-in with a manual clock; each fails if the rule it names is
broken (see tests/MUTATIONS.md for the deliberate breakages each one was watched catching).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import discord
import pytest

from bot.client import ImmunoBot
from bot.clock import ManualClock
from bot.daily import DailyRepository, DailyState
from standin import StandIn
from standin.state import DISCORD_EPOCH_MS, Channel, Guild, Member, Message
from tests.e2e.conftest import Server
from tests.e2e.test_daily import MONDAY_7AM, at, daily_posts, scheduler, set_daily

Start = Callable[..., AbstractAsyncContextManager[ImmunoBot]]
MONDAY = date(2026, 11, 23)
READ_MESSAGE_HISTORY = discord.Permissions(read_message_history=True).value


def footer_days(posts: list[Message]) -> list[str]:
    """The local day each concept-of-the-day post names in its footer."""
    return [post.embeds[0]["footer"]["text"].split(" · ")[1] for post in posts]


def bots_posts(discord_: StandIn, channel: Channel) -> list[Message]:
    """The concept-of-the-day posts in a channel written by the bot itself."""
    return [post for post in daily_posts(discord_, channel) if post.author.id == discord_.bot_user.id]


async def status_of(discord_: StandIn, guild: Guild, moderator: Member) -> dict[str, str]:
    """The fields of `/daily show`."""
    shown = await discord_.slash(guild, moderator, "daily show")
    return {field["name"]: field["value"] for field in (await shown.answer()).embeds[0]["fields"]}


async def record(bot: ImmunoBot, guild_id: int, day: date) -> Any:
    """The post row of a guild's day."""
    return await DailyRepository(bot.store).post(guild_id, day)


async def test_a_new_schedule_wakes_the_scheduler_at_once(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """`/daily set` re-plans the sleeping scheduler without waiting for its next wake-up (hourly, in production)."""
    clock = ManualClock(MONDAY_7AM)
    async with start_bot(clock=clock):
        idle = MONDAY_7AM + timedelta(days=1)  # with nothing scheduled it sleeps a day (or until woken)
        await discord_.changes.wait_for(lambda: idle in clock.alarms, 5, "the idle scheduler to sleep")
        assert datetime(2026, 11, 23, 7, 30, tzinfo=UTC) not in clock.alarms
        await set_daily(discord_, server, server.guild.channel("daily"), "07:30", "UTC")
        await discord_.changes.wait_for(
            lambda: datetime(2026, 11, 23, 7, 30, tzinfo=UTC) in clock.alarms, 5, "the scheduler to sleep until 07:30"
        )


def die_after_claiming(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """From now on a claim records the intent, then fails as a process killed before sending would; the returned
    function puts the real claim back (the next process start)."""
    original = DailyRepository.claim_day

    async def claim_then_die(self: DailyRepository, *args: Any, **kwargs: Any) -> Any:
        await original(self, *args, **kwargs)
        raise RuntimeError("process killed after recording the intent, before sending")

    monkeypatch.setattr(DailyRepository, "claim_day", claim_then_die)
    return lambda: monkeypatch.setattr(DailyRepository, "claim_day", original)


async def test_claimed_but_never_sent_is_sent_once_after_a_restart(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after recording the intent and before sending: the restart looks, finds nothing, sends once."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        revive = die_after_claiming(monkeypatch)
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        claimed = await record(bot, server.guild.id, MONDAY)
        assert (claimed.status, claimed.message_id) == ("pending", None)
    assert daily_posts(discord_, channel) == []
    revive()
    looked = len(discord_.find_requests("GET", f"/channels/{channel.id}/messages"))
    clock.set(datetime(2026, 11, 23, 8, 2, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
        done = await record(bot, server.guild.id, MONDAY)
        posts = bots_posts(discord_, channel)
        assert len(posts) == 1
        assert (done.status, done.message_id, done.concept_id) == ("posted", posts[0].id, claimed.concept_id)
        assert f"Concept of the day · {MONDAY.isoformat()}" in posts[0].embeds[0]["footer"]["text"]
        assert len(discord_.find_requests("GET", f"/channels/{channel.id}/messages")) > looked  # it looked first
        await at(bot, clock, datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    assert footer_days(bots_posts(discord_, channel)) == ["2026-11-23", "2026-11-24"]


async def test_recovery_accepts_only_the_bots_own_post_for_that_day(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a crash before sending, a look-alike post by someone else, or the bot's post of another day, is not it."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        revive = die_after_claiming(monkeypatch)
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    revive()
    other_bot = discord_.add_member(server.guild, discord_.add_user("copycat", bot=True))

    def look_alike(author: Any, day: date) -> Message:
        embed = {
            "title": "Concept of the day: Tacrolimus",
            "description": "Copied.",
            "footer": {"text": f"Concept of the day · {day.isoformat()} · For study only"},
        }
        return discord_.messages.create(
            channel_id=channel.id, guild_id=server.guild.id, author=author, payload={"embeds": [embed]}, files=[]
        )

    impostors = [look_alike(server.member.user, MONDAY), look_alike(other_bot.user, MONDAY)]
    yesterday = look_alike(discord_.bot_user, MONDAY - timedelta(days=1))
    clock.set(datetime(2026, 11, 23, 8, 3, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        done = await record(bot, server.guild.id, MONDAY)
    sent = [post for post in bots_posts(discord_, channel) if post.id != yesterday.id]
    assert len(sent) == 1
    assert done.status == "posted"
    assert done.message_id == sent[0].id
    assert done.message_id not in {impostor.id for impostor in impostors} | {yesterday.id}


def snowflakes_follow(discord_: StandIn, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give new ids the manual clock's time, as Discord's snowflakes carry the moment a message was sent.

    The clock must be ahead of the real time, so the new ids stay above those already handed out.
    """
    ids = discord_.world.ids

    def next_id() -> int:
        ids._last = max((int(clock.now().timestamp() * 1000) - DISCORD_EPOCH_MS) << 22, ids._last + 1)
        return ids._last

    monkeypatch.setattr(ids, "next", next_id)


async def test_recovery_finds_a_post_sent_hours_before_the_restart(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent at 08:00, not recorded, back at 20:00: the search reaches back far enough to find it; no second post."""
    clock = ManualClock(datetime(2036, 1, 7, 7, 0, tzinfo=UTC))
    snowflakes_follow(discord_, clock, monkeypatch)
    channel = server.guild.channel("daily")
    original = DailyRepository.finish

    async def killed(self: DailyRepository, *_: object, **__: object) -> None:
        raise RuntimeError("process killed after sending")

    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel, "08:00", "UTC")
        monkeypatch.setattr(DailyRepository, "finish", killed)
        await at(bot, clock, datetime(2036, 1, 7, 8, 0, tzinfo=UTC))
    monkeypatch.setattr(DailyRepository, "finish", original)
    sent = bots_posts(discord_, channel)
    assert len(sent) == 1
    assert discord.utils.snowflake_time(sent[0].id) == datetime(2036, 1, 7, 8, 0, tzinfo=UTC)
    clock.set(datetime(2036, 1, 7, 20, 0, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2036, 1, 7, 21, 0, tzinfo=UTC))
        done = await record(bot, server.guild.id, date(2036, 1, 7))
    assert bots_posts(discord_, channel) == sent
    assert (done.status, done.message_id) == ("posted", sent[0].id)


async def test_an_entry_hidden_between_the_claim_and_the_send_is_posted_as_shipped(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's concept was chosen, then hidden before the (retried) send: the post still goes out, shipped text."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        revive = die_after_claiming(monkeypatch)
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        claimed = await record(bot, server.guild.id, MONDAY)
        shipped = bot.catalog.shipped.concepts[claimed.concept_id]
        hidden = await discord_.slash(server.guild, server.moderator, "concept hide", term=shipped.name)
        assert "now hidden" in (await hidden.answer()).content
    revive()
    clock.set(datetime(2026, 11, 23, 8, 3, tzinfo=UTC))
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        done = await record(bot, server.guild.id, MONDAY)
    posts = bots_posts(discord_, channel)
    assert [post.embeds[0]["title"] for post in posts] == [f"Concept of the day: {shipped.name}"]
    assert (done.status, done.message_id) == ("posted", posts[0].id)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (403, {"message": "Missing Permissions", "code": 50013}, "the bot is not allowed to post in #daily"),
        (404, {"message": "Unknown Channel", "code": 10003}, "the daily channel was deleted"),
    ],
    ids=["forbidden", "not-found"],
)
async def test_refused_at_send_time_stops_and_the_failed_day_is_retried_after_the_fix(
    discord_: StandIn, server: Server, start_bot: Start, status: int, body: dict[str, Any], reason: str
) -> None:
    """Discord refuses the post although the bot's cache said it could: the day is failed, the schedule stops and
    says why; once a moderator resumes, `/daily now` posts that same day's concept, and the schedule goes on."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        discord_.fail_next("POST", f"/channels/{channel.id}/messages", status=status, body=body)
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        failed = await record(bot, server.guild.id, MONDAY)
        assert (failed.status, failed.detail) == ("failed", reason)
        schedule = scheduler(bot).schedule_of(server.guild.id)
        assert (schedule.state, schedule.stopped_reason) == (DailyState.STOPPED, reason)
        await at(bot, clock, datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
        assert len(discord_.find_requests("POST", f"/channels/{channel.id}/messages")) == 1  # no retry while stopped
        fields = await status_of(discord_, server.guild, server.moderator)
        assert reason in fields["Status"]
        assert f"(failed: {reason})" in fields["Recent posts"]

        resumed = await discord_.slash(server.guild, server.moderator, "daily resume")
        assert (await resumed.answer()).embeds[0]["title"] == "Concept of the day resumed"
        now = await discord_.slash(server.guild, server.moderator, "daily now")
        assert "Posted today's concept" in (await now.wait_followup()).content
        retried = await record(bot, server.guild.id, MONDAY)
        assert (retried.status, retried.concept_id, retried.detail) == ("posted", failed.concept_id, None)
        await at(bot, clock, datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    assert footer_days(bots_posts(discord_, channel)) == ["2026-11-23", "2026-11-24"]


class _NoBackoff:
    """discord.http's view of asyncio, minus the 1-9 s waits between its own retries of a 5xx."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(0 if delay >= 1 else delay, result)


@pytest.mark.parametrize(
    ("status", "times"),
    [(500, 5), (503, 1)],
    ids=["500-after-discord.py's-own-retries", "503"],
)
async def test_server_error_at_send_time_is_retried_five_minutes_later(
    discord_: StandIn, server: Server, start_bot: Start, monkeypatch: pytest.MonkeyPatch, status: int, times: int
) -> None:
    """A 5xx is Discord's trouble, not the guild's: the schedule stays on and the same day is posted at the retry.

    discord.py retries a 500 itself, five times, waiting 1 to 9 s between; those waits are skipped here.
    """
    monkeypatch.setattr(discord.http, "asyncio", _NoBackoff())
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        discord_.fail_next("POST", f"/channels/{channel.id}/messages", status=status, times=times)
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        assert daily_posts(discord_, channel) == []
        assert (await record(bot, server.guild.id, MONDAY)).status == "pending"
        assert scheduler(bot).schedule_of(server.guild.id).state is DailyState.ACTIVE
        assert scheduler(bot).next_post(server.guild.id) == datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
        await at(bot, clock, datetime(2026, 11, 23, 8, 4, 59, tzinfo=UTC))
        assert daily_posts(discord_, channel) == []
        await at(bot, clock, datetime(2026, 11, 23, 8, 5, tzinfo=UTC))
        posts = bots_posts(discord_, channel)
        assert footer_days(posts) == ["2026-11-23"]
        assert (await record(bot, server.guild.id, MONDAY)).message_id == posts[0].id
        assert scheduler(bot).next_post(server.guild.id) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        await at(bot, clock, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    assert len(daily_posts(discord_, channel)) == 1
    assert len(discord_.find_requests("POST", f"/channels/{channel.id}/messages", status=status)) == times


async def test_read_message_history_is_required(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Without Read Message History the bot could not find its post after a crash: the channel is refused."""
    channel = server.guild.channel("daily")
    discord_.set_channel_permissions(channel, discord_.bot_role(server.guild), deny=READ_MESSAGE_HISTORY)
    async with start_bot(clock=ManualClock(MONDAY_7AM)) as bot:
        refused = await set_daily(discord_, server, channel)
        assert refused.response.ephemeral
        assert "lacks Read Message History" in (await refused.answer()).content
        assert "Nothing was saved" in (await refused.answer()).content
        assert await DailyRepository(bot.store).schedules() == []


async def test_deleting_another_channel_does_not_stop_the_schedule(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Only the daily channel's deletion stops posting; any other channel may come and go."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    general = server.guild.channel("general")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel)
        discord_.remove_channel(general)
        guild = bot.get_guild(server.guild.id)
        assert guild is not None
        await discord_.changes.wait_for(lambda: guild.get_channel(general.id) is None, 5, "the deletion")
        await at(bot, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        await at(bot, clock, datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
        assert scheduler(bot).schedule_of(server.guild.id).state is DailyState.ACTIVE
        saved = await DailyRepository(bot.store).schedule(server.guild.id)
        assert saved is not None
        assert saved.state is DailyState.ACTIVE
    assert footer_days(bots_posts(discord_, channel)) == ["2026-11-23", "2026-11-24"]


async def test_local_dates_ahead_of_utc_and_a_restart_between_two_guilds_post_times(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Auckland (UTC+13) and Tokyo (UTC+9) at 08:00 both post on 24 November while UTC still says the 23rd;
    a restart after Auckland's post and before Tokyo's neither repeats Auckland's nor skips Tokyo's."""
    tokyo = discord_.add_guild("Tokyo group", channels=("daily",))
    tokyo_mod = discord_.add_member(tokyo, "mod-tokyo", permissions=0x20)
    auckland_channel, tokyo_channel = server.guild.channel("daily"), tokyo.channel("daily")
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # 01:00 on the 24th in Auckland
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, auckland_channel, "08:00", "Pacific/Auckland")
        await discord_.slash(tokyo, tokyo_mod, "daily set",
                             options={"channel": tokyo_channel, "time": "08:00", "timezone": "Asia/Tokyo"})  # fmt: skip
        await at(bot, clock, datetime(2026, 11, 23, 18, 59, tzinfo=UTC))
        assert daily_posts(discord_, auckland_channel) == []
        await at(bot, clock, datetime(2026, 11, 23, 19, 0, tzinfo=UTC))  # 08:00 on the 24th in Auckland
        assert footer_days(daily_posts(discord_, auckland_channel)) == ["2026-11-24"]
        assert daily_posts(discord_, tokyo_channel) == []
    clock.set(datetime(2026, 11, 23, 21, 0, tzinfo=UTC))  # restart: 10:00 in Auckland, 06:00 in Tokyo
    async with start_bot(clock=clock) as bot:
        await at(bot, clock, datetime(2026, 11, 23, 21, 0, tzinfo=UTC))  # the scheduler has loaded and planned
        assert scheduler(bot).next_post(tokyo.id) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
        assert scheduler(bot).next_post(server.guild.id) == datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
        await at(bot, clock, datetime(2026, 11, 23, 22, 59, tzinfo=UTC))
        assert daily_posts(discord_, tokyo_channel) == []
        await at(bot, clock, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))  # 08:00 on the 24th in Tokyo
        assert footer_days(daily_posts(discord_, tokyo_channel)) == ["2026-11-24"]
        assert footer_days(daily_posts(discord_, auckland_channel)) == ["2026-11-24"]
        tokyo_fields = await status_of(discord_, tokyo, tokyo_mod)
        assert "Wed 25 Nov 2026, 08:00 Asia/Tokyo" in tokyo_fields["Next post"]
        assert tokyo_fields["Recent posts"].count("\n") == 0  # its own one post, not Auckland's
        assert tokyo_fields["Recent posts"].startswith("24 Nov: ")
        await at(bot, clock, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
        rows = await bot.store.fetch_all("SELECT guild_id, local_date FROM daily_posts ORDER BY local_date, guild_id")
    assert footer_days(daily_posts(discord_, auckland_channel)) == ["2026-11-24", "2026-11-25"]
    assert footer_days(daily_posts(discord_, tokyo_channel)) == ["2026-11-24", "2026-11-25"]
    assert sorted(rows) == sorted(
        (guild_id, day) for guild_id in (server.guild.id, tokyo.id) for day in ("2026-11-24", "2026-11-25")
    )


async def test_daily_now_counts_for_the_guilds_local_day(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """At 01:00 on the 24th in Auckland (still the 23rd in UTC) `/daily now` posts the 24th's; 09:00 adds nothing."""
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel, "09:00", "Pacific/Auckland")
        now = await discord_.slash(server.guild, server.moderator, "daily now")
        assert "Posted today's concept" in (await now.wait_followup()).content
        assert footer_days(bots_posts(discord_, channel)) == ["2026-11-24"]
        assert scheduler(bot).next_post(server.guild.id) == datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
        await at(bot, clock, datetime(2026, 11, 23, 20, 0, tzinfo=UTC))  # 09:00 on the 24th in Auckland
        assert len(bots_posts(discord_, channel)) == 1
        await at(bot, clock, datetime(2026, 11, 24, 20, 0, tzinfo=UTC))
    assert footer_days(bots_posts(discord_, channel)) == ["2026-11-24", "2026-11-25"]


async def test_an_entry_added_mid_cycle_is_posted_in_that_cycle(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Immunosuppressants only (seven entries): three days in, a moderator adds an eighth under that category; the
    next five days post it and the four left, so eight days show eight different concepts."""
    clock = ManualClock(MONDAY_7AM)
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        await set_daily(discord_, server, channel, "08:00", "UTC", category="immunosuppressants")
        for day in range(3):
            await at(bot, clock, datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(days=day))
        opened = await discord_.slash(server.guild, server.moderator, "concept add", category="immunosuppressant")
        assert opened.modal is not None
        fields = {"name": "Zebrafimab", "aliases": "", "summary": "A course-only example agent.",
                  "definition": "An invented immunosuppressant this server studies.", "reason": "week 3"}  # fmt: skip
        added = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], fields)
        assert "Added “Zebrafimab”" in (await added.answer()).content
        for day in range(3, 8):
            await at(bot, clock, datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(days=day))
    titles = [post.embeds[0]["title"].removeprefix("Concept of the day: ") for post in bots_posts(discord_, channel)]
    assert len(titles) == 8
    assert len(set(titles)) == 8
    assert "Zebrafimab" in titles[3:]
