"""Timezones as people type them: IANA names, cities, countries and abbreviations (daily posts, flashcards).

A name other than an IANA name is accepted when it names one zone: every zone it could mean keeps the same
time from now on (Germany: Europe/Berlin and Europe/Busingen do; the United States' zones do not). Then the
first of them is chosen, in the tz database's own order (a country's most populous zone first). Names that
mean clocks which differ ("IST": India, Ireland) are refused with the zones to choose from.

Everything is read from the tz database that the `tzdata` package ships: zone names, `zone.tab` (zones by
country), `iso3166.tab` (country names) and `zonenow.tab` (present-day timekeeping, with abbreviations).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rapidfuzz import fuzz, process

COMMON_TIMEZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles",
    "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
)  # fmt: skip
"""Offered before anything is typed."""

COUNTRY_ALIASES = {
    "uk": "GB", "united kingdom": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "usa": "US", "us": "US", "america": "US",
    "united states of america": "US", "holland": "NL", "the netherlands": "NL", "south korea": "KR",
    "korea": "KR", "north korea": "KP", "czechia": "CZ", "uae": "AE", "russia": "RU", "vietnam": "VN",
}  # fmt: skip
"""Everyday names of countries that `iso3166.tab` spells otherwise ("Britain (UK)", "Korea (South)")."""

SUGGESTION_CUTOFF = 78
"""Autocomplete offers a name that does not start with what was typed only if it is at least this close
(rapidfuzz's ratio, 0-100): typos ("londn", "tokio"), not names that merely share letters."""


def _fold(text: str) -> str:
    """Compare names as people type them: case, accents, underscores, hyphens and extra spaces ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[_\-.,()]", " ", plain).split())


MAX_TYPED = 64
"""Characters of typed text autocomplete looks at (the longest IANA name has 32)."""


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA timezone name the machine knows (tzdata is a dependency, so this is never empty)."""
    return tuple(sorted(available_timezones()))


def _table(name: str) -> list[list[str]]:
    """The rows of one of tzdata's .tab files (comments dropped)."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - tzdata is a dependency
        return []
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@dataclass(frozen=True)
class Aliases:
    """Names that are not IANA names, each with the zones it could mean (in preference order)."""

    by_name: dict[str, tuple[str, ...]]
    labels: dict[str, str]
    """How each folded name is written, for suggestions ("London", "Germany", "PST")."""


@lru_cache(maxsize=1)
def aliases() -> Aliases:
    """Cities (the last part of zone names), countries and abbreviations, with the zones they can mean."""
    known = set(timezone_names())
    by_name: dict[str, list[str]] = defaultdict(list)
    labels: dict[str, str] = {}

    def add(label: str, zone: str) -> None:
        if zone not in known:
            return
        key = _fold(label)
        if zone not in by_name[key]:
            by_name[key].append(zone)
        labels.setdefault(key, label)

    countries = {row[0]: row[1] for row in _table("iso3166.tab") if len(row) >= 2}
    by_country: dict[str, list[str]] = defaultdict(list)
    listed: list[str] = []
    for row in _table("zone.tab"):
        if len(row) >= 3:
            by_country[row[0]].append(row[2])
            listed.append(row[2])
    for code, zones in by_country.items():
        for zone in zones:
            if code in countries:
                add(countries[code], zone)
                add(re.sub(r"\s*\(.*\)", "", countries[code]), zone)  # "Britain (UK)" also as "Britain"
    for alias, code in COUNTRY_ALIASES.items():
        for zone in by_country.get(code, []):
            add(alias.title() if len(alias) > 3 else alias.upper(), zone)
    # Cities: the last part of each zone name; canonical zones (listed in zone.tab) before their links.
    for zone in sorted(known, key=lambda z: (z not in listed, z)):
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/")):
            add(zone.rsplit("/", 1)[1].replace("_", " "), zone)
    for row in _table("zonenow.tab"):
        if len(row) >= 4:
            for group in re.findall(r"\(([A-Za-z]+(?:/[A-Za-z]+)*)\)", row[3]):
                for abbreviation in group.split("/"):
                    if abbreviation.isupper() or abbreviation == "ChST":
                        add(abbreviation, row[2])
    return Aliases({key: tuple(zones) for key, zones in by_name.items()}, labels)


@lru_cache(maxsize=1024)
def _clock(zone: str) -> tuple[timedelta | None, ...]:
    """The zone's UTC offset every week for the next 13 months: equal for zones that keep the same time (a
    week is shorter than the gap between any two regions' daylight-saving changes)."""
    info = ZoneInfo(zone)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return tuple((start + timedelta(days=day)).astimezone(info).utcoffset() for day in range(0, 400, 7))


def _one_zone(zones: tuple[str, ...]) -> str | None:
    """The zone a name means if all its zones keep the same time from now on, else None."""
    if len(zones) == 1 or len({_clock(zone) for zone in zones}) == 1:
        return zones[0]
    return None


def parse_timezone(text: str) -> str:
    """Return the IANA name for `text` (an IANA name in any case, or a city, country or abbreviation that
    names one zone); raise ValueError naming what to type instead."""
    wanted = text.strip()
    by_folded = {name.casefold(): name for name in timezone_names()}
    name = by_folded.get(wanted.casefold().replace(" ", "_"))
    zones = aliases().by_name.get(_fold(wanted))
    if name is not None and "/" not in name and zones and _one_zone(zones):
        name = None  # a legacy name such as "Japan" or "Egypt": the zone the name means today instead
    if name is None and zones:
        name = _one_zone(zones)
        if name is None:
            first_of_each: dict[tuple[timedelta | None, ...], str] = {}
            for zone in zones:
                first_of_each.setdefault(_clock(zone), zone)
            distinct = list(first_of_each.values())
            shown = ", ".join(distinct[:10]) + (" and others" if len(distinct) > 10 else "")
            raise ValueError(
                f"“{wanted[:40]}” covers places whose clocks differ: {shown}. Pick the one you mean "
                "(or type your city)."
            )
    if name is None:
        close = suggest_timezones(wanted, limit=3)
        hint = f" Did you mean {', '.join(close)}?" if close and wanted else ""
        raise ValueError(
            f"“{wanted[:40]}” is not a timezone I know.{hint} Type a city, a country or an IANA name "
            "(e.g. London, Germany or Europe/London) and pick from the list."
        )
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as error:  # listed but not loadable: treat as unknown
        raise ValueError(f"The timezone {name} cannot be loaded on this machine.") from error
    return name


@lru_cache(maxsize=1)
def _search_keys() -> tuple[list[str], list[tuple[str, ...]]]:
    """Folded searchable names (IANA names, cities, countries, abbreviations) and the zones each offers."""
    keys: list[str] = []
    zones: list[tuple[str, ...]] = []
    for name in timezone_names():
        keys.append(_fold(name))
        zones.append((name,))
    for key, candidates in aliases().by_name.items():
        keys.append(key)
        chosen = _one_zone(candidates)
        zones.append((chosen,) if chosen else candidates)
    return keys, zones


@lru_cache(maxsize=1)
def _places() -> dict[str, str]:
    """Where each zone.tab zone is kept, as people name it: "Britain (UK)", "United States: Pacific"."""
    countries = {row[0]: row[1] for row in _table("iso3166.tab") if len(row) >= 2}
    places: dict[str, str] = {}
    for row in _table("zone.tab"):
        if len(row) >= 3 and row[2] not in places:
            country = countries.get(row[0], row[0])
            places[row[2]] = f"{country}: {row[3]}" if len(row) >= 4 and row[3] else country
    return places


def timezone_label(zone: str) -> str:
    """A zone as an autocomplete choice shows it: the IANA name and where it is kept (at most 100 characters)."""
    place = _places().get(zone)
    label = f"{zone} — {place}" if place else zone
    return label if len(label) <= 100 else label[:99] + "…"


@lru_cache(maxsize=1)
def _last_parts() -> list[str]:
    return [key.rsplit("/", 1)[-1] for key in _search_keys()[0]]


def suggest_timezones(current: str, limit: int = 25) -> list[str]:
    """Timezone names for autocomplete, closest first: common ones when nothing is typed; else names whose
    IANA name, city, country or abbreviation is what was typed, then starts with it, then resembles it."""
    wanted = _fold(current[:MAX_TYPED])  # no zone name is longer: bounds the work per keystroke
    if not wanted:
        return list(COMMON_TIMEZONES)
    keys, zones = _search_keys()
    ranked: list[tuple[float, int, str]] = []
    for index, key in enumerate(keys):
        last = key.rsplit("/", 1)[-1]
        if wanted in (key, last):
            score = 300.0
        elif key.startswith(wanted) or last.startswith(wanted):
            score = 200.0 - len(key) / 100
        elif any(part.startswith(wanted) for part in re.split(r"[/ ]", key)):
            score = 150.0 - len(key) / 100
        else:
            continue
        ranked.extend((score, position, zone) for position, zone in enumerate(zones[index]))
    for choices in (keys, _last_parts()):  # typos: against whole names and against their last part
        fuzzy = process.extract(wanted, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=SUGGESTION_CUTOFF)
        for _, score, index in fuzzy:
            ranked.extend((float(score), position, zone) for position, zone in enumerate(zones[index]))
    best: dict[str, float] = {}
    order: dict[str, tuple[float, int]] = {}
    for score, position, zone in ranked:
        if score > best.get(zone, -1):
            best[zone] = score
            order[zone] = (-score, position)
    return sorted(best, key=lambda zone: (*order[zone], zone))[:limit]
