"""Every way of asking finds it, end to end: questions, example terms, corrected typos, entries that mention a
term, /search's spellings, corrections, phrases and pages, the whole /category tree and numbered stages."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.glossary import example_terms
from standin import StandIn, Upload
from tests.e2e.conftest import Server

pytestmark = pytest.mark.usefixtures("bot")


def footer(result) -> str:
    return result.response.embeds[0]["footer"]["text"]


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("what is BCG", "Bacillus Calmette–Guérin"),
        ("define immune tolerance", "Immune tolerance"),
        ("tell me about tacrolimus", "Tacrolimus"),
        ("what are cytokines?", "Cytokine"),
        ("What's MMF?", "Mycophenolate mofetil"),
        ("**tacrolimus**", "Tacrolimus"),
    ],
)
async def test_questions_resolve_like_the_bare_term(
    discord_: StandIn, server: Server, question: str, title: str
) -> None:
    """A question (or a term in markdown) posts the entry, publicly, as the bare term would."""
    result = await discord_.slash(server.guild, server.member, "define", term=question)
    assert not result.response.ephemeral
    assert result.response.embeds[0]["title"] == title


async def test_autocomplete_understands_questions(discord_: StandIn, server: Server) -> None:
    """Typing a question into the box suggests its subject first."""
    typed = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="what is tacroli")
    assert typed.choices[0]["value"] == "Tacrolimus"


async def test_autocomplete_labels_an_example_match(discord_: StandIn, server: Server) -> None:
    """A drug typed into the box is offered as the entry it is an example of, and labelled so."""
    typed = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="cisplat")
    assert typed.choices[0] == {"name": "Chemotherapy (example: cisplatin)", "value": "Chemotherapy"}


async def test_a_corrected_typo_says_what_was_matched(discord_: StandIn, server: Server) -> None:
    """ "tacrolimis → Tacrolimus", above the summary and in the footer; an exact name says nothing of the kind."""
    result = await discord_.slash(server.guild, server.member, "define", term="tacrolimis")
    embed = result.response.embeds[0]
    assert embed["title"] == "Tacrolimus"
    assert embed["description"].startswith("*tacrolimis → Tacrolimus*")
    assert footer(result).startswith("tacrolimis → Tacrolimus.")
    exact = await discord_.slash(server.guild, server.member, "define", term="Tacrolimus")
    assert "→" not in footer(exact)
    assert "→" not in exact.response.embeds[0]["description"].split("\n")[0]


async def test_an_example_term_resolves_to_its_entry_and_says_so(discord_: StandIn, server: Server, bot) -> None:
    """A term given only as one entry's example opens that entry, marked "an example of"."""
    glossary = bot.catalog.shipped
    owners: dict[str, set[str]] = {}
    for concept in glossary.concepts.values():
        for example in concept.examples:
            for term in example_terms(example):
                owners.setdefault(term.casefold(), set()).add(concept.id)
    term = "cisplatin"
    assert owners[term] == {"chemotherapy"}
    result = await discord_.slash(server.guild, server.member, "define", term=term)
    embed = result.response.embeds[0]
    assert embed["title"] == "Chemotherapy"
    assert embed["description"].startswith("*cisplatin — an example of: Chemotherapy*")
    assert "an example of: Chemotherapy" in footer(result)
    shared = sorted(t for t, ids in owners.items() if len(ids) > 1 and glossary.resolver.resolve(t).match is None)
    assert shared, "the shipped data has an example term given by several entries"
    ambiguous = await discord_.slash(server.guild, server.member, "define", term=shared[0])
    assert ambiguous.response.ephemeral
    assert "Did you mean" in ambiguous.response.content
    offered = {cid.removeprefix("concept:show:") for cid in ambiguous.response.custom_ids}
    assert owners[shared[0]] <= offered


async def test_no_confident_match_lists_entries_that_mention_the_term(discord_: StandIn, server: Server) -> None:
    """A term no entry is named but some definitions mention gets those entries as buttons; clicking one posts it."""
    result = await discord_.slash(server.guild, server.member, "define", term="what is FKBP12?")
    response = result.response
    assert response.ephemeral
    assert "Entries that mention “FKBP12”" in response.content
    assert "Tacrolimus" in response.content
    assert "concept:show:tacrolimus" in response.custom_ids
    opened = await discord_.click(server.guild, server.member, result, "concept:show:tacrolimus")
    assert opened.response.embeds[0]["title"] == "Tacrolimus"


@pytest.mark.parametrize("junk", ["asdfghjkl qwertz", "x" * 4000, "🧬" * 50, "`` ** __ ~~ ||", "of the", "x"])
async def test_junk_still_gets_a_plain_no_entry(discord_: StandIn, server: Server, junk: str, bot) -> None:
    """Junk (also 4,000 characters, emoji, bare markdown) gets "No entry matches", no buttons, nothing changed."""
    before = await bot.store.table_counts()
    result = await discord_.slash(server.guild, server.member, "define", term=junk)
    assert result.response.ephemeral
    assert result.response.content.startswith("No entry matches")
    assert result.response.custom_ids == []
    assert len(result.response.content) < 400
    assert await bot.store.table_counts() == before


async def _search(discord_: StandIn, server: Server, text: str):
    return await discord_.slash(server.guild, server.member, "search", text=text)


def _hit_names(result) -> list[str]:
    return re.findall(r"^\*\*\d+\. (.+?)\*\* — ", result.response.embeds[0]["description"], flags=re.MULTILINE)


async def test_search_spellings_are_one_word(discord_: StandIn, server: Server) -> None:
    """tumor/tumour and leukemia/leukaemia give the same hits and the same total."""
    for first, second in (("tumor", "tumour"), ("leukemia", "leukaemia")):
        one, other = await _search(discord_, server, first), await _search(discord_, server, second)
        assert _hit_names(one) == _hit_names(other), first
        assert _hit_names(one)
        assert footer(one).split(",")[0] == footer(other).split(",")[0]


async def test_search_corrects_a_misspelt_word(discord_: StandIn, server: Server) -> None:
    """A word the glossary never uses is corrected to the nearest one it does, and the reply says so."""
    result = await _search(discord_, server, "calcinurin")
    description = result.response.embeds[0]["description"]
    assert "calcinurin → **calcineurin**" in description
    assert "Tacrolimus" in _hit_names(result)


async def test_search_phrases_and_no_prefix_noise(discord_: StandIn, server: Server) -> None:
    """A quoted phrase matches as a phrase; CAR-T never lights up "to", IL-2 never matches "2016"."""
    phrase = await _search(discord_, server, '"bladder cancer"')
    hits = phrase.response.embeds[0]["description"].split("\n\n", 1)[1].split("\n**")
    assert len(hits) == len(_hit_names(phrase)) >= 1
    assert all(re.search(r"\*\*bladder cancers?\*\*", hit, re.IGNORECASE) for hit in hits)
    words = await _search(discord_, server, "cancer bladder")  # unquoted: both words anywhere, in any order
    assert set(_hit_names(phrase)) <= set(_hit_names(words))
    car_t = await _search(discord_, server, "CAR-T")
    assert _hit_names(car_t)
    assert not re.search(r"\*\*to\*\*", car_t.response.embeds[0]["description"], re.IGNORECASE)
    interleukin = await _search(discord_, server, "IL-2")
    text = interleukin.response.embeds[0]["description"]
    assert "**IL-2**" in text
    assert "**2016**" not in text
    assert "**2**" not in text.replace("**IL-2**", "")


async def test_search_pages_through_every_hit(discord_: StandIn, server: Server) -> None:
    """ "1–10 of N" and a Next button that edits the message to the next ten, until every hit was shown."""
    result = await _search(discord_, server, "tumour")
    total = int(re.search(r"of (\d+),", footer(result))[1])
    assert total > 10
    seen = _hit_names(result)
    assert footer(result).startswith(f"1–10 of {total}")
    page = 0
    current = result
    while len(seen) < total:
        page += 1
        turned = await discord_.click(server.guild, server.member, result, next(
            cid for cid in current.response.custom_ids if cid.startswith("search:") and cid.endswith(f":{page}")))  # fmt: skip
        assert turned.response.type == 7
        assert footer(turned).startswith(f"{page * 10 + 1}–")
        seen += _hit_names(turned)
        current = turned
    assert len(seen) == len(set(seen)) == total


async def test_search_bad_inputs(discord_: StandIn, server: Server, bot) -> None:
    """4,000 characters, markdown and unbalanced quotes: a clear reply every time, nothing changed."""
    before = await bot.store.table_counts()
    for text in ("tacrolimus " * 360, "**bold** `code` ||spoiler|| <@1>", '"unclosed phrase bladder', "t", "the"):
        result = await _search(discord_, server, text)
        response = result.response
        assert response.type == 4, text
        if response.ephemeral:
            assert "Nothing in the glossary mentions" in response.content
        else:
            assert len(response.embeds[0]["title"]) <= 256
    assert await bot.store.table_counts() == before


async def test_category_overview_is_never_cut(discord_: StandIn, server: Server) -> None:
    """Every entry of the preparation tree appears on some page of /category, even after a server adds 150."""
    many = {"concepts": [
        {"id": f"extra-vaccine-{i}", "name": f"Extra teaching vaccine {i:03d}", "parent": "molecular-vaccine",
         "summary": "Added by the course.", "definition": "Added by the course.",
         "source": {"document": "editorial", "editorial": "Course material."}}
        for i in range(150)
    ]}  # fmt: skip
    imported = await discord_.slash(
        server.guild, server.moderator, "concept import", file=Upload("many.yaml", yaml.safe_dump(many).encode())
    )
    assert "Imported: 150 entries" in (await imported.wait_followup()).content
    result = await discord_.slash(server.guild, server.member, "category")
    text = [field["value"] for field in result.response.embeds[0]["fields"]]
    pages = int(re.search(r"Page 1 of (\d+)", footer(result))[1])
    for page in range(1, pages):
        turned = await discord_.click(server.guild, server.member, result, f"category:-all:{page}")
        assert f"Page {page + 1} of {pages}" in footer(turned)
        text += [field["value"] for field in turned.response.embeds[0]["fields"]]
    joined = "\n".join(text)
    assert "…" not in joined
    for name in ("DNA vaccine", "Synthetic peptide vaccine", "Recombinant vector vaccine", "Tacrolimus",
                 "Extra teaching vaccine 000", "Extra teaching vaccine 149"):  # fmt: skip
        assert name in joined, name
    other = discord_.add_guild("Other group", channels=("general",))
    alice = discord_.add_member(other, "bob")
    elsewhere = await discord_.slash(other, alice, "category")
    assert "Extra teaching vaccine" not in str(elsewhere.response.embeds)


@pytest.mark.parametrize(("typed", "title"), [("2", "Immune blocking"), ("stage 3", "Immune adjustment"),
                                              ("#5", "Immune protection")])  # fmt: skip
async def test_stages_pick_the_numbered_stage(discord_: StandIn, server: Server, typed: str, title: str) -> None:
    """`/stages stage:2`, "stage 3" and "#5" open that stage."""
    result = await discord_.slash(server.guild, server.member, "stages", stage=typed)
    assert result.response.embeds[0]["title"] == title


async def test_a_stage_number_out_of_range_is_refused_with_the_list(discord_: StandIn, server: Server) -> None:
    """A number with no stage gets a private reply listing the stages by number; autocomplete offers numbers."""
    result = await discord_.slash(server.guild, server.member, "stages", stage="stage 9")
    assert result.response.ephemeral
    assert "There is no stage 9" in result.response.content
    assert "2. Immune blocking" in result.response.content
    typed = await discord_.autocomplete(server.guild, server.member, "stages", focused="stage", stage="3")
    assert typed.choices == [{"name": "3. Immune adjustment", "value": "Immune adjustment"}]
