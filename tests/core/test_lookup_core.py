"""Lookups that understand how people ask: question phrasings, example terms, mentions in text, /search queries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.glossary import Glossary, example_terms
from bot.models import Concept
from bot.normalise import question_subject
from bot.resolver import IndexedConcept, Resolver
from bot.search import Vocabulary, engine_terms, parse_query


def concept(concept_id: str, name: str, *, aliases: tuple[str, ...] = (), examples: tuple[str, ...] = (),
            summary: str = "A summary.", definition: str = "A definition.") -> Concept:  # fmt: skip
    return Concept.model_validate({"id": concept_id, "name": name, "aliases": aliases, "examples": examples,
                                   "summary": summary, "definition": definition,
                                   "source": {"document": "editorial"}})  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "subject"),
    [
        ("what is BCG", "BCG"),
        ("What are cytokines?", "cytokines"),
        ("what's a vaccine", "vaccine"),
        ("tell me more about the immune system", "immune system"),
        ("define: IL-2", "IL-2"),
        ("what does MMF stand for?", "MMF"),
        ("how does rituximab work?", "rituximab"),
        ("definition of GVHD", "GVHD"),
        ("what is", "what is"),
        ("whatever", "whatever"),
        ("tacrolimus", "tacrolimus"),
    ],
)
def test_question_subject(typed: str, subject: str) -> None:
    """A question gives what it asks about; anything else comes back as typed."""
    assert question_subject(typed) == subject


def test_a_name_that_reads_like_a_question_still_wins() -> None:
    """The whole text is looked up first: an entry named like a question is not stripped away."""
    resolver = Resolver([IndexedConcept("q", "Define", ["Define"]), IndexedConcept("t", "Tolerance", ["Tolerance"])])
    assert resolver.resolve("define").match.id == "q"
    assert resolver.resolve("define tolerance").match.id == "t"
    assert resolver.resolve("define tolerance").subject == "tolerance"


@pytest.mark.parametrize(
    ("example", "terms"),
    [
        ("sipuleucel-T (Provenge)", ["sipuleucel-T", "Provenge"]),
        ("CAR-T cells: tisagenlecleucel, axicabtagene ciloleucel",
         ["CAR-T cells", "tisagenlecleucel", "axicabtagene ciloleucel"]),
        ("tacrolimus + MMF + prednisone (kidney transplant)", ["tacrolimus + MMF + prednisone"]),
        ("GVAX (allogeneic, GM-CSF-secreting)", ["GVAX"]),
        ("tisagenlecleucel (CAR-T)", ["tisagenlecleucel"]),
        ("rituximab (anti-CD20)", ["rituximab"]),
        ("anti-thymocyte globulin (ATG, Thymoglobulin)", ["anti-thymocyte globulin", "ATG", "Thymoglobulin"]),
        ("", []),
    ],
)  # fmt: skip
def test_example_terms(example: str, terms: list[str]) -> None:
    """An examples line gives its names, brands and codes; descriptions in parentheses name nothing."""
    assert example_terms(example) == terms


def _examples_glossary() -> Glossary:
    return Glossary([
        concept("mab", "Monoclonal antibody", examples=("rituximab (anti-CD20)", "OKT3-like muromonab")),
        concept("anti-cd20", "Anti-CD20 therapy", examples=("rituximab", "obinutuzumab")),
        concept("chemo", "Chemotherapy", examples=("cisplatin",)),
        concept("cis", "Cisplatin regimen", aliases=("cisplatin-based therapy",)),
        concept("tox", "Toxicity", aliases=("cisplatin",)),
    ])  # fmt: skip


def test_an_example_of_one_entry_resolves_to_it_marked_as_an_example() -> None:
    """ "obinutuzumab" is only Anti-CD20 therapy's example: a confident answer that says it is an example."""
    match = _examples_glossary().resolver.resolve("obinutuzumab").match
    assert (match.id, match.matched, match.example, match.exact) == ("anti-cd20", "obinutuzumab", True, True)


def test_an_example_several_entries_give_is_only_a_suggestion_for_each() -> None:
    """ "rituximab" is an example of two entries: no answer, both suggested first, both marked as examples."""
    resolution = _examples_glossary().resolver.resolve("rituximab")
    assert resolution.match is None
    assert {s.id for s in resolution.suggestions[:2]} == {"mab", "anti-cd20"}
    assert all(s.example for s in resolution.suggestions[:2])


def test_names_and_aliases_outrank_examples() -> None:
    """ "cisplatin" is an alias of Toxicity and an example of Chemotherapy: the alias answers."""
    match = _examples_glossary().resolver.resolve("cisplatin").match
    assert (match.id, match.example) == ("tox", False)


def test_examples_match_whole_never_as_fragments() -> None:
    """A typo of a whole example term answers; a fragment of a long example line does not."""
    resolver = _examples_glossary().resolver
    assert resolver.resolve("obinutuzumb").match.id == "anti-cd20"
    assert resolver.resolve("muromonab").match is None  # only a part of "OKT3-like muromonab"


def test_scan_finds_names_aliases_typos_and_examples_in_order() -> None:
    """A message is read left to right, longest name first; an ambiguous example is left out."""
    glossary = Glossary([
        concept("tac", "Tacrolimus", aliases=("FK506",)),
        concept("imm", "Immune tolerance"),
        concept("tol", "Tolerance test"),
        *_examples_glossary().concepts.values(),
    ])  # fmt: skip
    text = "After FK-506 and tacrolimis, immune tolerance; rituximab or obinutuzumab? See you Thursday."
    found = [(m.suggestion.id, m.text) for m in glossary.mentions(text)]
    assert found == [("tac", "FK-506"), ("tac", "tacrolimis"), ("imm", "immune tolerance"),
                     ("anti-cd20", "obinutuzumab")]  # fmt: skip
    assert [m.suggestion.id for m in glossary.mentions(text, typos=False)] == ["tac", "imm", "anti-cd20"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=5000))
def test_scan_never_raises(text: str) -> None:
    """Any text, up to a long message, gives mentions whose offsets point into it."""
    glossary = _examples_glossary()
    for mention in glossary.mentions(text):
        assert text[mention.start : mention.end] == mention.text


def test_search_query_spellings_corrections_phrases_and_prefixes() -> None:
    """tumor ↔ tumour, a misspelt word corrected, quoted phrases kept, no prefix on short or stop words."""
    vocabulary = Vocabulary(["Tumour cells and tumors", "Calcineurin inhibitors block IL-2 since 2016", "CAR-T to"])
    tumor = parse_query("tumor", vocabulary)
    assert set(tumor.terms[0].words[0]) == {"tumour", "tumors"}  # the glossary's spellings, whichever was typed
    assert [t.words for t in parse_query("tumours", vocabulary).terms] == [t.words for t in tumor.terms]
    corrected = parse_query("calcinurin", vocabulary)
    assert corrected.corrections == (("calcinurin", "calcineurin"),)
    phrase = parse_query('"tumour cells" inhibitor', vocabulary)
    assert phrase.terms[0].words == (("tumors", "tumour"), ("cells",))  # one phrase, each word in its spellings
    assert len(phrase.terms) == 2  # the phrase and the word after it, both required
    car_t = parse_query("CAR-T", vocabulary)
    assert [t.words for t in car_t.terms] == [(("car",), ("t",))]  # a phrase, not "car" and a prefix "t"
    il2 = parse_query("IL-2", vocabulary)
    assert [t.words for t in il2.terms] == [(("il",), ("2",))]
    assert not parse_query("to", vocabulary).terms[0].prefix
    assert parse_query("calc", vocabulary).terms[0].prefix
    assert not parse_query("calcineurin", vocabulary).terms[0].prefix  # a whole word is finished
    stop = parse_query("the calcineurin", vocabulary)
    assert [t.shown() for t in stop.terms] == ["calcineurin"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=4000))
def test_search_query_never_raises_and_stays_small(text: str) -> None:
    """Any text gives a query of at most 8 terms, each made of words (what the engines search for)."""
    query = parse_query(text, Vocabulary(["Tumour cells", "calcineurin"]))
    assert len(query.terms) <= 8
    for term in engine_terms(query):
        assert term.words
        assert all(forms and all(form.strip() for form in forms) for forms in term.words)


def test_scan_takes_abbreviations_only_as_written() -> None:
    """ "SIT" and "ACT" name entries; "sit" and "act" in a sentence are words. Long names match in any case."""
    glossary = Glossary([
        concept("sit", "Specific immunotherapy", aliases=("SIT",)),
        concept("act", "Adoptive cell therapy", aliases=("ACT",)),
        concept("alum", "Adjuvant", aliases=("alum",)),
    ])  # fmt: skip
    prose = "I will sit the exam and act fast; alum helps. SPECIFIC IMMUNOTHERAPY"
    assert [(m.suggestion.id, m.text) for m in glossary.mentions(prose)] == [
        ("alum", "alum"),
        ("sit", "SPECIFIC IMMUNOTHERAPY"),
    ]
    assert [m.suggestion.id for m in glossary.mentions("SIT, then ACT")] == ["sit", "act"]
    assert glossary.resolver.resolve("sit").match.id == "sit"  # a lookup is still case-blind
