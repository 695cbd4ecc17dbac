"""A guild's layered view (shared shipped index plus its own names) must answer exactly as a full rebuild."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog import GlossaryCatalog
from bot.glossary import Glossary
from bot.layered import LayeredGlossary, ShippedLayer
from bot.models import Concept
from bot.overlay import Action, Revision, overlay_concepts

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def layer(glossary: Glossary) -> ShippedLayer:
    return ShippedLayer(glossary)


def _typo(text: str, seed: int) -> str:
    if len(text) < 4:
        return text
    position = seed % (len(text) - 1)
    return text[:position] + text[position + 1] + text[position] + text[position + 2 :]


@st.composite
def edit_sets(draw: st.DrawFn, glossary: Glossary) -> dict[str, Revision]:
    """Random edits: renamed entries, aliases borrowed from other entries, hidden entries, added ones."""
    concepts = list(glossary.concepts.values())
    names = [name for concept in concepts for name in concept.names]
    overlay: dict[str, Revision] = {}
    for _ in range(draw(st.integers(0, 6))):
        concept = concepts[draw(st.integers(0, len(concepts) - 1))]
        action = draw(st.sampled_from(["rename", "alias", "hide", "examples", "reparent"]))
        borrowed = names[draw(st.integers(0, len(names) - 1))]
        if action == "rename":
            changed = concept.model_copy(update={"name": _typo(borrowed, draw(st.integers(0, 50)))})
        elif action == "alias":
            changed = concept.model_copy(update={"aliases": [*concept.aliases, borrowed]})
        elif action == "examples":
            changed = concept.model_copy(update={"examples": [*concept.examples, f"{borrowed} (Brandix)"]})
        elif action == "reparent":
            parent = concepts[draw(st.integers(0, len(concepts) - 1))].id
            changed = concept.model_copy(update={"parent": parent if parent != concept.id else None})
        else:
            changed = concept
        overlay[concept.id] = Revision(concept.id, 1, Action.EDIT, changed, action == "hide", 1, None, AT)
    for number in range(draw(st.integers(0, 4))):
        template = concepts[draw(st.integers(0, len(concepts) - 1))]
        borrowed = names[draw(st.integers(0, len(names) - 1))]
        name = draw(
            st.sampled_from([borrowed, _typo(borrowed, number), f"{borrowed} variant", f"Novel agent {number}"])
        )
        added: Concept = template.model_copy(
            update={"id": f"guild-added-{draw(st.integers(0, 9))}", "name": name, "aliases": [], "examples": []}
        )
        overlay[added.id] = Revision(added.id, 1, Action.ADD, added, draw(st.booleans()), 1, None, AT)
    return overlay


def _queries(glossary: Glossary, overlay: dict[str, Revision], seed: int) -> list[str]:
    queries = ["", "t", "ta", "cell", "therapy", "what is bcg", "car t", "antibody", "xyzzy"]
    for revision in overlay.values():
        for name in revision.concept.names:
            queries += [name, _typo(name, seed), name[:3], name[: len(name) // 2], f"what is {name}"]
        if revision.concept.id in glossary.concepts:
            queries += list(glossary.concepts[revision.concept.id].names)
    return queries


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 100))
def test_layered_view_answers_as_a_full_rebuild(
    glossary: Glossary, layer: ShippedLayer, data: st.DataObject, seed: int
) -> None:
    overlay = data.draw(edit_sets(glossary))
    for include_hidden in (False, True):
        layered = LayeredGlossary(layer, overlay, include_hidden=include_hidden)
        rebuilt = Glossary(
            overlay_concepts(glossary.concepts.values(), overlay, include_hidden=include_hidden),
            glossary.documents.values(),
        )
        assert list(layered.concepts.items()) == list(rebuilt.concepts.items())
        assert len(layered.resolver) == len(rebuilt.resolver)
        assert layered.resolver.name_count == rebuilt.resolver.name_count
        within = set(list(rebuilt.concepts)[::3])
        for query in _queries(glossary, overlay, seed):
            assert layered.resolver.resolve(query) == rebuilt.resolver.resolve(query), query
            assert layered.resolver.resolve(query, 5, within=within) == rebuilt.resolver.resolve(
                query, 5, within=within
            )
            assert layered.resolver.suggest(query) == rebuilt.resolver.suggest(query), query
        assert layered.resolver.suggest("", within=within) == rebuilt.resolver.suggest("", within=within)
        text = " ".join(
            f"{revision.concept.name} and {_typo(revision.concept.name, seed)} with {revision.concept.summary}"
            for revision in overlay.values()
        )
        text += " " + " ".join(concept.summary for concept in list(glossary.concepts.values())[seed : seed + 3])
        assert layered.resolver.scan(text) == rebuilt.resolver.scan(text)
        assert layered.mentions(text, typos=False) == rebuilt.mentions(text, typos=False)
        for concept_id in list(rebuilt.concepts)[::7] + list(overlay):
            assert layered.children(concept_id) == rebuilt.children(concept_id), concept_id
            assert layered.members(concept_id) == rebuilt.members(concept_id), concept_id
        assert layered.tree_roots() == rebuilt.tree_roots()
        assert layered.pool() == rebuilt.pool()
        assert layered.axes() == rebuilt.axes()
        assert layered.protocols() == rebuilt.protocols()


def test_a_view_with_no_changes_is_the_shipped_view(glossary: Glossary, layer: ShippedLayer) -> None:
    layered = LayeredGlossary(layer, {})
    for query in ("tacrolimus", "tacrolimu", "car t", "", "ig"):
        assert layered.resolver.resolve(query) == glossary.resolver.resolve(query)
    assert list(layered.concepts) == list(glossary.concepts)


class _Clock:
    """A manual clock for the catalog's idle eviction."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _alias(glossary: Glossary, concept_id: str, alias: str) -> Revision:
    concept = glossary.concepts[concept_id]
    changed = concept.model_copy(update={"aliases": [*concept.aliases, alias]})
    return Revision(concept_id, 1, Action.ALIAS, changed, False, 1, None, AT)


def test_idle_views_are_dropped_and_rebuilt_from_the_overlay(glossary: Glossary) -> None:
    """A view unused for the idle time is dropped; the guild's next command sees its edits again, rebuilt."""
    clock = _Clock()
    catalog = GlossaryCatalog(None, glossary, clock=clock, idle_seconds=60, max_views=100)  # type: ignore[arg-type]
    catalog.apply(1, [_alias(glossary, "tacrolimus", "tac-one")])
    catalog.apply(2, [_alias(glossary, "sirolimus", "siro-two")])
    first = catalog.view(1)
    assert catalog.built_views == 2
    clock.now = 45
    assert catalog.view(1) is first  # used: kept, and its idle time starts again
    clock.now = 90  # guild 2 idle for 90 s, guild 1 for 45 s
    catalog.evict_idle()
    assert catalog.built_views == 1
    rebuilt = catalog.view(2)
    assert rebuilt.resolver.resolve("siro two").match.id == "sirolimus"  # type: ignore[union-attr]
    assert catalog.view(1) is first
    assert catalog.view(1).resolver.resolve("siro two").match is None
    assert catalog.view(None) is glossary
    assert catalog.view(3) is glossary


def test_least_recently_used_views_go_first_when_too_many_are_built(glossary: Glossary) -> None:
    catalog = GlossaryCatalog(None, glossary, clock=_Clock(), max_views=2)  # type: ignore[arg-type]
    for guild in (1, 2, 3):
        catalog.apply(guild, [_alias(glossary, "tacrolimus", f"tac-{guild}")])
    assert catalog.built_views == 2
    kept = catalog.view(2)
    assert catalog.view(1).resolver.resolve("tac 1").match.id == "tacrolimus"  # type: ignore[union-attr]
    assert catalog.built_views == 2
    assert catalog.view(2) is kept  # 3 was the least recently used, not 2
    hidden = Revision("sirolimus", 1, Action.HIDE, glossary.concepts["sirolimus"], True, 1, None, AT)
    catalog.apply(4, [hidden])
    assert "sirolimus" not in catalog.view(4)
    assert "sirolimus" in catalog.complete_view(4)
