"""Concept-of-the-day rules that need no Discord: times, timezones, due times across DST, the pool."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.daily import CLAIM_LEASE, Busy, DailyRepository, DailySchedule, next_due, parse_post_time
from bot.glossary import Glossary
from bot.store import Store
from bot.timezones import parse_timezone, suggest_timezones


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00", time(8)),
        ("8:05", time(8, 5)),
        ("20.30", time(20, 30)),
        ("7h15", time(7, 15)),
        (" 23:59 ", time(23, 59)),
    ],
)
def test_times_people_type(text: str, expected: time) -> None:
    """Common 24-hour spellings are accepted."""
    assert parse_post_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "noon", "", "8", "08:00pm", "-1:00", "１２:００x"])
def test_non_times_are_refused_with_an_example(text: str) -> None:
    """Anything else is refused with a message that shows the format."""
    with pytest.raises(ValueError, match="HH:MM"):
        parse_post_time(text)


def test_timezones_are_canonicalised_or_refused() -> None:
    """IANA names in any case (spaces for underscores) are accepted; others are refused."""
    assert parse_timezone("europe/london") == "Europe/London"
    assert parse_timezone("America/New York") == "America/New_York"
    with pytest.raises(ValueError, match="not a timezone"):
        parse_timezone("Mars/Olympus")
    assert suggest_timezones("europe/lond")[0] == "Europe/London"
    assert "UTC" in suggest_timezones("")


def schedule(post: str, zone: str, since: datetime = datetime(2000, 1, 1, tzinfo=UTC)) -> DailySchedule:
    """A schedule for the rules below."""
    return DailySchedule(1, 2, parse_post_time(post), zone, active_since=since)


def test_spring_forward_gap_posts_once_an_hour_later() -> None:
    """02:30 does not exist in New York on 8 March 2026: the post is due at 03:30 local (07:30 UTC)."""
    due = next_due(schedule("02:30", "America/New_York"), datetime(2026, 3, 8, 5, tzinfo=UTC), date(2026, 3, 7))
    assert due == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_fall_back_repeat_posts_at_the_first_occurrence() -> None:
    """01:30 happens twice in New York on 1 November 2026: the first one (EDT) counts."""
    due = next_due(schedule("01:30", "America/New_York"), datetime(2026, 11, 1, 4, tzinfo=UTC), date(2026, 10, 31))
    assert due == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    after = next_due(schedule("01:30", "America/New_York"), datetime(2026, 11, 1, 6, 30, tzinfo=UTC), date(2026, 11, 1))
    assert after == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_catch_up_today_only_and_not_before_switching_on() -> None:
    """Past post time and not yet posted: due now; but a time that passed before the schedule began is not missed."""
    now = datetime(2026, 11, 23, 15, tzinfo=UTC)
    assert next_due(schedule("08:00", "UTC"), now, date(2026, 11, 20)) == datetime(2026, 11, 23, 8, tzinfo=UTC)
    fresh = schedule("08:00", "UTC", since=datetime(2026, 11, 23, 14, tzinfo=UTC))
    assert next_due(fresh, now, None) == datetime(2026, 11, 24, 8, tzinfo=UTC)


def test_pool_of_a_category_includes_its_descendants(glossary: Glossary) -> None:
    """Choosing "immunomodulatory therapy" draws from its sub-categories' agents too."""
    drawn = set(glossary.pool(["immunomodulatory-therapy"]))
    assert {"tacrolimus", "bcg", "immunosuppressant"} <= drawn
    assert "monoclonal-antibody" not in drawn
    assert "effect-axis" not in glossary.pool([])


async def test_a_claim_is_owned_a_second_process_waits_then_takes_over(database_url: str) -> None:
    """Two processes on one database: while the first owns the day's claim (its send may be in flight), the second
    gets Busy and sends nothing; once the lease has run out it takes over, asking first whether the post went out."""
    async with await Store.open(database_url) as store:
        repository = DailyRepository(store)
        schedule = DailySchedule(1, 10, time(8, 0), "UTC")
        day, now = date(2026, 11, 23), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        first = await repository.claim_day(schedule, day, ["a", "b"], owner="first:1", now=now)
        assert isinstance(first, tuple)
        assert first[1] is False
        second = await repository.claim_day(schedule, day, ["a", "b"], owner="second:1", now=now + timedelta(minutes=1))
        assert second == Busy("first:1", now + CLAIM_LEASE)
        again = await repository.claim_day(schedule, day, ["a", "b"], owner="first:2", now=now + timedelta(minutes=1))
        assert isinstance(again, tuple)  # the owner's own process: its earlier attempt has ended
        later = now + CLAIM_LEASE + timedelta(minutes=2)
        taken = await repository.claim_day(schedule, day, ["a", "b"], owner="second:2", now=later)
        assert isinstance(taken, tuple)
        assert taken[0].concept_id == first[0].concept_id
        assert taken[1] is True  # may have been sent: the taker looks for the post before sending
        rows = await store.fetch_all("SELECT claim_owner FROM daily_posts")
        assert rows == [("second:2",)]


async def test_a_shorter_lease_from_the_settings_lets_a_restarted_process_take_over_sooner(tmp_path: Path) -> None:
    """DAILY_CLAIM_LEASE_SECONDS (tests and benchmarks): a dead process's claim holds the day that long, no longer."""
    assert load_settings().daily_claim_lease_seconds == CLAIM_LEASE.total_seconds()  # the default: 5 minutes
    lease = timedelta(seconds=load_settings(daily_claim_lease_seconds="20").daily_claim_lease_seconds)
    async with await Store.open(f"sqlite:///{tmp_path / 'lease.db'}") as store:
        repository = DailyRepository(store)
        schedule = DailySchedule(1, 10, time(8, 0), "UTC")
        day, now = date(2026, 11, 23), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        assert isinstance(await repository.claim_day(schedule, day, ["a"], owner="dead:1", now=now, lease=lease), tuple)
        soon = now + timedelta(seconds=19)
        assert await repository.claim_day(schedule, day, ["a"], owner="new:1", now=soon, lease=lease) == Busy(
            "dead:1", now + lease
        )
        taken = await repository.claim_day(schedule, day, ["a"], owner="new:2", now=now + lease, lease=lease)
        assert isinstance(taken, tuple)
        assert taken[1] is True  # may have been sent: looked for before sending again


def test_timezone_suggestions_read_a_bounded_prefix() -> None:
    """However long the typed text, autocomplete looks at its first 64 characters only (bounded work per key)."""
    assert suggest_timezones("Europe/" + "x" * 6000) == suggest_timezones(("Europe/" + "x" * 6000)[:64])
