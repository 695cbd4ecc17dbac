"""The guarded YAML reader, and the change check that validates only what an edit touches.

The change check must find exactly what checking the whole glossary would: each case below compares the two.
"""

from __future__ import annotations

import pytest

from bot.glossary import Glossary
from bot.loader import (
    Problem,
    SourcedConcept,
    YamlLimits,
    check_changes,
    check_glossary,
    name_owners,
    parse_import,
    read_yaml,
)
from bot.models import Concept, Kind, Stage

ENTRY = "{id: our-entry, name: Our entry, summary: S., definition: D., source: {document: editorial, editorial: E.}}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x [1, 2]\nb: *x\n", "at line 1, column 4: anchors and aliases are not allowed"),
        ("a: 1\nb: 2\na: 3\n", "at line 3, column 1: the key 'a' appears twice in one mapping (first on line 1)"),
        ("a: " + "[" * 30 + "]" * 30, "nested deeper than 20 levels"),
    ],
    ids=["alias", "duplicate-key", "depth"],
)
def test_guarded_reader_refuses_with_the_place(text: str, expected: str) -> None:
    """Aliases, repeated keys and deep nesting are refused with the line and column."""
    data, problems = read_yaml(text, "x.yaml")
    assert data is None
    assert len(problems) == 1
    assert expected in str(problems[0])


def test_guarded_reader_counts_list_items_and_nodes_before_building() -> None:
    """Limits on list length and on values stop the parse itself (nothing is built past them)."""
    _, problems = read_yaml("- 1\n" * 11, "x.yaml", YamlLimits(max_list=10))
    assert "at line 11, column 3: a list has more than 10 items" in str(problems[0])
    _, problems = read_yaml("{" + ", ".join(f"k{i}: {i}" for i in range(100)) + "}", "x.yaml", YamlLimits(max_nodes=50))
    assert "more than 50 values in one file" in str(problems[0])


def test_import_reports_shape_first_then_every_entry_and_stops_at_its_time_budget() -> None:
    """One pass lists the structural problems first, then each entry's; a zero budget is a clear refusal."""
    text = f"documents: [{{id: x}}]\nconcepts:\n  - {ENTRY}\n  - {{id: bad}}\n  - {ENTRY}\n"
    items, problems = parse_import(text, "f.yaml", max_entries=500, seconds=5)
    messages = [str(problem) for problem in problems]
    assert (
        messages[0] == "f.yaml: field 'documents': an import holds only 'concepts'; source documents ship with the bot"
    )
    assert any("entry 'bad': field 'name': Field required" in message for message in messages[1:])
    assert messages[-1] == "f.yaml: entry 'our-entry': field 'id': appears more than once in the file"
    assert [item.concept.id for item in items] == ["our-entry", "our-entry"]
    _, slow = parse_import(f"concepts:\n  - {ENTRY}\n" * 1, "f.yaml", max_entries=500, seconds=0)
    assert [str(problem) for problem in slow] == ["f.yaml: took longer than 0 s to read: split it into smaller files"]


def _key(problem: Problem) -> tuple[str | None, str | None, str]:
    if problem.message.startswith("cycle in the preparation tree: "):  # the same cycle, whichever entry it starts at
        members = sorted(set(problem.message.removeprefix("cycle in the preparation tree: ").split(" → ")))
        return None, problem.field, f"cycle through {', '.join(members)}"
    return problem.entry, problem.field, problem.message


def whole_check(glossary: Glossary, changed: list[Concept]) -> set[tuple[str | None, str | None, str]]:
    """What checking the whole glossary with the changes applied finds, minus what was already wrong."""
    documents = list(glossary.documents.values())
    current = [SourcedConcept("view", c) for c in glossary.concepts.values()]
    ids = {c.id for c in changed}
    proposed = [item for item in current if item.concept.id not in ids] + [SourcedConcept("edit", c) for c in changed]
    known = {_key(p) for p in check_glossary(current, documents)}
    return {_key(p) for p in check_glossary(proposed, documents)} - known


def change_check(glossary: Glossary, changed: list[Concept]) -> set[tuple[str | None, str | None, str]]:
    """What the change check finds, minus what the changed entries already had wrong."""
    owners = name_owners(glossary.concepts.values())
    documents = glossary.documents.values()
    before = [SourcedConcept("edit", glossary.concepts[c.id]) for c in changed if c.id in glossary]
    known = {_key(p) for p in check_changes(glossary.concepts, before, documents, owners, glossary.stages)}
    after = check_changes(glossary.concepts, [SourcedConcept("edit", c) for c in changed], documents, owners,
                          glossary.stages)  # fmt: skip
    return {_key(p) for p in after} - known


def _changes(glossary: Glossary) -> dict[str, list[Concept]]:
    concepts = glossary.concepts
    tacrolimus, sirolimus = concepts["tacrolimus"], concepts["sirolimus"]
    child = next(c for c in concepts.values() if c.parent is not None and concepts[c.parent].parent is not None)
    klass = next(c for c in concepts.values() if c.kind is Kind.CLASS and glossary.classified_as(c.id))
    stages = [c for c in concepts.values() if c.stage is not None]
    new = Concept(id="our-new", name="Our new entry", summary="S.", definition="D.",
                  source={"document": "editorial", "editorial": "E."})  # fmt: skip
    return {
        "benign": [tacrolimus.model_copy(update={"summary": "Changed."})],
        "alias-taken": [tacrolimus.model_copy(update={"aliases": (*tacrolimus.aliases, "Rapamycin")})],
        "look-alike": [new.model_copy(update={"name": "Tacr\u043elimus"})],
        "two-new-share-a-name": [new, new.model_copy(update={"id": "our-other", "aliases": ("Our new entry",)})],
        "unknown-parent": [sirolimus.model_copy(update={"parent": "nowhere"})],
        "self-related": [sirolimus.model_copy(update={"related": ("sirolimus",)})],
        "cycle": [concepts[child.parent].model_copy(update={"parent": child.id})],  # type: ignore[index]
        "class-retyped": [klass.model_copy(update={"kind": Kind.CONCEPT, "axis": None})],
        "stage-order-repeated": [stages[0].model_copy(update={"stage": Stage(protocol=stages[0].stage.protocol,  # type: ignore[union-attr]
                                                                            order=stages[1].stage.order)})],  # type: ignore[union-attr]
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["benign", "alias-taken", "look-alike", "two-new-share-a-name", "unknown-parent", "self-related", "cycle",
     "class-retyped", "stage-order-repeated"],
)  # fmt: skip
def test_change_check_finds_what_the_whole_check_finds(glossary: Glossary, case: str) -> None:
    """For each kind of change, checking only the change reports the same problems as checking everything."""
    changed = _changes(glossary)[case]
    expected = whole_check(glossary, changed)
    assert change_check(glossary, changed) == expected
    assert bool(expected) == (case != "benign")
