"""A guild's layered view (shared shipped index plus its own names) must answer exactly as a full rebuild."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
        name = draw(st.sampled_from([borrowed, _typo(borrowed, number), f"{borrowed} variant", f"Novel agent {number}"]))
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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
            assert layered.resolver.resolve(query, 5, within=within) == rebuilt.resolver.resolve(query, 5, within=within)
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
