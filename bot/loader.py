"""Loading and validating glossary YAML: the shipped `data/` files, and later imported moderator files.

Field checks are pydantic's (`bot.models`); the checks that span entries (unique ids and names,
references, the preparation tree, stage order) live in `check_glossary`, which every path into the
glossary uses. Errors name the file, the entry id and the field.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.models import EDITORIAL, Concept, Kind, SourceDocument
from bot.normalise import lookup_keys

DATA_DIR_ENV = "IMMUNOBOT_DATA_DIR"


def default_data_dir() -> Path:
    """Locate the shipped `data/`: the configured folder, else the source tree's, else an installed copy.

    Found through the package, never the working directory, so the bot works from anywhere.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    source_tree = Path(__file__).resolve().parent.parent / "data"
    installed = Path(sys.prefix) / "share" / "immunobot" / "data"
    return source_tree if source_tree.is_dir() or not installed.is_dir() else installed


@dataclass(frozen=True)
class Problem:
    """One validation failure, located precisely enough to fix."""

    origin: str
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.origin]
        if self.entry:
            parts.append(f"entry '{self.entry}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ": ".join([*parts, self.message])


class GlossaryError(ValueError):
    """The glossary data is invalid; `problems` lists every failure found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        shown = "\n".join(f"  - {problem}" for problem in self.problems[:20])
        more = f"\n  (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the glossary data:\n{shown}{more}")


@dataclass(frozen=True)
class SourcedConcept:
    """A validated concept and where it was read from (a file name, or a guild overlay)."""

    origin: str
    concept: Concept


@dataclass(frozen=True)
class GlossaryData:
    """Everything the `data/` files define, validated."""

    documents: tuple[SourceDocument, ...]
    concepts: tuple[SourcedConcept, ...]


def _field_path(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location) or "(entry)"


def parse_entries(raw: Any, origin: str) -> tuple[list[SourceDocument], list[SourcedConcept], list[Problem]]:
    """Validate the parsed YAML of one file entry by entry, so one bad entry does not hide the others."""
    problems: list[Problem] = []
    if raw is None:
        return [], [], []
    if not isinstance(raw, Mapping):
        return [], [], [Problem(origin, None, None, "the file must be a mapping with 'documents' and/or 'concepts'")]
    unknown = set(raw) - {"documents", "concepts"}
    if unknown:
        problems.append(Problem(origin, None, ", ".join(sorted(map(str, unknown))), "unknown top-level key"))
    documents: list[SourceDocument] = []
    concepts: list[SourcedConcept] = []
    for key, model, sink in (("documents", SourceDocument, documents), ("concepts", Concept, concepts)):
        items = raw.get(key) or []
        if not isinstance(items, list):
            problems.append(Problem(origin, None, key, "must be a list"))
            continue
        for index, item in enumerate(items):
            label = str(item.get("id")) if isinstance(item, Mapping) and item.get("id") else f"#{index + 1}"
            try:
                parsed = model.model_validate(item)
            except ValidationError as error:
                problems.extend(
                    Problem(origin, label, _field_path(detail["loc"]), detail["msg"]) for detail in error.errors()
                )
                continue
            sink.append(SourcedConcept(origin, parsed) if isinstance(parsed, Concept) else parsed)
    return documents, concepts, problems


def parse_yaml(text: str, origin: str) -> tuple[list[SourceDocument], list[SourcedConcept], list[Problem]]:
    """Parse YAML text (a data file or an uploaded import) and validate its entries."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return [], [], [Problem(origin, None, None, f"not valid YAML{where}: {getattr(error, 'problem', error)}")]
    return parse_entries(raw, origin)


def check_glossary(
    concepts: Sequence[SourcedConcept], documents: Iterable[SourceDocument] | None = None
) -> list[Problem]:
    """Check what spans entries: unique ids and names, references, tree shape, stage order."""
    problems: list[Problem] = []
    by_id: dict[str, SourcedConcept] = {}
    for item in concepts:
        if item.concept.id in by_id:
            first = by_id[item.concept.id].origin
            problems.append(Problem(item.origin, item.concept.id, "id", f"duplicate id (also defined in {first})"))
        else:
            by_id[item.concept.id] = item
    problems += _check_names(concepts)
    problems += _check_references(by_id, None if documents is None else {doc.id for doc in documents})
    problems += _check_tree(by_id)
    problems += _check_stages(by_id)
    return problems


def _check_names(concepts: Sequence[SourcedConcept]) -> list[Problem]:
    """Every name and alias must lead to one entry only, after normalisation (exact lookups must be unambiguous)."""
    problems: list[Problem] = []
    owner: dict[str, tuple[str, str]] = {}
    for item in concepts:
        for field, name in [("name", item.concept.name)] + [("aliases", alias) for alias in item.concept.aliases]:
            keys = {key for key in lookup_keys(name) if key}
            if not keys:
                problems.append(Problem(item.origin, item.concept.id, field, f"'{name}' has no letters or digits"))
                continue
            for key in keys:
                claimed = owner.get(key)
                if claimed is None:
                    owner[key] = (item.concept.id, name)
                elif claimed[0] != item.concept.id:
                    problems.append(
                        Problem(
                            item.origin,
                            item.concept.id,
                            field,
                            f"'{name}' is the same as '{claimed[1]}' of entry '{claimed[0]}' after normalisation",
                        )
                    )
                    break
    return problems


def _check_references(by_id: Mapping[str, SourcedConcept], document_ids: set[str] | None) -> list[Problem]:
    problems: list[Problem] = []

    def kind_of(concept_id: str) -> Kind | None:
        return by_id[concept_id].concept.kind if concept_id in by_id else None

    for item in by_id.values():
        concept, origin = item.concept, item.origin

        def problem(field: str, message: str, *, concept: Concept = concept, origin: str = origin) -> None:
            problems.append(Problem(origin, concept.id, field, message))

        for index, related in enumerate(concept.related):
            if related not in by_id:
                problem(f"related.{index}", f"unknown id '{related}'")
            elif related == concept.id:
                problem(f"related.{index}", "an entry cannot be related to itself")
        if concept.parent is not None and concept.parent not in by_id:
            problem("parent", f"unknown id '{concept.parent}'")
        for axis, klass in concept.classification.items():
            if kind_of(axis) is not Kind.AXIS:
                problem(f"classification.{axis}", f"'{axis}' is not a classification axis")
            elif kind_of(klass) is not Kind.CLASS or by_id[klass].concept.axis != axis:
                problem(f"classification.{axis}", f"'{klass}' is not a class on axis '{axis}'")
        if concept.kind is Kind.CLASS:
            if concept.axis is None:
                problem("axis", "a class entry must name its axis")
            elif kind_of(concept.axis) is not Kind.AXIS:
                problem("axis", f"'{concept.axis}' is not a classification axis")
        elif concept.axis is not None:
            problem("axis", "only class entries belong to an axis")
        if concept.kind is Kind.STAGE and concept.stage is None:
            problem("stage", "a stage entry needs its protocol and order")
        if concept.stage is not None:
            if concept.kind is not Kind.STAGE:
                problem("kind", "an entry with a stage position must have kind 'stage'")
            if kind_of(concept.stage.protocol) is not Kind.PROTOCOL:
                problem("stage.protocol", f"'{concept.stage.protocol}' is not a protocol")
        document = concept.source.document
        if document == EDITORIAL:
            if not concept.source.editorial:
                problem("source.editorial", "an editorial entry must say what it adds beyond the documents")
        elif document_ids is not None and document not in document_ids:
            problem("source.document", f"unknown source document '{document}'")
    return problems


def _check_tree(by_id: Mapping[str, SourcedConcept]) -> list[Problem]:
    """The preparation tree must be a tree: following parents never comes back to where it started."""
    problems: list[Problem] = []
    reported: set[str] = set()
    for start in by_id:
        seen: list[str] = []
        current: str | None = start
        while current is not None and current in by_id:
            if current in seen:
                cycle = seen[seen.index(current) :]
                if not reported.intersection(cycle):
                    reported.update(cycle)
                    item = by_id[current]
                    path = " → ".join([*cycle, current])
                    problems.append(Problem(item.origin, current, "parent", f"cycle in the preparation tree: {path}"))
                break
            seen.append(current)
            current = by_id[current].concept.parent
    return problems


def _check_stages(by_id: Mapping[str, SourcedConcept]) -> list[Problem]:
    """Each protocol's stages are numbered 1..n with no gap and no repeat."""
    problems: list[Problem] = []
    orders: dict[str, list[tuple[int, SourcedConcept]]] = defaultdict(list)
    for item in by_id.values():
        if item.concept.stage is not None:
            orders[item.concept.stage.protocol].append((item.concept.stage.order, item))
    for protocol, staged in orders.items():
        staged.sort(key=lambda pair: pair[0])
        seen: dict[int, str] = {}
        for order, item in staged:
            if order in seen:
                problems.append(
                    Problem(
                        item.origin,
                        item.concept.id,
                        "stage.order",
                        f"order {order} of protocol '{protocol}' is also used by '{seen[order]}'",
                    )
                )
            seen[order] = item.concept.id
        expected = set(range(1, len(seen) + 1))
        missing = sorted(expected - set(seen))
        if missing:
            last = staged[-1][1]
            problems.append(
                Problem(
                    last.origin,
                    last.concept.id,
                    "stage.order",
                    f"stages of protocol '{protocol}' skip order {', '.join(map(str, missing))}",
                )
            )
    return problems


def load_glossary(data_dir: Path | None = None) -> GlossaryData:
    """Read and validate every `*.yaml` file in the data directory; raise `GlossaryError` listing all problems."""
    directory = data_dir or default_data_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise GlossaryError([Problem(str(directory), None, None, "no *.yaml data files found")])
    documents: list[SourceDocument] = []
    concepts: list[SourcedConcept] = []
    problems: list[Problem] = []
    for path in files:
        origin = f"{directory.name}/{path.name}"
        file_documents, file_concepts, file_problems = parse_yaml(path.read_text(encoding="utf-8"), origin)
        documents += file_documents
        concepts += file_concepts
        problems += file_problems
    seen_documents: set[str] = set()
    for document in documents:
        if document.id in seen_documents:
            problems.append(Problem(str(directory), document.id, "id", "duplicate source document id"))
        seen_documents.add(document.id)
    problems += check_glossary(concepts, documents)
    if problems:
        raise GlossaryError(problems)
    return GlossaryData(tuple(documents), tuple(concepts))
