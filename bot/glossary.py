"""An immutable, in-memory view of the glossary as one audience sees it, with its resolver.

Commands read concepts through this, never from SQL: lookups are dictionary reads, and a view is
replaced, not mutated, when the data behind it changes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cached_property

from bot.models import Concept, Kind, SourceDocument
from bot.normalise import compact, normalise
from bot.resolver import IndexedConcept, Mention, Resolver
from bot.search import Vocabulary

_PARENTHESIS = re.compile(r"\(([^()]*)\)")
_BRAND_OR_CODE = re.compile(r"[A-Z][a-z][\w-]*|[A-Z][A-Z0-9]*[0-9][A-Z0-9]*|[A-Z]{2,5}")
"""A brand ("Provenge"), a code name ("OKT3") or an abbreviation ("ATG"); not a descriptor ("CAR-T", "anti-CD20")."""


def example_terms(example: str) -> list[str]:
    """The names an `examples:` line gives, so each can be looked up: the line without parentheses, the items of a
    list after a colon, and a brand or code name in parentheses after a generic one.

    "sipuleucel-T (Provenge)" → sipuleucel-T, Provenge; "CAR-T cells: tisagenlecleucel, axicabtagene ciloleucel"
    → CAR-T cells, tisagenlecleucel, axicabtagene ciloleucel. A description in parentheses ("(allogeneic)",
    "(anti-CD20)") names nothing and is left out, as is anything in parentheses after a capitalised name ("GVAX
    (allogeneic…)"). A combination ("tacrolimus + MMF + prednisone") is one term: its drugs are entries of their
    own or another entry's examples, not examples of the regimen's entry.
    """
    head = _PARENTHESIS.sub(" ", example).strip()
    terms: list[str] = []
    if ":" in head:
        label, _, listed = head.partition(":")
        terms.append(label)
        terms += listed.split(",")
    else:
        terms.append(head)
    first_word = head.split()[0] if head.split() else ""
    if first_word[:1].islower():  # a generic (INN) name: a brand, code or its clinical shorthand in parentheses
        for inside in _PARENTHESIS.findall(example):
            terms += [
                item
                for item in re.split(r"[,;]", inside)
                if _BRAND_OR_CODE.fullmatch(item.strip()) or is_shorthand_of(item.strip(), head)
            ]
    seen: dict[str, str] = {}
    for term in terms:
        term = " ".join(term.split()).strip(" ,;:.")
        if term and term.casefold() not in seen:
            seen[term.casefold()] = term
    return list(seen.values())


def is_shorthand_of(item: str, generic: str) -> bool:
    """Whether `item` is the clinicians' shorthand of a generic name: one word of 3 to 9 letters (a hyphen
    allowed) that starts as the name does and whose letters all appear in it in order ("pembro" of pembrolizumab,
    "axi-cel" of axicabtagene ciloleucel, "T-VEC" of talimogene laherparepvec). A description ("anti-CD20",
    "allogeneic") does not start with the drug's own letters and stays out."""
    letters = [c for c in item.casefold() if c.isalpha()]
    if not 3 <= len(letters) <= 9 or not re.fullmatch(r"[A-Za-z]+(?:-[A-Za-z]+)?", item):
        return False
    name = [c for c in generic.casefold() if c.isalpha()]
    if not name or letters[0] != name[0]:
        return False
    position = 0
    for letter in letters:
        position = next((i + 1 for i in range(position, len(name)) if name[i] == letter), -1)
        if position < 0:
            return False
    return True


class Glossary:
    """Concepts by id, the relations between them, and the resolver over their names."""

    def __init__(self, concepts: Iterable[Concept], documents: Iterable[SourceDocument] = ()) -> None:
        self.concepts: dict[str, Concept] = {concept.id: concept for concept in concepts}
        self.documents: dict[str, SourceDocument] = {document.id: document for document in documents}
        self._children: dict[str, list[Concept]] = defaultdict(list)
        self._classified: dict[str, list[Concept]] = defaultdict(list)
        for concept in self.concepts.values():
            if concept.parent in self.concepts:
                self._children[concept.parent].append(concept)
            for klass in concept.classification.values():
                self._classified[klass].append(concept)
        for group in (*self._children.values(), *self._classified.values()):
            group.sort(key=lambda concept: concept.name.casefold())
        self._name_key_cache: dict[str, frozenset[str]] = {}
        self._mention_cache: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self.concepts)

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self.concepts

    def get(self, concept_id: str) -> Concept | None:
        """Return the concept with this id, or None."""
        return self.concepts.get(concept_id)

    @cached_property
    def resolver(self) -> Resolver:
        """The one resolver for this view (built on first use)."""
        return Resolver(
            IndexedConcept(c.id, c.name, c.names, [term for example in c.examples for term in example_terms(example)])
            for c in self.concepts.values()
        )

    def mentions(self, text: str, *, typos: bool = True) -> list[Mention]:
        """The concepts `text` names (names, aliases, one entry's example terms, typos within reason), in order;
        found by the resolver, so a text mentions exactly what looking its words up would find."""
        return [mention for mention in self.resolver.scan(text, typos=typos) if mention.suggestion.id in self.concepts]

    def too_close(self, first: Concept, second: Concept) -> bool:
        """Whether two entries could be the same answer: they share a name or alias (after normalisation), or
        either one's summary names the other ("…the organism is Cutibacterium acnes" beside the entry that has
        that alias). Quizzes never offer two such entries side by side."""
        if first.id == second.id or not self._name_keys(first).isdisjoint(self._name_keys(second)):
            return True
        return second.id in self._summary_mentions(first) or first.id in self._summary_mentions(second)

    def _name_keys(self, concept: Concept) -> frozenset[str]:
        keys = self._name_key_cache.get(concept.id)
        if keys is None:
            keys = self._name_key_cache[concept.id] = frozenset(
                filter(None, (compact(normalise(n)) for n in concept.names))
            )
        return keys

    def _summary_mentions(self, concept: Concept) -> frozenset[str]:
        found = self._mention_cache.get(concept.id)
        if found is None:
            mentioned = {m.suggestion.id for m in self.mentions(concept.summary, typos=False)} - {concept.id}
            found = self._mention_cache[concept.id] = frozenset(mentioned)
        return found

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Every word of the searchable text (names, aliases, summaries, definitions), for /search's spellings."""
        return Vocabulary(
            text for c in self.concepts.values() for text in (c.name, *c.aliases, c.summary, c.definition)
        )

    def sorted(self, concepts: Iterable[Concept]) -> list[Concept]:
        """Return concepts in reading order (by name)."""
        return sorted(concepts, key=lambda concept: concept.name.casefold())

    def children(self, concept_id: str) -> list[Concept]:
        """Return the direct children of a concept in the preparation tree."""
        return list(self._children.get(concept_id, ()))

    def classified_as(self, class_id: str) -> list[Concept]:
        """Return the concepts placed in a class on one of the classification axes."""
        return list(self._classified.get(class_id, ()))

    def ancestors(self, concept_id: str) -> list[Concept]:
        """Return the path from the tree's root down to the concept's parent (cycle-safe)."""
        path: list[Concept] = []
        seen = {concept_id}
        current = self.concepts.get(concept_id)
        while current is not None and current.parent and current.parent not in seen:
            seen.add(current.parent)
            parent = self.concepts.get(current.parent)
            if parent is None:
                break
            path.append(parent)
            current = parent
        return path[::-1]

    def category_path(self, concept_id: str) -> list[Concept]:
        """Return the concept's path in the preparation tree, root first, the concept itself last."""
        concept = self.concepts.get(concept_id)
        return [*self.ancestors(concept_id), concept] if concept else []

    def of_kind(self, kind: Kind) -> list[Concept]:
        """Return every concept of one kind, in reading order."""
        return self.sorted(concept for concept in self.concepts.values() if concept.kind is kind)

    def axes(self) -> list[tuple[Concept, list[Concept]]]:
        """Return each classification axis with its classes."""
        classes: dict[str, list[Concept]] = defaultdict(list)
        for concept in self.of_kind(Kind.CLASS):
            if concept.axis:
                classes[concept.axis].append(concept)
        return [(axis, classes.get(axis.id, [])) for axis in self.of_kind(Kind.AXIS)]

    def tree_roots(self) -> list[Concept]:
        """Return the roots of the preparation tree (entries with children and no parent)."""
        return self.sorted(c for c in self.concepts.values() if c.parent is None and self._children.get(c.id))

    def members(self, concept_id: str) -> list[Concept]:
        """Return what belongs under a category: an axis's classes, a class's entries, a node's children."""
        concept = self.concepts.get(concept_id)
        if concept is None:
            return []
        if concept.kind is Kind.AXIS:
            return next((classes for axis, classes in self.axes() if axis.id == concept_id), [])
        if concept.kind is Kind.PROTOCOL:
            return self.stages(concept_id)
        seen: dict[str, Concept] = {c.id: c for c in self.children(concept_id)}
        for member in self.classified_as(concept_id):
            seen.setdefault(member.id, member)
        return self.sorted(seen.values())

    def is_category(self, concept_id: str) -> bool:
        """Say whether a concept groups others (and so can be listed by /category)."""
        return bool(self.members(concept_id))

    def protocols(self) -> list[Concept]:
        """Return the ordered protocols (the kidney-disease regime)."""
        return self.of_kind(Kind.PROTOCOL)

    def stages(self, protocol_id: str) -> list[Concept]:
        """Return a protocol's stages in order."""
        staged = [c for c in self.concepts.values() if c.stage is not None and c.stage.protocol == protocol_id]
        return sorted(staged, key=lambda concept: concept.stage.order if concept.stage else 0)

    def related(self, concept_id: str) -> list[Concept]:
        """Return the related entries that exist in this view."""
        concept = self.concepts.get(concept_id)
        if concept is None:
            return []
        return [self.concepts[other] for other in concept.related if other in self.concepts]

    def pool(self, categories: Iterable[str] = ()) -> list[str]:
        """Ids to draw from (daily posts, quizzes, flashcards): everything but the axes, or what falls under the
        given categories, transitively (sub-categories' members included)."""
        wanted = list(categories)
        if not wanted:
            return sorted(c.id for c in self.concepts.values() if c.kind is not Kind.AXIS)
        chosen: set[str] = set()
        frontier = [concept_id for concept_id in wanted if concept_id in self.concepts]
        while frontier:
            current = frontier.pop()
            for member in self.members(current):
                if member.id not in chosen:
                    chosen.add(member.id)
                    frontier.append(member.id)
        return sorted(chosen)

    def lookup_many(self, concept_ids: Sequence[str]) -> list[Concept]:
        """Return the concepts for the ids that exist, in the given order."""
        return [self.concepts[i] for i in concept_ids if i in self.concepts]
