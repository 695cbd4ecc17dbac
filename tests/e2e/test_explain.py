"""The "Explain terms" message context menu end to end: right-click a message → Apps → Explain terms."""

from __future__ import annotations

import pytest

from standin import StandIn
from tests.e2e.conftest import Server

pytestmark = pytest.mark.usefixtures("bot")


async def test_menu_is_registered_as_a_message_command(discord_: StandIn, server: Server) -> None:
    """The bot syncs a MESSAGE context menu (type 3) named as members see it in Apps."""
    commands = [c for scope in discord_.world.commands.values() for c in scope if int(c.get("type", 1)) == 3]
    assert [c["name"] for c in commands] == ["Explain terms"]


async def test_names_aliases_typos_and_examples_in_a_message_are_explained_privately(
    discord_: StandIn, server: Server
) -> None:
    """A member's message naming concepts several ways gets each concept's name and summary, with buttons."""
    message = discord_.user_message(
        server.guild,
        server.member,
        "Revision: tacrolimis vs MMF after a kidney transplant, then **BCG** for bladder cancer; "
        "cisplatin is chemo. Meeting on Thursday.",
    )
    result = await discord_.message_command(server.guild, server.member, "Explain terms", message)
    response = result.response
    assert response.ephemeral
    embed = response.embeds[0]
    assert embed["title"] == "Terms in this message"
    description = embed["description"]
    for name in ("Tacrolimus", "Mycophenolate mofetil", "Bacillus Calmette–Guérin", "Chemotherapy"):
        assert name in description, name
    assert description.index("Tacrolimus") < description.index("Mycophenolate mofetil")
    assert "“tacrolimis”" in description  # says how the message wrote it
    assert "is an example" in description  # cisplatin is one of Chemotherapy's examples
    buttons = [cid for cid in response.custom_ids if cid.startswith("concept:peek:")]
    assert "concept:peek:tacrolimus" in buttons
    assert len(buttons) == len(set(buttons))
    opened = await discord_.click(server.guild, server.member, result, "concept:peek:tacrolimus")
    assert opened.response.ephemeral
    assert opened.response.embeds[0]["title"] == "Tacrolimus"


async def test_a_bot_answer_can_be_explained_too(discord_: StandIn, server: Server) -> None:
    """The menu reads embeds as well as text: explaining a /define answer lists the concepts it names."""
    answer = await discord_.slash(server.guild, server.member, "define", term="tacrolimus")
    result = await discord_.message_command(server.guild, server.member, "Explain terms", answer)
    description = result.response.embeds[0]["description"]
    assert "Tacrolimus" in description
    assert "Immunosuppressant" in description


@pytest.mark.parametrize(
    "text",
    [
        "See you on Thursday, the meeting moved to room 4.",
        "🧬🧬🧬 <@123456789012345678> @everyone",
        "x" * 3900,
        "**__~~`the system crashed, blocking access`~~__**",
    ],
)
async def test_nothing_found_says_so(discord_: StandIn, server: Server, text: str, bot) -> None:
    """Ordinary chat, junk, markdown and a near-maximum message: a private sentence, and nothing changed."""
    before = await bot.store.table_counts()
    message = discord_.user_message(server.guild, server.member, text)
    result = await discord_.message_command(server.guild, server.member, "Explain terms", message)
    assert result.response.ephemeral
    assert "found no glossary terms" in result.response.content
    assert await bot.store.table_counts() == before


async def test_a_long_message_full_of_terms_is_listed_within_limits(discord_: StandIn, server: Server) -> None:
    """A 4,000-character message naming many concepts: at most 15 listed, buttons within Discord's limits."""
    names = "tacrolimus sirolimus azathioprine cyclosporine glucocorticoid thymosin BCG cytokine antibody "
    names += "chemotherapy radiotherapy surgery immunotherapy immune tolerance immune system dna vaccine "
    text = (names * 40)[:4000]
    message = discord_.user_message(server.guild, server.member, text)
    result = await discord_.message_command(server.guild, server.member, "Explain terms", message)
    embed = result.response.embeds[0]
    assert embed["description"].count("\n") + 1 == 15
    assert "the first 15 shown" in embed["footer"]["text"]
