"""Discord's clocks: the first response within 3 s of the dispatch, follow-ups within 15 minutes."""

from __future__ import annotations

import aiohttp
import pytest

from standin import Guild, StandIn
from tests.standin.conftest import registered_interaction


async def test_first_response_after_three_seconds_is_unknown_interaction(discord_: StandIn, guild: Guild) -> None:
    assert discord_.enforce_deadline  # on by default: every e2e test is held to it
    on_time, late = registered_interaction(discord_, guild), registered_interaction(discord_, guild)
    async with aiohttp.ClientSession(discord_.base_url) as http:
        async with http.post(f"/api/v10/interactions/{on_time.id}/{on_time.token}/callback", json={"type": 6}) as r:
            assert r.status == 204
        discord_.advance(3.01)  # measured from the stand-in's dispatch to its receipt of the callback
        async with http.post(f"/api/v10/interactions/{late.id}/{late.token}/callback", json={"type": 6}) as r:
            assert r.status == 404
            assert (await r.json())["code"] == 10062
    assert late.response is None
    with pytest.raises(AssertionError, match="after the 3 s deadline"):
        discord_.assert_discord_accepted()  # so the e2e test that was late fails


async def test_followups_work_for_15_minutes_then_the_token_expires(discord_: StandIn, guild: Guild) -> None:
    interaction = registered_interaction(discord_, guild)
    base = f"/api/v10/webhooks/{discord_.application_id}/{interaction.token}"
    async with aiohttp.ClientSession(discord_.base_url) as http:
        async with http.post(f"/api/v10/interactions/{interaction.id}/{interaction.token}/callback",
                             json={"type": 5}) as r:  # fmt: skip
            assert r.status == 204
        discord_.advance(14 * 60 + 59)
        async with http.post(base + "?wait=true", json={"content": "still in time"}) as r:
            assert r.status == 200
        discord_.advance(2)
        async with http.post(base + "?wait=true", json={"content": "too late"}) as r:
            assert r.status == 401
            assert (await r.json()) == {"code": 50027, "message": "Invalid Webhook Token"}
        async with http.patch(base + "/messages/@original", json={"content": "edit"}) as r:
            assert r.status == 401
    assert [m.content for m in interaction.followups] == ["still in time"]
