"""Resolve loosely typed text to a concept, or honestly to nothing, with ranked suggestions.

One resolver serves lookup, autocomplete, "did you mean", editing and quizzes. The cascade:
1. exact hit on a normalised name or alias (or its space-free form);
2. candidate names narrowed by a character-trigram index, rarest trigram first, with a cap on postings read;
3. rapidfuzz WRatio on those candidates only, ties broken by word-order-free ratio, prefix, then plain ratio.
Narrowing first is both faster and more accurate than WRatio over every name: it drops names whose only
link to the query is WRatio's generous partial matching.
"""

from __future__ import annotations

import ctypes
import itertools
import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.normalise import compact, normalise, question_subject

SUGGESTION_LIMIT = 25
"""Discord's autocomplete maximum, and so the most suggestions anyone asks for."""

CONFIDENT_SCORE = 80.0
"""Below this a fuzzy hit is only a suggestion."""

CONFIDENT_MARGIN = 4.0
"""A fuzzy hit must beat the next concept by this much on WRatio ..."""

CLEAR_PLAIN_MARGIN = 15.0
"""... or by this much on plain similarity (a typo of one name against partial hits inside longer ones)."""

AMBIGUITY_WINDOW = 5
"""How many leading concepts are checked for containing every word of the query (generic words)."""

SIMILAR_SCORE = 75.0
CONTAINED_SHARE = 0.45
WORD_MATCH = 85.0
"""A confident fuzzy hit must resemble the name as a whole (plain ratio), or be words of it (each within a typo)
making up this share of it: WRatio alone is satisfied by one shared word ("the") or fragment ("covid" in
"corticoid")."""

PREFIX_SCORE = 90.0
WORD_PREFIX_SCORE = 85.0
"""Scores of a short query that starts a name, or one of its words (WRatio gives a partial hit 90)."""

SHORT_NAME = 4
"""Names and queries this short (normalised) are abbreviations: compared whole, never partially."""

EXAMPLE_PENALTY = 6.0
"""Fuzzy scores of example terms (names found in entries' `examples`) are their plain similarity (a typo of the
whole term, never a fragment of it) lowered by this: an entry's own names and aliases rank above the entries it
merely gives as examples."""

EXACT_NAME, EXACT_EXAMPLE = 101.0, 100.5
"""Ranking scores of exact hits: a name or alias leads, an example term (of one entry only) next."""

SUGGESTION_FLOOR = 60.0
"""Fuzzy suggestions scoring below this are noise: junk input gets no suggestions rather than random ones."""

CANDIDATES = (80, 250)
"""Names scored with WRatio per query after trigram narrowing: more on larger indexes, where more names are
near-duplicates of each other (one per 4,000 indexed names, within these bounds)."""

POSTINGS_CAP = (4_000, 60_000)
"""Posting entries read per query, rarest trigram first (one per 12 indexed names, within these bounds):
bounds the work on huge indexes while reading enough to find a name with two typos."""

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_BASE = 38  # 0 = space, 1..36 = [a-z0-9], 37 = any other character
_TRIGRAMS = _BASE**3
_SEPARATOR = 255
_CHUNK_NAMES = 50_000

_CODES = np.full(256, _BASE - 1, dtype=np.uint8)
_CODES[ord(" ")] = 0
_CODES[ord("\n")] = _SEPARATOR
for _position, _char in enumerate(_ALPHABET, start=1):
    _CODES[ord(_char)] = _position


class _AsciiFold(dict[int, str]):
    """`str.translate` table: keep [a-z0-9 \\n], fold any other character to one placeholder."""

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        folded = char if char in _ALPHABET or char in " \n" else "~"
        self[codepoint] = folded
        return folded


_FOLD = _AsciiFold()


def _trigram_codes(key: str) -> np.ndarray:
    """Return the distinct trigram codes of one normalised key, padded with a space at each end."""
    text = f" {key} "
    if not text.isascii():
        text = text.translate(_FOLD)
    codes = _CODES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)].astype(np.int32)
    if len(codes) < 3:
        return np.empty(0, dtype=np.int32)
    return np.unique((codes[:-2] * _BASE + codes[1:-1]) * _BASE + codes[2:])


@overload
def _sorted_distinct(values: np.ndarray) -> np.ndarray: ...
@overload
def _sorted_distinct(values: np.ndarray, *, counted: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
def _sorted_distinct(values: np.ndarray, *, counted: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values (and how often each occurs) by sorting: numpy 2's hash-based `unique` is several
    times slower on these integer arrays, which made index builds at a million names miss their budget."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return (ordered, np.empty(0, dtype=np.int64)) if counted else ordered
    starts = np.empty(ordered.size, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    if not counted:
        return ordered[starts]
    positions = np.flatnonzero(starts)
    return ordered[positions], np.diff(np.append(positions, ordered.size))


def _build_postings(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build a CSR trigram index in vectorised chunks to bound memory.

    Returns offsets by trigram code, the name ids of each trigram's postings, and each name's trigram count.
    """
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    total = np.zeros(_TRIGRAMS, dtype=np.int64)
    sizes = np.zeros(len(keys), dtype=np.uint16)
    for low in range(0, len(keys), _CHUNK_NAMES):
        part = keys[low : low + _CHUNK_NAMES]
        text = "\n".join(f" {key} " for key in part)
        if not text.isascii():
            text = text.translate(_FOLD)
        codes = _CODES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        name_of = np.cumsum(codes == _SEPARATOR, dtype=np.int64)[:-2]
        first, second, third = codes[:-2], codes[1:-1], codes[2:]
        valid = (first != _SEPARATOR) & (second != _SEPARATOR) & (third != _SEPARATOR)
        trigram = (first[valid].astype(np.int64) * _BASE + second[valid]) * _BASE + third[valid]
        combined = _sorted_distinct(trigram * len(part) + name_of[valid])  # by trigram, then name
        del trigram, name_of, valid
        chunk_trigrams = (combined // len(part)).astype(np.uint16)  # 38**3 codes fit
        chunk_names = (combined % len(part) + low).astype(np.int32)
        del combined
        sizes[low : low + len(part)] = np.bincount(chunk_names - low, minlength=len(part))
        counts = np.bincount(chunk_trigrams, minlength=_TRIGRAMS)
        total += counts
        chunks.append((chunk_trigrams, chunk_names, counts))
    offsets = np.zeros(_TRIGRAMS + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    postings = np.empty(int(offsets[-1]), dtype=np.int32)
    cursor = offsets[:-1].copy()
    for chunk_trigrams, chunk_names, counts in chunks:
        local_start = np.zeros(_TRIGRAMS, dtype=np.int64)
        np.cumsum(counts[:-1], out=local_start[1:])
        rank = np.arange(len(chunk_trigrams), dtype=np.int64) - local_start[chunk_trigrams]
        postings[cursor[chunk_trigrams] + rank] = chunk_names
        cursor += counts
    return offsets, postings, sizes


def _return_freed_memory() -> None:
    """Hand the build's large temporaries back to the OS; glibc keeps them mapped otherwise."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return


def _supported(key: str, name_key: str, plain: float) -> bool:
    """Say whether a fuzzy hit is backed by real resemblance, not by WRatio's generosity alone.

    Either the whole strings are alike, or every word of the shorter one is (allowing a typo) a word of the
    longer one and makes up a good share of it: "tolerance" names "immune tolerance", but "penicillin" does not
    name "penicillin-treated Streptococcus pyogenes", nor does "covid" name "corticoid".
    """
    if plain >= SIMILAR_SCORE:
        return True
    shorter, longer = sorted((key, name_key), key=len)
    if len(shorter) < CONTAINED_SHARE * len(longer):
        return False
    longer_words = longer.split()
    return all(
        any(fuzz.ratio(word, other, score_cutoff=WORD_MATCH) for other in longer_words) for word in shorter.split()
    )


SHORT_WORD = 4
"""A typed word this short that has a letter more than a word of the name is another abbreviation, not a typo of
it (NKT is not NK, MDSC is not MSC); with a letter missing it is still a typo ("cel" for "cell")."""

TYPO_EDITS = 2
"""Edits a one-word query may be from a one-word name it is corrected to (more for long names, one per six
letters): "tacrolimis" is Tacrolimus, but "interference" is a word of its own, not a misspelt Interferon."""


def _a_typo_away(key: str, name_key: str) -> bool:
    """Say whether a one-word query is close enough to a one-word name to be a misspelling of it."""
    if " " in key or " " in name_key:
        return True
    if len(key) <= SHORT_WORD and len(key) > len(name_key) and key != name_key + "s":
        return False  # a letter added makes another abbreviation (a plural "s" does not)
    return Levenshtein.distance(key, name_key) <= max(TYPO_EDITS, len(name_key) // 6)


FILLER_WORDS = frozenset({
    "therapy", "therapies", "treatment", "treatments", "drug", "drugs", "medicine", "medication", "agent",
    "preparation", "dose", "dosing", "level", "use", "used", "for", "of", "the", "a", "an", "in", "and", "with",
    "disease", "diseases",
})  # fmt: skip
"""Words a query may add to a name without changing what it names ("tacrolimus drug", "cell vaccine therapy")."""

WORD_TYPO = 72.0
"""How alike (plain ratio) a typed word must be to a word of the name it is taken for."""


def _words_accounted_for(key: str, name_key: str) -> bool:
    """Say whether every word of the query is a word of the name (within a typo, or run together with the next
    one) or a filler word: a query that adds a word of its own names something else ("active immunity" is not
    "immunity", "kinase inhibitor" is not "cytokine inhibitor", "cancer therapy" is not "targeted cancer therapy")."""
    name_words = name_key.split()
    joined = [a + b for a, b in itertools.pairwise(name_words)] + ["".join(name_words)]
    for word in key.split():
        if word in FILLER_WORDS:
            continue
        if any(
            fuzz.ratio(word, other, score_cutoff=WORD_TYPO)
            for other in (*name_words, *joined)
            if len(word) > SHORT_WORD or len(other) >= len(word) or word == other + "s"
        ):
            continue
        return False
    return True


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A concept that fits the query: which one, under which name or alias, and how well (0–100)."""

    id: str
    name: str
    score: float
    matched: str
    example: bool = False
    """Whether `matched` is one of the entry's examples rather than one of its names."""
    exact: bool = False
    """Whether the query was `matched` itself (after normalisation), not a look-alike of it."""

    def as_dict(self) -> dict[str, object]:
        """Return the JSON form used by the command line."""
        return {"id": self.id, "name": self.name, "score": self.score, "matched": self.matched,
                "example": self.example, "exact": self.exact}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer to one query: a confident match or none, and ranked suggestions (the match first)."""

    query: str
    match: Suggestion | None
    suggestions: tuple[Suggestion, ...]
    subject: str = ""
    """What was looked up: the query, or what a question phrasing of it asks about ("what is BCG" → "BCG")."""


class _ExactKeys:
    """Exact lookup of a normalised key, or of its space-free form, in sorted hash arrays.

    A dict of both forms would cost ~250 MB at a million names; two int64 arrays cost 40 MB. Hashes are
    verified against the stored key, so a collision can never give a wrong answer.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = keys
        spaced = np.fromiter((hash(key) for key in keys), dtype=np.int64, count=len(keys))
        squeezed = np.fromiter((hash(compact(key)) for key in keys), dtype=np.int64, count=len(keys))
        self._tables = [(values[order], order.astype(np.int32)) for values in (spaced, squeezed)
                        for order in [np.argsort(values, kind="stable")]]  # fmt: skip

    def find(self, key: str) -> int | None:
        """Return the first name index whose key (or, failing that, whose compact key) equals `key`'s."""
        return next(iter(self.find_all(key)), None)

    def find_all(self, key: str) -> list[int]:
        """Return every name index whose key equals `key`'s or, when none does, whose compact key does."""
        for table_number in range(len(self._tables)):
            found = self.find_in(key, table_number)
            if found:
                return found
        return []

    def find_in(self, key: str, table_number: int) -> list[int]:
        """Return every name index whose key (table 0) or compact key (table 1) equals `key`'s, in index order."""
        hashes, names = self._tables[table_number]
        wanted = key if table_number == 0 else compact(key)
        target = hash(wanted)
        position = int(np.searchsorted(hashes, target))
        found: list[int] = []
        while position < len(hashes) and hashes[position] == target:
            name_index = int(names[position])
            stored = self._keys[name_index]
            if (stored if table_number == 0 else compact(stored)) == wanted:
                found.append(name_index)
            position += 1
        return found


@dataclass(frozen=True, slots=True)
class Mention:
    """A concept named in a text: where (character offsets), as which words, and the resolver's answer for them."""

    start: int
    end: int
    text: str
    suggestion: Suggestion


SCAN_WORDS = 6
"""Longest run of words a text scan tries as one name (names of more words are rare and still found by parts)."""

SCAN_TYPO_SCORE = 88.0
"""A run of words in a scanned text names a concept despite a typo only this close to the whole name (plain
ratio): scanning prose must not turn partial resemblances ("system" for "immune system") into mentions."""

SCAN_TYPO_MIN = 6
"""Words shorter than this (normalised, without spaces) are never typo-matched in a scan, only exactly."""

SCAN_MAX_CHARS = 6_000
"""Text scanned per call (a Discord message holds at most 4,000 characters)."""

_SCAN_WORD = re.compile(r"[^\W_]+(?:[-‐–'’.][^\W_]+)*")


def _written_as(written: str, name: str) -> bool:
    """In running text, an abbreviation counts only as written: "SIT", "ACT" and "RT" name entries, but "sit",
    "act" and "rt" are words. Longer names, and names written in lower case, match in any case."""
    if len(compact(normalise(name))) > SHORT_NAME or name.islower():
        return True
    return [char for char in written if char.isalnum()] == [char for char in name if char.isalnum()]


@dataclass(frozen=True, slots=True)
class _Ranked:
    """A suggestion with the evidence the confidence rule needs."""

    suggestion: Suggestion
    plain: float
    matched_key: str


@dataclass(frozen=True, slots=True)
class IndexedConcept:
    """What the resolver needs of a concept: its id, canonical name, every name it answers to, and the terms its
    examples name (found, marked as examples, when no entry has that name)."""

    id: str
    name: str
    names: Sequence[str]
    examples: Sequence[str] = ()


class Resolver:
    """An immutable index over concept names; build a new one when the glossary changes."""

    def __init__(self, concepts: Iterable[IndexedConcept]) -> None:
        self._concept_ids: list[str] = []
        self._concept_names: list[str] = []
        self._name_texts: list[str] = []
        self._name_keys: list[str] = []
        name_concepts: list[int] = []
        examples: list[tuple[int, str]] = []
        for concept in concepts:
            concept_index = len(self._concept_ids)
            self._concept_ids.append(concept.id)
            self._concept_names.append(concept.name)
            for text in concept.names:
                key = normalise(text)
                if not key:
                    continue
                self._name_texts.append(text)
                self._name_keys.append(key)
                name_concepts.append(concept_index)
            examples.extend((concept_index, text) for text in concept.examples)
        self._first_example = len(self._name_keys)  # names and aliases first, example terms after them
        for concept_index, text in examples:
            key = normalise(text)
            if key:
                self._name_texts.append(text)
                self._name_keys.append(key)
                name_concepts.append(concept_index)
        self._name_concept = np.asarray(name_concepts, dtype=np.int32)
        self._key_array = np.asarray(self._name_keys, dtype=object)  # fancy-indexable without a Python loop
        self._short_name = np.fromiter((len(key) <= SHORT_NAME for key in self._name_keys), dtype=bool)
        self._offsets, self._postings, self._trigram_counts = _build_postings(self._name_keys)
        count = len(self._name_keys)
        self._candidate_limit = min(CANDIDATES[1], max(CANDIDATES[0], count // 4000))
        self._postings_cap = min(POSTINGS_CAP[1], max(POSTINGS_CAP[0], count // 12))
        self._exact = _ExactKeys(self._name_keys[: self._first_example])
        self._exact_examples = _ExactKeys(self._name_keys[self._first_example :])
        self._is_example = np.arange(len(self._name_keys)) >= self._first_example
        self._browse_order = np.asarray(
            sorted(range(len(self._concept_names)), key=lambda i: self._concept_names[i].casefold()), dtype=np.int32
        )
        _return_freed_memory()
        if self._name_keys:  # the first query pays one-off set-up in rapidfuzz and numpy (~20 ms): pay it here
            self.resolve(self._name_keys[0])

    def __len__(self) -> int:
        return len(self._concept_ids)

    @property
    def name_count(self) -> int:
        """How many names and aliases are indexed."""
        return len(self._name_keys)

    # The index's contents, read through these so a layered index (bot/layered.py) can run the same algorithm.

    def _find_names(self, key: str) -> list[int]:
        """Every name index (names and aliases) whose key, or failing that whose compact key, equals `key`'s."""
        return self._exact.find_all(key)

    def _find_name(self, key: str) -> int | None:
        """The first of `_find_names`."""
        return self._exact.find(key)

    def _find_examples(self, key: str) -> list[int]:
        """Every name index of an example term whose key (or compact key) equals `key`'s."""
        return [self._first_example + i for i in self._exact_examples.find_all(key)]

    def _concept_of(self, name_index: int) -> int:
        return int(self._name_concept[name_index])

    def _concept_id(self, concept_index: int) -> str:
        return self._concept_ids[concept_index]

    def _concept_name(self, concept_index: int) -> str:
        return self._concept_names[concept_index]

    def _name_text(self, name_index: int) -> str:
        return self._name_texts[name_index]

    def _is_example_name(self, name_index: int) -> bool:
        return name_index >= self._first_example

    def _browse(self) -> Iterable[int]:
        """Concept indexes in alphabetical order of their names."""
        return (int(i) for i in self._browse_order)

    def _gather(self, candidates: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The candidates' keys, whether each is a short name, whether each is an example term, and their concepts."""
        return (
            self._key_array[candidates].tolist(),
            self._short_name[candidates],
            self._is_example[candidates],
            self._name_concept[candidates],
        )

    def resolve(self, query: str, limit: int = SUGGESTION_LIMIT, *, within: Container[str] | None = None) -> Resolution:
        """Resolve `query` to a concept when the evidence is clear; always return ranked suggestions.

        A question ("what is BCG?", "tell me about tacrolimus") is resolved as what it asks about, unless the
        whole text is a name. A term found only among entries' examples answers when one entry gives it (the
        suggestion says `example`); an example several entries give is only a suggestion for each of them.
        `within` limits the answer to some concepts (a command that takes only stages or categories):
        the same ranking, with the others left out before deciding whether the leader is clear.
        """
        subject = query
        key = normalise(query)
        exact = self._find_name(key) if key else None
        if exact is None:
            subject = question_subject(query)
            if subject != query:
                key = normalise(subject)
                exact = self._find_name(key) if key else None
        if not key:
            return Resolution(query, None, (), subject)
        examples: list[int] = []
        if exact is None:
            examples = self._find_examples(key)
        wanted = max(limit, AMBIGUITY_WINDOW)
        ranked = self._rank(key, SUGGESTION_LIMIT * 4 if within is not None else wanted, exact, examples)
        if within is not None:
            if exact is not None and self._concept_id(self._concept_of(exact)) not in within:
                exact = None
            examples = [i for i in examples if self._concept_id(self._concept_of(i)) in within]
            ranked = [item for item in ranked if item.suggestion.id in within]
        example_concepts = {self._concept_of(i) for i in examples}
        match = None
        if ranked and (
            exact is not None or len(example_concepts) == 1 or (not examples and self._clear_winner(key, ranked))
        ):
            match = ranked[0].suggestion
        return Resolution(query, match, tuple(item.suggestion for item in ranked[:limit]), subject)

    @staticmethod
    def _clear_winner(key: str, ranked: list[_Ranked]) -> bool:
        """Say whether the fuzzy leader is clearly the concept meant, rather than one of several that fit."""
        top = ranked[0]
        if top.suggestion.score < CONFIDENT_SCORE or not _supported(key, top.matched_key, top.plain):
            return False
        if not _words_accounted_for(key, top.matched_key):
            return False
        if not _a_typo_away(key, top.matched_key):
            return False
        words = set(key.split())
        sharing = sum(1 for item in ranked[:AMBIGUITY_WINDOW] if words <= set(item.matched_key.split()))
        if sharing >= 2:  # a word several entries contain ("vaccine", "therapy") names none of them
            return False
        similar = top.plain >= CONFIDENT_SCORE
        if len(compact(key)) <= SHORT_NAME and not similar:  # a typed prefix is a start, not an answer
            return False
        if len(ranked) == 1:
            return True
        runner_up = ranked[1]
        return top.suggestion.score - runner_up.suggestion.score >= CONFIDENT_MARGIN or (
            similar and top.plain - runner_up.plain >= CLEAR_PLAIN_MARGIN
        )

    def suggest(
        self, query: str, limit: int = SUGGESTION_LIMIT, *, within: Container[str] | None = None
    ) -> tuple[Suggestion, ...]:
        """Return ranked suggestions for autocomplete; an empty query lists concepts alphabetically."""
        if not normalise(query):
            browse = (i for i in self._browse() if within is None or self._concept_id(i) in within)
            chosen = list(itertools.islice(browse, limit))
            return tuple(
                Suggestion(self._concept_id(i), self._concept_name(i), 0.0, self._concept_name(i)) for i in chosen
            )
        return self.resolve(query, limit, within=within).suggestions

    def scan(self, text: str, *, typos: bool = True) -> list[Mention]:
        """Find the concepts a text names, left to right, longest name first: exact names and aliases, example
        terms that only one entry gives, then (with `typos`) among the words left, one or two words within a typo
        of a whole name.

        Uses the same normalisation and index as `resolve`, so a text mentions what a lookup of those words finds.
        """
        text = text[:SCAN_MAX_CHARS]
        words = [(found.start(), found.end(), normalise(found.group())) for found in _SCAN_WORD.finditer(text)]
        found: dict[int, tuple[Mention, int]] = {}
        position = 0
        while position < len(words):
            hit = self._exact_at(text, words, position)
            if hit is None:
                position += 1
                continue
            found[position] = hit
            position += hit[1]
        if typos:
            taken = {p + offset for p, (_, used) in found.items() for offset in range(used)}
            cache: dict[str, Suggestion | None] = {}
            position = 0
            while position < len(words):
                hit = None if position in taken else self._typo_at(text, words, position, taken, cache)
                if hit is not None:
                    found[position] = hit
                    position += hit[1]
                else:
                    position += 1
        return [mention for _, (mention, _) in sorted(found.items())]

    def _exact_at(self, text: str, words: list[tuple[int, int, str]], position: int) -> tuple[Mention, int] | None:
        """The longest run of words from `position` that is a name, an alias or one entry's example term."""
        for size in range(min(SCAN_WORDS, len(words) - position), 0, -1):
            run = words[position : position + size]
            key = " ".join(word for _, _, word in run if word)
            if not key:
                continue
            start, end = run[0][0], run[-1][1]
            written = text[start:end]
            names = [i for i in self._find_names(key) if _written_as(written, self._name_text(i))]
            index = names[0] if names else None
            if index is None:
                examples = self._find_examples(key)
                examples = [i for i in examples if _written_as(written, self._name_text(i))]
                if examples and len({self._concept_of(i) for i in examples}) == 1:
                    index = examples[0]
            if index is not None:
                return Mention(start, end, written, self._suggestion(index, 100.0, exact=True)), size
        return None

    def _typo_at(
        self,
        text: str,
        words: list[tuple[int, int, str]],
        position: int,
        taken: set[int],
        cache: dict[str, Suggestion | None],
    ) -> tuple[Mention, int] | None:
        """One or two words from `position` (within a sentence, not already a mention) close to a whole name."""
        for size in (2, 1):
            run = words[position : position + size]
            if len(run) < size or any(position + offset in taken for offset in range(size)):
                continue
            if size == 2 and re.search(r"[.;:!?,()]", text[run[0][1] : run[1][0]]):
                continue
            key = " ".join(word for _, _, word in run if word)
            if len(compact(key)) < SCAN_TYPO_MIN or not compact(key).isalpha():
                continue
            if key not in cache:
                match = self.resolve(key, AMBIGUITY_WINDOW).match
                close = match is not None and not match.example
                cache[key] = match if close and fuzz.ratio(key, normalise(match.matched)) >= SCAN_TYPO_SCORE else None
            match = cache[key]
            if match is not None:
                start, end = run[0][0], run[-1][1]
                return Mention(start, end, text[start:end], match), size
        return None

    def _suggestion(self, name_index: int, score: float, *, exact: bool) -> Suggestion:
        concept_index = self._concept_of(name_index)
        return Suggestion(
            self._concept_id(concept_index),
            self._concept_name(concept_index),
            score,
            self._name_text(name_index),
            example=self._is_example_name(name_index),
            exact=exact,
        )

    def _candidates(self, key: str) -> np.ndarray:
        """Return the name indexes worth scoring: all of them for a small index, else the trigram-narrowed few."""
        limit = self._candidate_limit
        if len(self._name_keys) <= limit:
            return np.arange(len(self._name_keys), dtype=np.int32)
        codes = _trigram_codes(key)
        if codes.size == 0:
            return np.empty(0, dtype=np.int32)
        starts, ends = self._offsets[codes], self._offsets[codes + 1]
        lengths = ends - starts
        slices: list[np.ndarray] = []
        budget = self._postings_cap
        for position in np.argsort(lengths, kind="stable"):
            if lengths[position] == 0:
                continue
            if budget <= 0:
                break
            take = min(int(lengths[position]), budget)
            slices.append(self._postings[starts[position] : starts[position] + take])
            budget -= take
        if not slices:
            return np.empty(0, dtype=np.int32)
        hits = np.concatenate(slices)
        if hits.size <= limit:
            return _sorted_distinct(hits)
        names, counts = _sorted_distinct(hits, counted=True)
        if names.size <= limit:
            return names
        # Dice overlap, so long names sharing many trigrams by chance do not crowd out the close short ones.
        dice = counts / (self._trigram_counts[names].astype(np.float32) + codes.size)
        return names[np.argpartition(-dice, limit)[:limit]]

    def _rank(self, key: str, limit: int, exact: int | None, examples: Sequence[int] = ()) -> list[_Ranked]:
        """Score candidates and return the best name of each of the top `limit` concepts, best first."""
        candidates = self._candidates(key)
        hits = [index for index in (exact, *examples) if index is not None]
        missing = [index for index in hits if not (candidates == index).any()]
        if missing:
            candidates = np.append(candidates, np.asarray(missing, dtype=np.int32))
        if candidates.size == 0:
            return []
        keys, short, is_example, concepts = self._gather(candidates)
        weighted = process.cdist([key], keys, scorer=fuzz.WRatio, dtype=np.float32)[0]
        word_order_free = process.cdist([key], keys, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]
        plain = process.cdist([key], keys, scorer=fuzz.ratio, dtype=np.float32)[0]
        prefix = np.fromiter((candidate.startswith(key) for candidate in keys), dtype=bool, count=len(keys))
        # Abbreviations match only as wholes: WRatio's partial matching finds "ic" in "mechanics", "and" in
        # "Sandimmune". So a short name, or a short query, is compared as a whole string; a short query may
        # still be the start of a name or of one of its words, as people type it into autocomplete.
        if len(compact(key)) <= SHORT_NAME:
            word_prefix = np.fromiter((f" {key}" in f" {c}" for c in keys), dtype=bool, count=len(keys))
            weighted = np.maximum(plain, np.maximum(prefix * PREFIX_SCORE, word_prefix * WORD_PREFIX_SCORE))
        else:
            weighted[short] = plain[short]
        if is_example.any():
            weighted[is_example] = np.minimum(weighted, plain)[is_example] - EXAMPLE_PENALTY  # whole terms only
        if exact is not None:
            weighted[candidates == exact] = EXACT_NAME  # the exact hit leads whatever WRatio thinks
        exact_examples = np.zeros(len(candidates), dtype=bool)
        for index in examples:
            exact_examples |= candidates == index
        weighted[exact_examples] = EXACT_EXAMPLE
        order = np.lexsort((-plain, ~prefix, is_example, -word_order_free, -weighted))
        ranked: list[_Ranked] = []
        seen: set[int] = set()
        for position in order:
            name_index = int(candidates[position])
            concept_index = int(concepts[position])
            if concept_index in seen:
                continue
            seen.add(concept_index)
            score = min(100.0, round(float(weighted[position]), 1))
            if score < SUGGESTION_FLOOR:
                break
            suggestion = Suggestion(
                self._concept_id(concept_index),
                self._concept_name(concept_index),
                score,
                self._name_text(name_index),
                example=bool(is_example[position]),
                exact=name_index == exact or bool(exact_examples[position]),
            )
            ranked.append(_Ranked(suggestion, float(plain[position]), keys[position]))
            if len(ranked) >= limit:
                break
        return ranked
