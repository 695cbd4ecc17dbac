"""The resolver on our own evaluation set, on hostile input, and as a property: it never raises."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import resolver as resolver_module
from bot.glossary import Glossary
from bot.resolver import SUGGESTION_LIMIT, IndexedConcept, Resolver

EVAL_FILES = sorted(Path(__file__).parent.glob("resolver_eval*.yaml"))
"""Every evaluation file: ours (resolver_eval.yaml) and the data's own (resolver_eval_modern.yaml...)."""
EVAL_SET = {f"{path.stem}:{group}": items for path in EVAL_FILES
            for group, items in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items()}  # fmt: skip
CASES = [(group, "" if query is None else str(query), expected) for group, items in EVAL_SET.items()
         for query, expected in items.items()]  # fmt: skip


@pytest.mark.parametrize(("group", "query", "expected"), CASES, ids=[f"{g}:{q[:30]}" for g, q, _ in CASES])
def test_evaluation_set(glossary: Glossary, group: str, query: str, expected: str | None) -> None:
    """Each query resolves to its concept, or to no confident answer when none is right."""
    resolution = glossary.resolver.resolve(query)
    assert (resolution.match.id if resolution.match else None) == expected, resolution.suggestions[:3]


def test_evaluation_score_is_perfect(glossary: Glossary) -> None:
    """Report the score on the whole set (printed with -s) and require every query right."""
    right = sum(
        (r.match.id if (r := glossary.resolver.resolve(query)).match else None) == expected
        for _, query, expected in CASES
    )
    print(f"resolver evaluation: {right}/{len(CASES)} right")
    assert right == len(CASES)


def test_match_reports_concept_alias_and_score(glossary: Glossary) -> None:
    """A match says which concept, which alias matched, and how well."""
    resolution = glossary.resolver.resolve("fk-506")
    assert resolution.match is not None
    assert (resolution.match.id, resolution.match.name, resolution.match.matched) == (
        "tacrolimus",
        "Tacrolimus",
        "FK506",
    )
    assert resolution.match.score == 100.0
    assert resolution.suggestions[0] == resolution.match


@pytest.mark.parametrize("generic", ["therapy", "vaccine", "cell", "immune"])
def test_generic_words_give_suggestions_not_a_pick(glossary: Glossary, generic: str) -> None:
    """A word many entries share yields several suggestions and no confident answer."""
    resolution = glossary.resolver.resolve(generic)
    assert resolution.match is None
    assert len(resolution.suggestions) >= 3


def test_suggestions_are_capped_and_distinct(glossary: Glossary) -> None:
    """At most 25 suggestions (Discord's autocomplete limit), one per concept, best first."""
    suggestions = glossary.resolver.suggest("immu")
    assert 0 < len(suggestions) <= SUGGESTION_LIMIT
    assert len({s.id for s in suggestions}) == len(suggestions)
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)


def test_empty_query_browses_alphabetically(glossary: Glossary) -> None:
    """Autocomplete on an empty box lists concepts by name."""
    names = [s.name for s in glossary.resolver.suggest("")]
    assert len(names) == SUGGESTION_LIMIT
    assert names == sorted(names, key=str.casefold)


def test_typed_prefix_is_offered_in_autocomplete(glossary: Glossary) -> None:
    """The first letters of a name bring it into the suggestions, without a confident pick."""
    resolution = glossary.resolver.resolve("tacr")
    assert resolution.match is None
    assert resolution.suggestions[0].id == "tacrolimus"


def test_large_index_uses_trigram_narrowing() -> None:
    """Above the candidate limit the trigram path finds typo'd names among many."""
    concepts = [
        IndexedConcept(f"c{i}", f"name{i:05d} word{i % 97}", [f"name{i:05d} word{i % 97}"]) for i in range(5000)
    ]
    concepts.append(IndexedConcept("target", "hematopoietic progenitor", ["hematopoietic progenitor", "HPX-9"]))
    resolver = Resolver(concepts)
    assert resolver.resolve("haematopoeitic progenitors").match.id == "target"
    assert resolver.resolve("hpx 9").match.id == "target"
    assert resolver.resolve("zzqqxx").match is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=320))
def test_resolver_never_raises(glossary: Glossary, text: str) -> None:
    """Any text gets an answer object: never an exception, suggestions within the limit."""
    resolution = glossary.resolver.resolve(text)
    assert len(resolution.suggestions) <= SUGGESTION_LIMIT
    if resolution.match is not None:
        assert resolution.match in resolution.suggestions


def test_evaluation_set_has_no_duplicate_queries() -> None:
    """YAML keeps the last of two equal keys in a group silently; a duplicate would hide a case."""
    duplicates: list[object] = []

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
            keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
            duplicates.extend(key for key in set(keys) if keys.count(key) > 1)
            return super().construct_mapping(node, deep)

    for path in EVAL_FILES:
        yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)
    assert duplicates == []


PIN_CONCEPTS = [
    IndexedConcept("kelvanoride-r", "Kelvanoride sulpamerin tobraxel", ["kelvanoride sulpamerin tobraxel"]),
    IndexedConcept("kelvanoride-x", "Kelvanoride sulpamexin tobraxel", ["kelvanoride sulpamexin tobraxel"]),
    IndexedConcept("zorblatine", "Zorblatine quintaverol", ["zorblatine quintaverol"]),
    IndexedConcept("tox-r", "Kelvanoride sulpamerin tox", ["kelvanoride sulpamerin tox"]),
    IndexedConcept("tox-x", "Kelvanoride sulpamexin tox", ["kelvanoride sulpamexin tox"]),
]
PIN_CASES = {
    "forblatinv quitavproj": None,  # 79.1 for Zorblatine quintaverol, nothing else near: just under the threshold
    "kelvanorida sulpamerin tobraxel": None,  # 96.8 vs 93.5 for two names one letter apart: just under the margin
    "kelvanorida sulpamerin tox": None,  # 96.2 vs 92.3: 3.9 points, a tenth under the margin
    "zorblatine quintaverl": "zorblatine",  # a plain typo still answers
    "kelvanoride sulpamerin tobraxel": "kelvanoride-r",  # exact names always answer
}
"""Made-up names whose scores sit just past the confidence threshold and margin, so these pins do not move when
the shipped data changes."""


def _pin_failures(glossary: Glossary) -> list[str]:
    pins = Resolver(PIN_CONCEPTS)
    wrong = [q for q, expected in PIN_CASES.items() if ((m := pins.resolve(q).match) and m.id) != expected]
    wrong += [q for _, q, expected in CASES if ((m := glossary.resolver.resolve(q).match) and m.id) != expected]
    return wrong


def test_close_calls_hold_at_the_shipped_threshold_and_margin(glossary: Glossary) -> None:
    """At CONFIDENT_SCORE and CONFIDENT_MARGIN as shipped, every close call (made-up and evaluation) is right."""
    assert _pin_failures(glossary) == []


@pytest.mark.parametrize(
    ("constant", "relaxed"),
    [("CONFIDENT_SCORE", resolver_module.CONFIDENT_SCORE - 0.9), ("CONFIDENT_SCORE", 78.5),
     ("CONFIDENT_MARGIN", resolver_module.CONFIDENT_MARGIN - 0.1), ("CONFIDENT_MARGIN", 3.0)],
)  # fmt: skip
def test_relaxing_the_threshold_or_the_margin_gives_wrong_answers(
    glossary: Glossary, monkeypatch: pytest.MonkeyPatch, constant: str, relaxed: float
) -> None:
    """The close calls pin both constants: relax either and some query that must stay unanswered gets an answer
    (the shipped-data close calls catch a larger relaxation, the made-up ones 0.9 points of score or 0.1 of
    margin)."""
    monkeypatch.setattr(resolver_module, constant, relaxed)
    assert _pin_failures(glossary)
