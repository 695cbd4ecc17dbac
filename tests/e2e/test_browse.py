"""/category, /stages, /search and /about end to end."""

from __future__ import annotations

import pytest

from standin import StandIn
from tests.e2e.conftest import Server

pytestmark = pytest.mark.usefixtures("bot")


async def test_category_overview_lists_axes_and_tree(discord_: StandIn, server: Server) -> None:
    """With no name: the four axes with their classes, and the preparation tree."""
    result = await discord_.slash(server.guild, server.member, "category")
    fields = {field["name"]: field["value"] for field in result.response.embeds[0]["fields"]}
    axes = [name for name in fields if name.startswith("Classification by")]
    assert len(axes) == 4
    assert "Active immunotherapy" in fields["Classification by the nature of the preparation (active vs passive)"]
    assert "Tacrolimus" in fields["Preparation tree"]


async def test_category_members_page_with_buttons(discord_: StandIn, server: Server) -> None:
    """A long category pages with buttons; Next edits the message in place to page 2."""
    result = await discord_.slash(server.guild, server.member, "category", options={"name": "immunomodulatory"})
    embed = result.response.embeds[0]
    assert embed["title"] == "Immunomodulatory therapy"
    assert "page 1 of 2" in embed["footer"]["text"]
    next_page = next(cid for cid in result.response.custom_ids if cid.endswith(":1"))
    turned = await discord_.click(server.guild, server.member, result, next_page)
    assert turned.response.type == 7
    assert "page 2 of 2" in turned.response.embeds[0]["footer"]["text"]


async def test_category_autocomplete_offers_only_categories(discord_: StandIn, server: Server) -> None:
    """Autocomplete for /category lists groups, not single agents."""
    result = await discord_.autocomplete(
        server.guild, server.member, "category", focused="name", options={"name": "immuno"}
    )
    names = [choice["value"] for choice in result.choices]
    assert "Immunosuppressant" in names
    assert "Tacrolimus" not in names


async def test_category_of_an_entry_shows_where_it_belongs(discord_: StandIn, server: Server) -> None:
    """Naming an agent lists its category and says so."""
    result = await discord_.slash(server.guild, server.member, "category", options={"name": "tacrolimus"})
    embed = result.response.embeds[0]
    assert embed["title"] == "Immunosuppressant"
    assert "Tacrolimus is an entry in this category" in embed["description"]


async def test_unknown_category_is_a_private_hint(discord_: StandIn, server: Server) -> None:
    """Nonsense gets an ephemeral reply pointing at /category."""
    result = await discord_.slash(server.guild, server.member, "category", options={"name": "qwertyuiop"})
    assert result.response.ephemeral
    assert "No category matches" in result.response.content


async def test_stages_in_order_with_caveat_diagram_and_buttons(discord_: StandIn, server: Server) -> None:
    """The five stages in order, the clinic caveat, a PNG diagram attached to the embed, a button per stage."""
    result = await discord_.slash(server.guild, server.member, "stages")
    embed = result.response.embeds[0]
    description = embed["description"]
    positions = [
        description.index(name)
        for name in ("Exact diagnosis", "Immune blocking", "Immune adjustment", "Immune clearance", "Immune protection")
    ]
    assert positions == sorted(positions)
    assert "clinic" in description
    assert "guideline" in description
    assert embed["image"]["url"] == "attachment://stages.png"
    png = result.response.attachments[0]
    assert png.filename == "stages.png"
    assert png.content.startswith(b"\x89PNG")
    stage_buttons = [cid for cid in result.response.custom_ids if cid.startswith("concept:peek:")]
    assert len(stage_buttons) == 5
    peek = await discord_.click(server.guild, server.member, result, "concept:peek:immune-clearance")
    assert peek.response.ephemeral
    assert peek.response.embeds[0]["title"] == "Immune clearance"


async def test_one_stage_by_loose_name(discord_: StandIn, server: Server) -> None:
    """`/stages stage:` takes a loosely typed stage name; a non-stage is refused with the list."""
    found = await discord_.slash(server.guild, server.member, "stages", stage="blocking")
    assert found.response.embeds[0]["title"] == "Immune blocking"
    refused = await discord_.slash(server.guild, server.member, "stages", stage="tacrolimus")
    assert refused.response.ephemeral
    assert "Exact diagnosis" in refused.response.content


@pytest.mark.both_backends
async def test_search_ranks_definitions(discord_: StandIn, server: Server) -> None:
    """Full-text search finds words inside definitions, best first, with buttons to open them."""
    result = await discord_.slash(server.guild, server.member, "search", text="calcineurin")
    description = result.response.embeds[0]["description"]
    assert "Tacrolimus" in description
    assert "Cyclosporine" in description
    assert any(cid.startswith("concept:peek:") for cid in result.response.custom_ids)


@pytest.mark.both_backends
async def test_search_with_nothing_found_or_fts_syntax(discord_: StandIn, server: Server) -> None:
    """No hit gives a clear private reply; text that is FTS5 syntax is searched as plain words, never an error."""
    for text in ("zzzzqqq", "*", "!!!"):
        result = await discord_.slash(server.guild, server.member, "search", text=text)
        assert result.response.ephemeral, text
        assert "Nothing in the glossary mentions" in result.response.content
    syntax = await discord_.slash(server.guild, server.member, "search", text='"bladder" AND NEAR( cancer*')
    assert "Bacillus" in syntax.response.embeds[0]["description"]


async def test_about_names_sources_and_notice(discord_: StandIn, server: Server) -> None:
    """/about states the sources, the clinic caveat and the study-only notice."""
    result = await discord_.slash(server.guild, server.member, "about")
    embed = result.response.embeds[0]
    text = " ".join(field["value"] for field in embed["fields"])
    assert "not medical advice" in text
    assert sum(field["name"].startswith("Source:") for field in embed["fields"]) == 2
    assert "Immunobot" in embed["footer"]["text"]
