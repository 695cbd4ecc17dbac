"""/define end to end: the real bot answers interactions injected as Discord would send them."""

from __future__ import annotations

import pytest

from standin import StandIn
from tests.e2e.conftest import Server

pytestmark = __import__("pytest").mark.usefixtures("bot")


@pytest.mark.both_backends
async def test_typo_resolves_to_the_full_entry(discord_: StandIn, server: Server) -> None:
    """A loosely typed term gets a public embed with every part of the entry and a related-entries menu."""
    result = await discord_.slash(server.guild, server.member, "define", term="immunoterapy")
    response = result.response
    assert response.type == 4
    assert not response.ephemeral
    embed = response.embeds[0]
    assert embed["title"] == "Immunotherapy"
    fields = {field["name"] for field in embed["fields"]}
    assert {"Also called", "Related", "Source", "Notes and corrections"} <= fields
    assert "not medical advice" in embed["footer"]["text"]
    assert "concept:related:immunotherapy" in response.custom_ids


async def test_alias_match_is_named_in_the_footer(discord_: StandIn, server: Server) -> None:
    """A code name finds its drug and says which name matched."""
    result = await discord_.slash(server.guild, server.member, "define", term="FK-506")
    embed = result.response.embeds[0]
    assert embed["title"] == "Tacrolimus"
    assert "FK506" in embed["footer"]["text"]
    category = next(f["value"] for f in embed["fields"] if f["name"] == "Category")
    assert category == "Immunotherapy › Immunomodulatory therapy › Immunosuppressant › Tacrolimus"


@pytest.mark.both_backends
async def test_autocomplete_offers_ranked_suggestions(discord_: StandIn, server: Server) -> None:
    """Typing fills the choices (type 8) from the resolver, at most 25, alias shown when it matched."""
    partial = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="immu")
    assert partial.response.type == 8
    assert 1 <= len(partial.choices) <= 25
    code = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="fk506")
    assert code.choices[0] == {"name": "Tacrolimus (FK506)", "value": "Tacrolimus"}
    empty = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="")
    assert len(empty.choices) == 25


async def test_generic_word_asks_did_you_mean_and_a_click_answers(discord_: StandIn, server: Server) -> None:
    """A word many entries share gets private choices; clicking one posts that entry in the channel."""
    result = await discord_.slash(server.guild, server.member, "define", term="vaccine")
    assert result.response.ephemeral
    assert "Did you mean" in result.response.content
    rows = [[c["custom_id"] for c in row["components"]] for row in result.response.components]
    buttons = rows[0]
    assert 2 <= len(buttons) <= 5
    assert all(cid.startswith("concept:show:") for row in rows for cid in row)
    click = await discord_.click(server.guild, server.member, result, buttons[0])
    assert not click.response.ephemeral
    assert click.response.embeds[0]["title"]


async def test_related_menu_opens_the_chosen_entry(discord_: StandIn, server: Server) -> None:
    """Choosing from the related-entries menu shows that entry to the chooser."""
    result = await discord_.slash(server.guild, server.member, "define", term="monoclonal antibody")
    chosen = await discord_.select(
        server.guild, server.member, result, "concept:related:monoclonal-antibody", ["polyclonal-antibody"]
    )
    assert chosen.response.ephemeral
    assert chosen.response.embeds[0]["title"] == "Polyclonal antibody"


async def test_typed_value_outside_the_choices_is_resolved_again(discord_: StandIn, server: Server) -> None:
    """Discord does not enforce autocomplete choices: a raw British plural still resolves."""
    result = await discord_.slash(server.guild, server.member, "define", term="Tumour cell vaccines")
    assert result.response.embeds[0]["title"] == "Tumor cell vaccine"


@pytest.mark.both_backends
async def test_junk_gets_a_clear_private_reply_and_changes_nothing(discord_: StandIn, server: Server, bot) -> None:
    """Hostile input: an ephemeral sentence with the text neutralised, and the database untouched."""
    before = await bot.store.table_counts()
    for junk in ("<@123456789012345678> '; DROP TABLE shipped_concepts;--", "🧬🧬🧬", "x" * 300, "@everyone hi"):
        result = await discord_.slash(server.guild, server.member, "define", term=junk)
        assert result.response.ephemeral, junk
        assert "No entry matches" in result.response.content or "Did you mean" in result.response.content
        assert "<@1" not in result.response.content
        assert "@everyone" not in result.response.content.replace("@\u200beveryone", "")
    assert await bot.store.table_counts() == before


async def test_blank_term_says_what_to_type(discord_: StandIn, server: Server) -> None:
    """Whitespace only: an ephemeral hint with an example."""
    result = await discord_.slash(server.guild, server.member, "define", term="   ")
    assert result.response.ephemeral
    assert "/define immunotherapy" in result.response.content


async def test_unexpected_error_is_logged_once_and_explained(
    discord_: StandIn, server: Server, bot, monkeypatch, caplog
) -> None:
    """A failure inside a command: the user gets a private sentence, operators get one log entry with context."""

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(bot.catalog, "search_page", broken)
    result = await discord_.slash(server.guild, server.member, "search", text="antibody")
    assert result.response.ephemeral
    assert "Something went wrong on our side" in result.response.content
    failures = [r for r in caplog.records if r.getMessage().startswith("Command /search failed")]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
