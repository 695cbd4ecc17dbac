"""TEST_CLOCK: bot processes started as a host starts them share one shifted, sped-up time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ScaledClock, SystemClock
from bot.config import ConfigError, load_settings

START = datetime(2026, 11, 23, 6, tzinfo=UTC)


def test_processes_given_the_same_test_clock_read_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock reads its start at the given Unix time and runs `speed` times faster from there."""
    monkeypatch.setattr(time, "time", lambda: 1_000_010.0)
    text = "2026-11-23T06:00:00+00:00@1000000x60"
    first, second = load_settings(test_clock=text).clock(), load_settings(test_clock=text).clock()
    assert first.now() == second.now() == START + timedelta(minutes=10)
    assert ScaledClock.parse("2026-11-23T07:00:00+01:00 @ 1000010").now() == START  # speed 1, any offset
    assert isinstance(load_settings().clock(), SystemClock)
    assert not isinstance(load_settings().clock(), ScaledClock)


@pytest.mark.parametrize("text", ["tomorrow", "2026-11-23T06:00:00@1000000", "2026-13-01T00:00:00+00:00@1", "x@1x0"])
def test_a_malformed_test_clock_stops_start_up_in_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^Invalid configuration: TEST_CLOCK: "):
        load_settings(test_clock=text)


async def test_a_sped_up_clock_sleeps_its_own_time() -> None:
    """At 600x, six minutes of the clock pass in 0.6 s of real time; a wake ends the sleep at once."""
    clock = ScaledClock(START, time.time(), speed=600)
    target = clock.now() + timedelta(minutes=6)
    started = time.perf_counter()
    await clock.sleep_until(target, asyncio.Event())
    assert clock.now() >= target
    assert time.perf_counter() - started < 3
    woken = asyncio.Event()
    woken.set()
    started = time.perf_counter()
    await clock.sleep_until(clock.now() + timedelta(hours=1), woken)
    assert time.perf_counter() - started < 0.5
