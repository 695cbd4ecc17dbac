"""Loader validation: each kind of bad data fails with the file, the entry and the field named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.loader import GlossaryError, load_glossary

SOURCES = """
documents:
  - id: doc
    title: A document
    file: doc.txt
    description: A test document.
"""

GOOD = """
concepts:
  - id: alpha
    name: Alpha therapy
    aliases: [AT]
    summary: The first.
    definition: Alpha is the first entry.
    source: {document: doc, section: One}
  - id: beta
    name: Beta therapy
    parent: alpha
    related: [alpha]
    summary: The second.
    definition: Beta is the second entry.
    source: {document: doc, section: Two}
"""


def write(directory: Path, concepts: str) -> Path:
    """Write a data directory with the test document and the given concepts file."""
    (directory / "sources.yaml").write_text(SOURCES)
    (directory / "concepts.yaml").write_text(textwrap.dedent(concepts))
    return directory


def problems_of(directory: Path) -> list[str]:
    """Load the directory and return the problems as strings."""
    with pytest.raises(GlossaryError) as caught:
        load_glossary(directory)
    return [str(problem) for problem in caught.value.problems]


def test_good_directory_loads(tmp_path: Path) -> None:
    """A valid directory loads with every entry and its origin."""
    data = load_glossary(write(tmp_path, GOOD))
    assert [item.concept.id for item in data.concepts] == ["alpha", "beta"]
    assert data.concepts[0].origin.endswith("concepts.yaml")


def test_unchanged_files_are_read_once_and_a_changed_file_again(tmp_path: Path) -> None:
    """A second load of unchanged files is the same validated glossary; a changed file is read and checked anew."""
    directory = write(tmp_path, GOOD)
    first = load_glossary(directory)
    assert load_glossary(directory) is first
    concepts = directory / "concepts.yaml"
    concepts.write_text(concepts.read_text().replace("id: beta", "id: gamma"))
    assert [item.concept.id for item in load_glossary(directory).concepts] == ["alpha", "gamma"]
    concepts.write_text(concepts.read_text() + "  - {id: broken}\n")
    assert problems_of(directory)  # a broken change is refused, never served from before


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda text: text.replace("    summary: The first.\n", ""), ["concepts.yaml", "'alpha'", "'summary'", "Field required"]),
        (lambda text: text.replace("The first.", "x" * 201), ["'alpha'", "'summary'", "at most 200"]),
        (lambda text: text.replace("Alpha is the first entry.", "y" * 1501), ["'alpha'", "'definition'", "at most 1500"]),
        (lambda text: text.replace("id: beta", "id: alpha"), ["'alpha'", "'id'", "duplicate id"]),
        (lambda text: text.replace("[AT]", "['Beta-therapy']"), ["'beta'", "'name'", "already a name of “Alpha therapy” (entry 'alpha')"]),
        (lambda text: text.replace("related: [alpha]", "related: [gamma]"), ["'beta'", "'related.0'", "unknown id 'gamma'"]),
        (lambda text: text.replace("    aliases: [AT]\n", "    aliases: [AT]\n    parent: beta\n"), ["'parent'", "cycle"]),
        (lambda text: text.replace("section: One}", "section: One}\n    unexpected: 1"), ["'alpha'", "'unexpected'", "Extra inputs"]),
        (lambda text: text.replace("document: doc, section: Two", "document: nowhere"), ["'beta'", "'source.document'"]),
        (lambda text: text.replace("id: beta", "id: Beta Bad"), ["'Beta Bad'", "'id'", "pattern"]),
    ],
    ids=["missing-field", "long-summary", "long-definition", "duplicate-id", "alias-collision", "unknown-reference",
         "cycle", "unknown-field", "unknown-document", "bad-slug"],
)  # fmt: skip
def test_bad_entry_is_named_precisely(tmp_path: Path, mutation, expected: list[str]) -> None:
    """The error names the file, the entry and the field at fault."""
    problems = "\n".join(problems_of(write(tmp_path, mutation(GOOD))))
    for fragment in expected:
        assert fragment in problems


STAGES = """
concepts:
  - id: proto
    name: Protocol
    kind: protocol
    summary: A protocol.
    definition: A protocol with stages.
    source: {document: doc, section: P}
  - id: one
    name: Stage one
    kind: stage
    stage: {protocol: proto, order: 1}
    summary: First.
    definition: First stage.
    source: {document: doc, section: P}
  - id: two
    name: Stage two
    kind: stage
    stage: {protocol: proto, order: ORDER}
    summary: Second.
    definition: Second stage.
    source: {document: doc, section: P}
"""


@pytest.mark.parametrize(("order", "message"), [("1", "also used by 'one'"), ("3", "skip order 2")])
def test_stage_order_gaps_and_repeats(tmp_path: Path, order: str, message: str) -> None:
    """Stages must be numbered 1..n without repeats or gaps."""
    problems = "\n".join(problems_of(write(tmp_path, STAGES.replace("ORDER", order))))
    assert "'stage.order'" in problems
    assert message in problems


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """Broken YAML reports where it broke."""
    problems = problems_of(write(tmp_path, "concepts:\n  - id: [unclosed\n"))
    assert "concepts.yaml" in problems[0]
    assert "line" in problems[0]


def test_shipped_data_is_valid() -> None:
    """The data shipped in data/ passes the same validation (CI fails on a bad entry)."""
    assert len(load_glossary().concepts) >= 60
