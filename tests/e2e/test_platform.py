"""What a host relies on: sync only when needed, components that survive restarts, retries, reconnects."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import yaml

from bot.client import ImmunoBot
from standin import StandIn
from tests.e2e.conftest import Server, assert_never_pinged

ROOT = str(Path(__file__).resolve().parents[2])
Start = Callable[..., AbstractAsyncContextManager[ImmunoBot]]


async def test_commands_sync_once_then_only_when_changed(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """First start syncs; a restart with the same tree does not; a dev guild gets its own sync."""
    async with start_bot():
        assert discord_.sync_count == 1
        assert {c["name"] for c in discord_.commands()} >= {"about", "category", "daily", "define", "search", "stages"}
    async with start_bot():
        assert discord_.sync_count == 1
    async with start_bot(dev_guild_id=server.guild.id):
        assert discord_.sync_count == 2
        assert {c["name"] for c in discord_.commands(guild=server.guild)} >= {"define", "stages"}


async def test_buttons_and_menus_work_after_a_restart(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """Components on messages sent before a restart still answer (stable custom ids)."""
    async with start_bot():
        define = await discord_.slash(server.guild, server.member, "define", term="cyclosporine")
        stages = await discord_.slash(server.guild, server.member, "stages")
    async with start_bot():
        chosen = await discord_.select(
            server.guild, server.member, define, "concept:related:cyclosporine", ["tacrolimus"]
        )
        assert chosen.response.embeds[0]["title"] == "Tacrolimus"
        peek = await discord_.click(server.guild, server.member, stages, "concept:peek:exact-diagnosis")
        assert peek.response.embeds[0]["title"] == "Exact diagnosis"
    assert_never_pinged(discord_)


async def test_rate_limited_callback_is_retried(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """A 429 with retry_after on the interaction callback is retried and the user still gets the answer."""
    async with start_bot():
        discord_.fail_next("POST", "/interactions/*/callback", status=429, retry_after=0.1)
        result = await discord_.slash(server.guild, server.member, "define", term="sirolimus")
        assert result.response.embeds[0]["title"] == "Sirolimus"
        statuses = [r.status for r in discord_.find_requests("POST", "/interactions/*/callback")]
        assert statuses[-2:] == [429, 200]


async def test_gateway_drop_resumes_and_keeps_answering(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """After the websocket drops, the bot RESUMEs (no new IDENTIFY) and answers the next command."""
    async with start_bot():
        identifies = len(discord_.identifies)
        discord_.drop_gateway()
        await discord_.wait_for_resume(1, within=10)
        result = await discord_.slash(server.guild, server.member, "define", term="azathioprine", within=10)
        assert result.response.embeds[0]["title"] == "Azathioprine"
        assert len(discord_.identifies) == identifies


async def test_longest_possible_entry_fits_discord_limits(
    discord_: StandIn, server: Server, start_bot: Start, tmp_path: Path, monkeypatch
) -> None:
    """An entry at every maximum length renders without a 400 from Discord: text is cut cleanly."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sources.yaml").write_text(
        yaml.safe_dump(
            {
                "documents": [
                    {"id": "doc", "title": "T" * 100, "file": "doc.txt", "description": "D" * 600, "caveat": "C" * 600}
                ]
            }
        )
    )
    concepts = [{
        "id": f"entry-{number}", "name": f"Entry {number} " + "N" * 80, "aliases": [f"alias {number} {i} " + "a" * 80 for i in range(40)],
        "summary": "S" * 200, "definition": ("word " * 300)[:1500], "source": {"document": "doc", "section": "x" * 200, "editorial": "E" * 600},
        "examples": ["e" * 120] * 30, "notes": [f"note {i} " + "n" * 590 for i in range(12)],
        "related": [f"entry-{other}" for other in range(3) if other != number],
    } for number in range(3)]  # fmt: skip
    (data / "concepts.yaml").write_text(yaml.safe_dump({"concepts": concepts}))
    monkeypatch.setenv("IMMUNOBOT_DATA_DIR", str(data))
    async with start_bot():
        result = await discord_.slash(server.guild, server.member, "define", term="Entry 1 " + "N" * 80)
        embed = result.response.embeds[0]
        assert embed["title"].startswith("Entry 1")
        assert any(field["value"].endswith("…") for field in embed["fields"])
        about = await discord_.slash(server.guild, server.member, "about")
        assert about.response.embeds
    assert discord_.rejected_requests == []


async def test_health_file_tracks_a_connected_bot(
    discord_: StandIn, server: Server, start_bot: Start, tmp_path: Path
) -> None:
    """The bot touches HEALTH_FILE once connected; `python -m bot health` reads it (stale means unhealthy)."""
    import os
    import subprocess
    import sys

    health = tmp_path / "health"
    async with start_bot(health_file=health):
        await discord_.changes.wait_for(health.exists, 5, "the health file")
    assert health.exists()
    environment = {**os.environ, "HEALTH_FILE": str(health), "PYTHONPATH": ROOT}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "health"], env=environment, capture_output=True,
                              text=True, timeout=60, check=False, cwd=tmp_path)  # fmt: skip

    assert check().returncode == 0
    os.utime(health, (0, 0))
    stale = check()
    assert stale.returncode == 1
    assert "unhealthy" in stale.stderr
