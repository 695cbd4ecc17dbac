"""Loading and validating glossary YAML: the shipped `data/` files, and later imported moderator files.

Field checks are pydantic's (`bot.models`); the checks that span entries (unique ids and names,
references, the preparation tree, stage order) live in `check_glossary`, which every path into the
glossary uses. Errors name the file, the entry id and the field.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.models import EDITORIAL, Concept, Kind, SourceDocument
from bot.normalise import lookup_keys, skeleton

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


def parse_entries(
    raw: Any, origin: str, deadline: float | None = None
) -> tuple[list[SourceDocument], list[SourcedConcept], list[Problem]]:
    """Validate the parsed YAML of one file entry by entry, so one bad entry does not hide the others.

    Raises `TooSlow` once past `deadline` (a `time.monotonic()` value)."""
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
            if deadline is not None and index % 32 == 0 and time.monotonic() > deadline:
                raise TooSlow
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


@dataclass(frozen=True)
class YamlLimits:
    """How much a YAML file may hold before it is refused unread: bounds on memory and time, not on content."""

    max_depth: int = 20
    max_nodes: int | None = None
    max_list: int | None = None


DATA_LIMITS = YamlLimits()
"""The shipped data/ files: trusted, but still free of anchors, aliases and repeated keys."""


class UnsafeYaml(yaml.MarkedYAMLError):
    """The text uses something the glossary format does not allow (aliases, deep nesting, repeated keys, size)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class TooSlow(Exception):  # noqa: N818 - it names the situation
    """Reading the file took longer than its time budget."""


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses, while composing (before anything is built in memory): anchors and
    aliases (one alias can expand into gigabytes), nesting deeper than the limit, too many nodes, lists longer
    than the limit, and a time budget overrun; and, while constructing, a key given twice in one mapping
    (YAML would silently keep the last one)."""

    def __init__(self, text: str, limits: YamlLimits, deadline: float | None) -> None:
        super().__init__(text)
        self._limits = limits
        self._deadline = deadline
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise UnsafeYaml("anchors and aliases are not allowed: write each entry out in full",
                             event.start_mark)  # fmt: skip
        limits = self._limits
        if (
            limits.max_list is not None
            and isinstance(parent, yaml.SequenceNode)
            and len(parent.value) >= limits.max_list
        ):
            raise UnsafeYaml(f"a list has more than {limits.max_list} items", event.start_mark)
        self._nodes += 1
        if limits.max_nodes is not None and self._nodes > limits.max_nodes:
            raise UnsafeYaml(f"more than {limits.max_nodes} values in one file", event.start_mark)
        if self._deadline is not None and self._nodes % 64 == 0 and time.monotonic() > self._deadline:
            raise TooSlow
        self._depth += 1
        try:
            if self._depth > limits.max_depth:
                raise UnsafeYaml(f"nested deeper than {limits.max_depth} levels", event.start_mark)
            return super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:  # type: ignore[override]
        seen: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if isinstance(key, Hashable) and key in seen:
                raise UnsafeYaml(f"the key '{key}' appears twice in one mapping (first on line "
                                 f"{seen[key].line + 1})", key_node.start_mark)  # fmt: skip
            if isinstance(key, Hashable):
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)  # type: ignore[no-untyped-call,no-any-return]


def read_yaml(
    text: str, origin: str, limits: YamlLimits = DATA_LIMITS, deadline: float | None = None
) -> tuple[Any, list[Problem]]:
    """Parse YAML text within `limits`; return the data, or a problem saying where and why it was refused."""
    loader = _GuardedLoader(text, limits, deadline)
    try:
        return loader.get_single_data(), []
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "refused" if isinstance(error, UnsafeYaml) else "not valid YAML"
        return None, [Problem(origin, None, None, f"{what}{where}: {getattr(error, 'problem', error)}")]
    finally:
        loader.dispose()


def parse_import(
    text: str, origin: str, *, max_entries: int, seconds: float
) -> tuple[list[SourcedConcept], list[Problem]]:
    """Read a moderator's import file: every problem at once, those with the file's shape first.

    The YAML is refused unread past `max_entries` entries (counted while parsing, before anything is
    validated), on anchors, aliases, deep nesting or repeated keys; the whole read stops after `seconds`.
    Run it in a worker thread: it never needs the event loop.
    """
    deadline = time.monotonic() + seconds
    limits = YamlLimits(max_depth=12, max_nodes=max_entries * 150, max_list=max_entries)
    try:
        raw, problems = read_yaml(text, origin, limits, deadline)
        if problems:
            return [], problems
        if raw is None:
            return [], []
        if not isinstance(raw, Mapping):
            return [], [Problem(origin, None, None, "the file must be a mapping with a 'concepts' list")]
        structural: list[Problem] = []
        unknown = sorted(map(str, set(raw) - {"documents", "concepts"}))
        if unknown:
            structural.append(Problem(origin, None, ", ".join(unknown), "unknown top-level key"))
        if "documents" in raw:
            only = "an import holds only 'concepts'; source documents ship with the bot"
            structural.append(Problem(origin, None, "documents", only))
        concepts = raw.get("concepts")
        if "concepts" not in raw:
            structural.append(Problem(origin, None, "concepts", "missing: an import is a 'concepts:' list"))
        elif concepts is not None and not isinstance(concepts, list):
            structural.append(Problem(origin, None, "concepts", "must be a list"))
            concepts = None
        _, items, problems = parse_entries({"concepts": concepts or []}, origin, deadline)
    except TooSlow:
        return [], [Problem(origin, None, None, f"took longer than {seconds:g} s to read: split it into smaller files")]
    counts = Counter(item.concept.id for item in items)
    problems += [Problem(origin, i, "id", "appears more than once in the file") for i, n in counts.items() if n > 1]
    return items, structural + problems


def parse_yaml(
    text: str, origin: str, limits: YamlLimits = DATA_LIMITS
) -> tuple[list[SourceDocument], list[SourcedConcept], list[Problem]]:
    """Parse YAML text (a data file) and validate its entries."""
    raw, problems = read_yaml(text, origin, limits)
    if problems:
        return [], [], problems
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
    problems += _check_references(
        by_id.values(), _concept_in(by_id), None if documents is None else {doc.id for doc in documents}
    )
    problems += _check_tree(by_id, by_id)
    problems += _check_stages(by_id.values())
    return problems


def _concept_in(by_id: Mapping[str, SourcedConcept]) -> Callable[[str], Concept | None]:
    def entry(concept_id: str) -> Concept | None:
        item = by_id.get(concept_id)
        return item.concept if item is not None else None

    return entry


def check_changes(
    current: Mapping[str, Concept],
    changed: Sequence[SourcedConcept],
    documents: Iterable[SourceDocument],
    owners: NameOwners,
    stages_of: Callable[[str], Iterable[Concept]],
) -> list[Problem]:
    """Check `changed` entries against a valid-enough glossary `current` without re-checking all of it.

    What a change can break: its own fields' references, names now shared with another entry (`owners` indexes
    the current names), entries that refer to a changed entry whose kind or axis changed, a parent cycle through
    a changed entry, and the stage order of the protocols it touches (`stages_of` lists a protocol's stages).
    Cost grows with the size of the change, not of the glossary (apart from a scan when a kind changes).
    """
    problems: list[Problem] = []
    by_id: dict[str, SourcedConcept] = {}
    for item in changed:
        if item.concept.id in by_id:
            problems.append(Problem(item.origin, item.concept.id, "id", "duplicate id"))
        by_id[item.concept.id] = item

    def entry(concept_id: str) -> Concept | None:
        item = by_id.get(concept_id)
        return item.concept if item is not None else current.get(concept_id)

    problems += _name_problems(by_id.values(), owners, ignored=by_id.keys())
    checked: list[SourcedConcept] = list(by_id.values())
    retyped = {
        concept_id
        for concept_id, item in by_id.items()
        if (before := current.get(concept_id)) is not None
        and (before.kind, before.axis) != (item.concept.kind, item.concept.axis)
    }
    if retyped:
        for concept in current.values():
            links = {*concept.related, concept.parent, concept.axis, *concept.classification.values(),
                     concept.stage.protocol if concept.stage else None}  # fmt: skip
            if concept.id not in by_id and not links.isdisjoint(retyped):
                checked.append(SourcedConcept(VIEW_ORIGIN_NAME, concept))
    problems += _check_references(checked, entry, {doc.id for doc in documents})
    problems += _check_tree(_Merged(current, by_id), by_id)
    protocols = {item.concept.stage.protocol for item in by_id.values() if item.concept.stage is not None}
    protocols |= {c.stage.protocol for i in by_id if (c := current.get(i)) is not None and c.stage is not None}
    for protocol in sorted(protocols):
        staged = [SourcedConcept(VIEW_ORIGIN_NAME, c) for c in stages_of(protocol) if c.id not in by_id]
        staged += [item for item in by_id.values() if item.concept.stage and item.concept.stage.protocol == protocol]
        problems += _check_stages(staged)
    return problems


VIEW_ORIGIN_NAME = "this server's glossary"


class _Merged(Mapping[str, SourcedConcept]):
    """The current entries with the changed ones in their place, read lazily (for the parent walk)."""

    def __init__(self, current: Mapping[str, Concept], changed: Mapping[str, SourcedConcept]) -> None:
        self._current = current
        self._changed = changed

    def __getitem__(self, concept_id: str) -> SourcedConcept:
        if concept_id in self._changed:
            return self._changed[concept_id]
        return SourcedConcept(VIEW_ORIGIN_NAME, self._current[concept_id])

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self._changed or concept_id in self._current

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._current), **dict.fromkeys(self._changed)})

    def __len__(self) -> int:
        return len(self._current.keys() | self._changed.keys())


NameOwner = tuple[str, str, str]
"""(entry id, the name or alias as written, the entry's name)."""
NameOwners = Mapping[str, NameOwner]
"""Which entry answers to each matching key (look-alike keys included)."""


def name_owners(concepts: Iterable[Concept]) -> dict[str, NameOwner]:
    """Index every name and alias of the entries by its matching keys (look-alike keys included)."""
    owners: dict[str, NameOwner] = {}
    for concept in concepts:
        for name in concept.names:
            for key in name_keys(name):
                owners.setdefault(key, (concept.id, name, concept.name))
    return owners


class LayeredNameOwners(Mapping[str, NameOwner]):
    """A guild's name index: the shipped index shared by every guild, under the guild's own changed entries.

    Why: a full index per edited guild costs ~100 KB; this one costs only the guild's own names. A shipped
    entry the guild changed (or hid) answers only to the names of its changed text.
    """

    def __init__(self, shipped: NameOwners, changed: Iterable[Concept]) -> None:
        changed = list(changed)
        self._shipped = shipped
        self._replaced = {concept.id for concept in changed}
        self._own = name_owners(changed)

    def __getitem__(self, key: str) -> NameOwner:
        own = self._own.get(key)
        if own is not None:
            return own
        owner = self._shipped[key]
        if owner[0] in self._replaced:
            raise KeyError(key)
        return owner

    def __iter__(self) -> Iterator[str]:
        yield from self._own
        for key, owner in self._shipped.items():
            if key not in self._own and owner[0] not in self._replaced:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


def name_keys(name: str) -> set[str]:
    """The keys under which a name is found: its exact-match keys and those of its look-alike skeleton."""
    return {key for key in (*lookup_keys(name), *lookup_keys(skeleton(name))) if key}


def _name_problems(items: Iterable[SourcedConcept], owners: NameOwners, ignored: Container[str] = ()) -> list[Problem]:
    """Names of `items` that another entry (in `owners`, or earlier in `items`) already answers to.

    `owners` (the names of entries not being checked) is only read; entries in `ignored` (being replaced by
    `items`) never block a name there.
    """
    problems: list[Problem] = []
    claimed_here: NameOwners = {}
    for item in items:
        for field, name in [("name", item.concept.name)] + [("aliases", alias) for alias in item.concept.aliases]:
            exact = {key for key in lookup_keys(name) if key}
            if not exact:
                problems.append(Problem(item.origin, item.concept.id, field, f"'{name}' has no letters or digits"))
                continue
            for key in sorted(name_keys(name), key=lambda k: k not in exact):  # exact keys first: "is the same"
                claimed = claimed_here.get(key)
                if claimed is None and key in owners and owners[key][0] not in ignored:
                    claimed = owners[key]
                if claimed is None:
                    claimed_here[key] = (item.concept.id, name, item.concept.name)
                elif claimed[0] != item.concept.id:
                    problems.append(Problem(item.origin, item.concept.id, field, _taken(name, claimed, key in exact)))
                    break
    return problems


def _taken(name: str, owner: tuple[str, str, str], exact: bool) -> str:
    """Say which entry already answers to a name, and how the two names meet."""
    owner_id, written, owner_name = owner
    entry = f"“{owner_name}” (entry '{owner_id}')"
    if not exact:
        return f"'{name}' looks the same as '{written}', a name of {entry}: it mixes in look-alike characters"
    if written == name:
        return f"'{name}' is already a name of {entry}"
    return f"'{name}' is already a name of {entry}, written '{written}'"


def _check_names(concepts: Sequence[SourcedConcept]) -> list[Problem]:
    """Every name and alias must lead to one entry only, after normalisation (exact lookups must be unambiguous),
    and must not merely look like another entry's name (a Cyrillic "о" in "Tacrolimus")."""
    return _name_problems(concepts, {})


def _check_references(
    items: Iterable[SourcedConcept], entry: Callable[[str], Concept | None], document_ids: set[str] | None
) -> list[Problem]:
    problems: list[Problem] = []

    def kind_of(concept_id: str) -> Kind | None:
        found = entry(concept_id)
        return found.kind if found is not None else None

    for item in items:
        concept, origin = item.concept, item.origin

        def problem(field: str, message: str, *, concept: Concept = concept, origin: str = origin) -> None:
            problems.append(Problem(origin, concept.id, field, message))

        for index, related in enumerate(concept.related):
            if entry(related) is None:
                problem(f"related.{index}", f"unknown id '{related}'")
            elif related == concept.id:
                problem(f"related.{index}", "an entry cannot be related to itself")
        if concept.parent is not None and entry(concept.parent) is None:
            problem("parent", f"unknown id '{concept.parent}'")
        for axis, klass in concept.classification.items():
            if kind_of(axis) is not Kind.AXIS:
                problem(f"classification.{axis}", f"'{axis}' is not a classification axis")
            elif kind_of(klass) is not Kind.CLASS or getattr(entry(klass), "axis", None) != axis:
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


def _check_tree(by_id: Mapping[str, SourcedConcept], starts: Iterable[str]) -> list[Problem]:
    """The preparation tree must be a tree: following parents never comes back to where it started.

    Only walks from `starts` (every entry for a whole check; the changed ones for a change: a new cycle
    always passes through a changed entry)."""
    problems: list[Problem] = []
    reported: set[str] = set()
    for start in starts:
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


def _check_stages(items: Iterable[SourcedConcept]) -> list[Problem]:
    """Each protocol's stages are numbered 1..n with no gap and no repeat."""
    problems: list[Problem] = []
    orders: dict[str, list[tuple[int, SourcedConcept]]] = defaultdict(list)
    for item in items:
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


_loaded: dict[tuple[Path, tuple[tuple[str, int, int], ...]], GlossaryData] = {}
"""The last validated glossary per data directory, by its files' names, sizes and modification times."""


def load_glossary(data_dir: Path | None = None) -> GlossaryData:
    """Read and validate every `*.yaml` file in the data directory; raise `GlossaryError` listing all problems.

    The result is immutable, so files unchanged since the last call (same names, sizes and modification times)
    are not parsed again: a process that starts several bots (the tests) or loads twice pays once.
    """
    directory = data_dir or default_data_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise GlossaryError([Problem(str(directory), None, None, "no *.yaml data files found")])
    stats = [path.stat() for path in files]
    key = (
        directory.resolve(),
        tuple((path.name, st.st_size, st.st_mtime_ns) for path, st in zip(files, stats, strict=True)),
    )
    if key not in _loaded:
        _loaded.clear()  # keep only the newest: data directories are few and their contents change rarely
        _loaded[key] = _read_glossary(directory, files)
    return _loaded[key]


def _read_glossary(directory: Path, files: list[Path]) -> GlossaryData:
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
