"""Timezones as people type them: IANA names, cities, countries and abbreviations that name one zone."""

from __future__ import annotations

import pytest

from bot.timezones import parse_timezone, suggest_timezones


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/London", "Europe/London"),
        ("america/new york", "America/New_York"),
        ("London", "Europe/London"),
        ("new york", "America/New_York"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Germany", "Europe/Berlin"),  # Berlin and Busingen keep the same time: one zone today
        ("United Kingdom", "Europe/London"),
        ("UK", "Europe/London"),
        ("India", "Asia/Kolkata"),
        ("Japan", "Asia/Tokyo"),  # the legacy link "Japan" gives the zone it means
        ("PST", "America/Los_Angeles"),
        ("BST", "Europe/London"),
        ("JST", "Asia/Tokyo"),
        ("UTC", "UTC"),
    ],
)
def test_names_of_one_zone_are_accepted(typed: str, zone: str) -> None:
    """A city, a country or an abbreviation that names one zone gives that zone."""
    assert parse_timezone(typed) == zone


@pytest.mark.parametrize(
    ("typed", "listed"),
    [
        ("IST", ("Asia/Kolkata", "Europe/Dublin")),
        ("CST", ("America/Chicago", "Asia/Shanghai")),
        ("Spain", ("Europe/Madrid", "Atlantic/Canary")),
        ("United States", ("America/New_York", "America/Chicago")),
    ],
)
def test_names_of_clocks_that_differ_are_refused_with_the_choices(typed: str, listed: tuple[str, ...]) -> None:
    """A name that covers places whose clocks differ is refused, listing the zones to choose from."""
    with pytest.raises(ValueError, match="clocks differ") as refused:
        parse_timezone(typed)
    for zone in listed:
        assert zone in str(refused.value)


def test_unknown_names_are_refused_with_what_to_type() -> None:
    """Nothing the tz database knows: refused, saying what kinds of names work."""
    with pytest.raises(ValueError, match="not a timezone I know") as refused:
        parse_timezone("Mars/Olympus")
    assert "a city, a country or an IANA name" in str(refused.value)


def test_autocomplete_ranks_by_closeness_and_leaves_out_unrelated_zones() -> None:
    """What was typed exactly first, then names starting with it, then typos; nothing unrelated."""
    assert suggest_timezones("london") == ["Europe/London"]
    assert suggest_timezones("europe/lond")[0] == "Europe/London"
    assert suggest_timezones("germany")[0] == "Europe/Berlin"
    assert suggest_timezones("pst")[0] == "America/Los_Angeles"
    assert suggest_timezones("londn")[0] == "Europe/London"
    assert suggest_timezones("tokio")[0] == "Asia/Tokyo"
    assert suggest_timezones("ist")[:2] == ["Europe/Dublin", "Asia/Kolkata"]
    assert suggest_timezones("zzzz") == []
    assert "UTC" in suggest_timezones("")
    assert len(suggest_timezones("a")) <= 25


def test_choices_say_where_a_zone_is_kept() -> None:
    """An autocomplete choice shows where the zone is kept, within Discord's 100 characters."""
    from bot.timezones import timezone_label, timezone_names

    assert timezone_label("Europe/Berlin") == "Europe/Berlin — Germany: most of Germany"
    assert timezone_label("UTC") == "UTC"
    assert all(len(timezone_label(zone)) <= 100 for zone in timezone_names())
