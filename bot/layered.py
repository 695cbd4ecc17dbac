"""A guild's view as the shared shipped view plus that guild's changes, so memory grows with edits, not guilds.

A full copy of the glossary and its name index per edited guild costs ~0.5 MB (~1 MB with a hidden entry).
Here a guild keeps only its changed entries: their names are indexed on their own (a few small arrays) and
merged with the shipped index at query time, with the shipped entries it changed or hid masked out. The merge
reproduces the full rebuild's candidate lists name for name and in the same order (every name has an order key:
names before example terms, then the entry's place in the view, then its place within the entry), so ranking,
ties and confidence come out exactly as a rebuilt index would give them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from bot.glossary import Glossary, example_terms
from bot.models import Concept
from bot.normalise import compact, normalise
from bot.overlay import Overlay
from bot.resolver import (
    CANDIDATES,
    POSTINGS_CAP,
    SHORT_NAME,
    Resolver,
    _trigram_codes,
)
from bot.search import CORRECTION_MIN, CORRECTION_SCORE, MAX_SPELLINGS, Vocabulary

_SECTION = 1 << 50
_PLACE = 1 << 16
"""Order key of a name: section (0 names and aliases, 1 example terms), then the entry's place, then the name's."""


def _order_keys(sections: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Order keys for names listed entry by entry (each entry's names contiguous within its section)."""
    count = len(places)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    group = sections.astype(np.int64) * _SECTION + places.astype(np.int64) * _PLACE
    starts = np.empty(count, dtype=bool)
    starts[0] = True
    np.not_equal(group[1:], group[:-1], out=starts[1:])
    first = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    return group + (np.arange(count) - first)


class ShippedLayer:
    """What every guild's view shares: the shipped glossary, its resolver, and each name's order key."""

    def __init__(self, shipped: Glossary) -> None:
        self.glossary = shipped
        self.resolver = shipped.resolver
        resolver = self.resolver
        self.place = {concept_id: index for index, concept_id in enumerate(shipped.concepts)}
        self.order = _order_keys(resolver._is_example, resolver._name_concept)

    def name_indexes(self, concept_indexes: Iterable[int]) -> np.ndarray:
        """The shipped name indexes of some entries (to mask them), sorted."""
        wanted = sorted(set(concept_indexes))
        if not wanted:
            return np.empty(0, dtype=np.int32)
        return np.flatnonzero(np.isin(self.resolver._name_concept, wanted)).astype(np.int32)


class _OwnNames:
    """A guild's own entries' names: what the resolver keeps per name, for a handful of names, without the
    439 KB trigram offset table of a full index."""

    def __init__(self, concepts: list[Concept], places: list[int]) -> None:
        self.ids = [concept.id for concept in concepts]
        self.names = [concept.name for concept in concepts]
        self.places = places
        texts: list[str] = []
        keys: list[str] = []
        owners: list[int] = []
        sections: list[int] = []
        for section in (0, 1):
            for index, concept in enumerate(concepts):
                terms = concept.names if section == 0 else [t for e in concept.examples for t in example_terms(e)]
                for text in terms:
                    key = normalise(text)
                    if key:
                        texts.append(text)
                        keys.append(key)
                        owners.append(index)
                        sections.append(section)
        self.first_example = sections.count(0)
        self.texts = texts
        self.key_array = np.asarray(keys, dtype=object)
        self.concept = np.asarray(owners, dtype=np.int32)
        self.is_example = np.asarray(sections, dtype=bool)
        self.short = np.fromiter((len(key) <= SHORT_NAME for key in keys), dtype=bool, count=len(keys))
        place_of = np.asarray(places, dtype=np.int64)
        self.order = _order_keys(self.is_example, place_of[self.concept] if keys else np.empty(0, np.int64))
        pairs: list[tuple[int, int]] = []
        counts: list[int] = []
        for index, key in enumerate(keys):
            codes = _trigram_codes(key).tolist()
            counts.append(len(codes))
            pairs += [(code, index) for code in codes]
        pairs.sort()
        self.trigram_counts = np.asarray(counts, dtype=np.uint16)
        self.posting_codes = np.asarray([code for code, _ in pairs], dtype=np.int32)
        self.posting_names = np.asarray([index for _, index in pairs], dtype=np.int32)
        self.exact = _FewKeys(keys[: self.first_example])
        self.exact_examples = _FewKeys(keys[self.first_example :])

    def postings(self, code: int) -> np.ndarray:
        """The own names that have this trigram, in order."""
        low, high = np.searchsorted(self.posting_codes, [code, code + 1])
        return self.posting_names[low:high].astype(np.int64)


class _FewKeys:
    """Exact lookup among a guild's few names by scanning them: hash tables cost more than they save here."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = keys

    def find_in(self, key: str, table_number: int) -> list[int]:
        """Like `_ExactKeys.find_in`: indexes whose key (table 0) or compact key (table 1) equals `key`'s."""
        if table_number == 0:
            return [index for index, stored in enumerate(self._keys) if stored == key]
        wanted = compact(key)
        return [index for index, stored in enumerate(self._keys) if compact(stored) == wanted]


class LayeredResolver(Resolver):
    """The shipped resolver with some entries masked and a guild's own entries merged in: answers exactly as a
    resolver rebuilt over the guild's whole view would."""

    def __init__(self, shipped: ShippedLayer, masked: Iterable[str], concepts: list[Concept], places: list[int]):
        # No super().__init__: the shipped index is shared, not copied.
        self._base = shipped.resolver
        self._shipped = shipped
        masked_places = {shipped.place[concept_id] for concept_id in masked if concept_id in shipped.place}
        self._masked_concepts = frozenset(masked_places)
        self._masked = shipped.name_indexes(masked_places)
        self._own = _OwnNames(concepts, places)
        self._base_names = self._base.name_count
        self._base_concepts = len(self._base._concept_ids)
        count = self._base_names - len(self._masked) + len(self._own.texts)
        self._count = count
        self._candidate_limit = min(CANDIDATES[1], max(CANDIDATES[0], count // 4000))
        self._postings_cap = min(POSTINGS_CAP[1], max(POSTINGS_CAP[0], count // 12))

    def __len__(self) -> int:
        return self._base_concepts - len(self._masked_concepts) + len(self._own.ids)

    @property
    def name_count(self) -> int:
        return self._count

    def _order(self, names: np.ndarray) -> np.ndarray:
        shipped = names < self._base_names
        order = np.empty(len(names), dtype=np.int64)
        order[shipped] = self._shipped.order[names[shipped]]
        order[~shipped] = self._own.order[names[~shipped] - self._base_names]
        return order

    def _in_order(self, names: list[int]) -> list[int]:
        if len(names) < 2:
            return names
        order = self._order(np.asarray(names, dtype=np.int64))
        return [names[i] for i in np.argsort(order, kind="stable")]

    def _merged_find(self, key: str, shipped: Any, own: Any, offset: int, own_offset: int) -> list[int]:
        for table in (0, 1):
            masked = self._masked_concepts
            found = [offset + i for i in shipped.find_in(key, table) if self._concept_of(offset + i) not in masked]
            found += [self._base_names + own_offset + i for i in own.find_in(key, table)]
            if found:
                return self._in_order(found)
        return []

    def _find_names(self, key: str) -> list[int]:
        return self._merged_find(key, self._base._exact, self._own.exact, 0, 0)

    def _find_name(self, key: str) -> int | None:
        return next(iter(self._find_names(key)), None)

    def _find_examples(self, key: str) -> list[int]:
        base = self._base
        return self._merged_find(key, base._exact_examples, self._own.exact_examples, base._first_example,
                                 self._own.first_example)  # fmt: skip

    def _concept_of(self, name_index: int) -> int:
        if name_index < self._base_names:
            return int(self._base._name_concept[name_index])
        return self._base_concepts + int(self._own.concept[name_index - self._base_names])

    def _concept_id(self, concept_index: int) -> str:
        if concept_index < self._base_concepts:
            return self._base._concept_ids[concept_index]
        return self._own.ids[concept_index - self._base_concepts]

    def _concept_name(self, concept_index: int) -> str:
        if concept_index < self._base_concepts:
            return self._base._concept_names[concept_index]
        return self._own.names[concept_index - self._base_concepts]

    def _name_text(self, name_index: int) -> str:
        if name_index < self._base_names:
            return self._base._name_texts[name_index]
        return self._own.texts[name_index - self._base_names]

    def _is_example_name(self, name_index: int) -> bool:
        if name_index < self._base_names:
            return name_index >= self._base._first_example
        return bool(self._own.is_example[name_index - self._base_names])

    def _browse(self) -> Iterator[int]:
        def place(index: int) -> int:
            if index < self._base_concepts:
                return index
            return self._own.places[index - self._base_concepts]

        shipped = (i for i in self._base._browse() if i not in self._masked_concepts)
        own = sorted(range(self._base_concepts, self._base_concepts + len(self._own.ids)),
                     key=lambda i: (self._concept_name(i).casefold(), place(i)))  # fmt: skip
        return heapq.merge(shipped, own, key=lambda i: (self._concept_name(i).casefold(), place(i)))

    def _gather(self, candidates: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        base, own = self._base, self._own
        shipped = candidates < self._base_names
        mine = candidates[~shipped] - self._base_names
        theirs = candidates[shipped]
        keys = np.empty(len(candidates), dtype=object)
        keys[shipped], keys[~shipped] = base._key_array[theirs], own.key_array[mine]
        short = np.empty(len(candidates), dtype=bool)
        short[shipped], short[~shipped] = base._short_name[theirs], own.short[mine]
        example = np.empty(len(candidates), dtype=bool)
        example[shipped], example[~shipped] = base._is_example[theirs], own.is_example[mine]
        concepts = np.empty(len(candidates), dtype=np.int64)
        concepts[shipped], concepts[~shipped] = base._name_concept[theirs], own.concept[mine] + self._base_concepts
        return keys.tolist(), short, example, concepts

    def _distinct(self, names: np.ndarray, *, counted: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Distinct names in view order (and how often each occurs), as `_sorted_distinct` gives a rebuilt index."""
        order = self._order(names)
        by_order = np.argsort(order, kind="stable")
        names, order = names[by_order], order[by_order]
        starts = np.empty(order.size, dtype=bool)
        starts[0] = True
        np.not_equal(order[1:], order[:-1], out=starts[1:])
        positions = np.flatnonzero(starts)
        return names[positions], np.diff(np.append(positions, order.size))

    def _candidates(self, key: str) -> np.ndarray:
        base, own = self._base, self._own
        limit = self._candidate_limit
        if self._count <= limit:
            everything = np.concatenate(
                [
                    np.setdiff1d(np.arange(self._base_names, dtype=np.int64), self._masked, assume_unique=True),
                    np.arange(len(own.texts), dtype=np.int64) + self._base_names,
                ]
            )
            return everything[np.argsort(self._order(everything), kind="stable")]
        codes = _trigram_codes(key)
        if codes.size == 0:
            return np.empty(0, dtype=np.int64)
        # Every query trigram's postings at once: the shipped ones without masked names, then the guild's own.
        starts, ends = base._offsets[codes], base._offsets[codes + 1]
        own_starts = np.searchsorted(own.posting_codes, codes)
        own_ends = np.searchsorted(own.posting_codes, codes + 1)
        names = base._postings[_ranges(starts, ends)].astype(np.int64)
        labels = np.repeat(np.arange(codes.size), ends - starts)
        if self._masked.size:
            kept = ~np.isin(names, self._masked)
            names, labels = names[kept], labels[kept]
        if (own_ends > own_starts).any():
            mine = own.posting_names[_ranges(own_starts, own_ends)].astype(np.int64) + self._base_names
            names = np.concatenate([names, mine])
            labels = np.concatenate([labels, np.repeat(np.arange(codes.size), own_ends - own_starts)])
        grouped = np.lexsort((self._order(names), labels))  # by trigram, then view order: a rebuilt posting list
        names, labels = names[grouped], labels[grouped]
        lengths = np.bincount(labels, minlength=codes.size)
        # Rarest trigram first until the budget is spent (the same takes as Resolver._candidates' loop).
        rarest = np.argsort(lengths, kind="stable")
        before = np.cumsum(lengths[rarest]) - lengths[rarest]
        take = np.empty(codes.size, dtype=np.int64)
        take[rarest] = np.clip(self._postings_cap - before, 0, lengths[rarest])
        first = np.cumsum(lengths) - lengths
        hits = names[np.arange(names.size) - first[labels] < take[labels]]
        if hits.size == 0:
            return np.empty(0, dtype=np.int64)
        names, counts = self._distinct(hits)
        if hits.size <= limit or names.size <= limit:
            return names
        shipped = names < self._base_names
        sizes = np.empty(len(names), dtype=np.uint16)
        sizes[shipped] = base._trigram_counts[names[shipped]]
        sizes[~shipped] = own.trigram_counts[names[~shipped] - self._base_names]
        dice = counts / (sizes.astype(np.float32) + codes.size)
        return names[np.argpartition(-dice, limit)[:limit]]


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of `arange(start, end)` for each pair."""
    lengths = ends - starts
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths - starts, lengths)


class _LayeredConcepts(Mapping[str, Concept]):
    """The view's entries in the order a rebuilt view lists them: shipped order with edits in place and hidden
    entries left out, then the guild's added entries by id."""

    def __init__(self, shipped: Mapping[str, Concept], changed: dict[str, Concept | None]) -> None:
        self._shipped = shipped
        self._changed = changed  # None: hidden
        self._added = sorted(concept_id for concept_id in changed if concept_id not in shipped)
        self._length = sum(1 for c in shipped if changed.get(c, shipped[c]) is not None) + sum(
            1 for concept_id in self._added if changed[concept_id] is not None
        )

    def __getitem__(self, concept_id: str) -> Concept:
        if concept_id in self._changed:
            concept = self._changed[concept_id]
            if concept is None:
                raise KeyError(concept_id)
            return concept
        return self._shipped[concept_id]

    def __contains__(self, concept_id: object) -> bool:
        if concept_id in self._changed:
            return self._changed[concept_id] is not None  # type: ignore[index]
        return concept_id in self._shipped

    def __iter__(self) -> Iterator[str]:
        changed = self._changed
        for concept_id in self._shipped:
            if concept_id not in changed or changed[concept_id] is not None:
                yield concept_id
        for concept_id in self._added:
            if changed[concept_id] is not None:
                yield concept_id

    def __len__(self) -> int:
        return self._length

    def own(self) -> list[Concept]:
        """The guild's own visible entries, in view order."""
        return [self[concept_id] for concept_id in self._ordered_changes() if self._changed[concept_id] is not None]

    def _ordered_changes(self) -> list[str]:
        return [c for c in self._changed if c in self._shipped] + self._added


class _Groups(Mapping[str, list[Concept]]):
    """Children or class members: the guild's recomputed groups over the shipped ones."""

    def __init__(self, own: dict[str, list[Concept]], shipped: Mapping[str, list[Concept]]) -> None:
        self._own = own
        self._shipped = shipped

    def __getitem__(self, key: str) -> list[Concept]:
        if key in self._own:
            return self._own[key]
        return self._shipped[key]

    def __iter__(self) -> Iterator[str]:
        return itertools.chain(self._own, (key for key in self._shipped if key not in self._own))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _LayeredVocabulary(Vocabulary):
    """The shipped vocabulary and the guild's own entries' words. Words of entries the guild hid or reworded
    stay known: they only steer spelling correction, and results are always filtered to the view."""

    def __init__(self, shipped: Vocabulary, own: Vocabulary) -> None:
        self._base = shipped
        self._own_words = own

    def __contains__(self, word: object) -> bool:
        return word in self._base or word in self._own_words

    def spellings(self, word: str) -> list[str]:
        key = normalise(word) or word
        forms = {*self._base._spellings.get(key, ()), *self._own_words._spellings.get(key, ())}
        return sorted(forms, key=lambda form: (len(form), form))[:MAX_SPELLINGS]

    def starts_a_word(self, prefix: str) -> bool:
        return self._base.starts_a_word(prefix) or self._own_words.starts_a_word(prefix)

    def correct(self, word: str) -> str | None:
        if len(word) < CORRECTION_MIN or not word.isalpha():
            return None
        key = normalise(word) or word
        best: tuple[float, str] | None = None
        for vocabulary in (self._base, self._own_words):
            found = process.extractOne(key, vocabulary._keys, scorer=fuzz.ratio, score_cutoff=CORRECTION_SCORE)
            if found and (best is None or (found[1], found[0]) > best):
                best = (found[1], found[0])
        return self.spellings(best[1])[0] if best else None


class LayeredGlossary(Glossary):
    """A guild's view: the shipped glossary under the guild's overlay, sharing everything it did not change."""

    def __init__(self, shipped: ShippedLayer, overlay: Overlay, *, include_hidden: bool = False) -> None:
        base = shipped.glossary
        changed: dict[str, Concept | None] = {
            concept_id: revision.concept if include_hidden or not revision.hidden else None
            for concept_id, revision in overlay.items()
        }
        self._layer = shipped
        self.concepts = _LayeredConcepts(base.concepts, changed)  # type: ignore[assignment]
        self.documents = base.documents
        own = self.concepts.own()
        self._own_concepts = own
        added_places = {concept_id: len(base.concepts) + rank for rank, concept_id in enumerate(self.concepts._added)}
        places = [shipped.place.get(concept.id, added_places.get(concept.id, 0)) for concept in own]
        self._places = places
        self._children = _Groups(self._regroup(base, changed, "parent"), base._children)  # type: ignore[assignment]
        self._classified = _Groups(self._regroup(base, changed, "classification"), base._classified)  # type: ignore[assignment]
        self._name_key_cache = {}
        self._mention_cache = {}
        self.__dict__["resolver"] = LayeredResolver(shipped, changed, own, places)

    def _regroup(self, base: Glossary, changed: dict[str, Concept | None], field: str) -> dict[str, list[Concept]]:
        """Recompute the groups (a parent's children, a class's members) that the guild's changes touch."""

        def keys_of(concept: Concept | None) -> list[str]:
            if concept is None:
                return []
            if field == "parent":
                return [concept.parent] if concept.parent else []
            return list(concept.classification.values())

        touched = {key for concept_id in changed for key in keys_of(base.concepts.get(concept_id))}
        touched |= {key for concept in changed.values() for key in keys_of(concept)}
        groups: dict[str, list[Concept]] = {}
        shipped_groups = base._children if field == "parent" else base._classified
        for key in touched:
            if field == "parent" and key not in self.concepts:
                groups[key] = []  # a rebuilt view files no children under an entry it does not have
                continue
            kept = [c for c in shipped_groups.get(key, ()) if c.id not in changed]
            mine = [c for c in changed.values() if c is not None and key in keys_of(c)]
            members = kept + mine
            members.sort(key=lambda concept: (concept.name.casefold(), self._place_of(concept.id)))
            groups[key] = members
        return groups

    def _place_of(self, concept_id: str) -> int:
        place = self._layer.place.get(concept_id)
        if place is not None:
            return place
        return len(self._layer.place) + self.concepts._added.index(concept_id)

    def children(self, concept_id: str) -> list[Concept]:
        if concept_id not in self.concepts:
            return []
        return super().children(concept_id)

    @cached_property
    def vocabulary(self) -> Vocabulary:
        own = Vocabulary(text for c in self._own_concepts for text in (c.name, *c.aliases, c.summary, c.definition))
        return _LayeredVocabulary(self._layer.glossary.vocabulary, own)
