"""IANA timezones as people type them: validation and autocomplete suggestions (daily posts, flashcards)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rapidfuzz import fuzz, process, utils

COMMON_TIMEZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles",
    "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
)  # fmt: skip
"""Offered before anything is typed."""

MAX_TYPED = 64
"""Characters of typed text autocomplete looks at (the longest IANA name has 32)."""


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA timezone name the machine knows (tzdata is a dependency, so this is never empty)."""
    return tuple(sorted(available_timezones()))


def parse_timezone(text: str) -> str:
    """Return the canonical IANA name for `text` (case-insensitive); raise ValueError naming what to do."""
    wanted = text.strip()
    by_folded = {name.casefold(): name for name in timezone_names()}
    name = by_folded.get(wanted.casefold().replace(" ", "_"))
    if name is None:
        raise ValueError(
            f"“{wanted[:40]}” is not a timezone I know. Pick one from the list as you type, e.g. Europe/London."
        )
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as error:  # listed but not loadable: treat as unknown
        raise ValueError(f"The timezone {name} cannot be loaded on this machine.") from error
    return name


def suggest_timezones(current: str, limit: int = 25) -> list[str]:
    """Timezone names for autocomplete: common ones when nothing is typed, else the closest matches."""
    current = current[:MAX_TYPED]  # no zone name is longer: bounds the work per keystroke
    if not current.strip():
        return list(COMMON_TIMEZONES)
    found = process.extract(current, timezone_names(), scorer=fuzz.WRatio, processor=utils.default_process, limit=limit)
    return [name for name, _, _ in found]
