"""Full-text search queries: what people type, turned into an FTS5 expression that matches the glossary's text.

The text is compared through the resolver's normalisation (`bot.normalise`), so `tumor` finds "tumour" and
`leukaemia` finds "leukemia": each typed word becomes every spelling of it the glossary uses. A word the
glossary never uses is corrected to the nearest one it does. "Quoted phrases" and hyphenated terms (`CAR-T`,
`IL-2`) match as phrases. Only an unfinished last word (one the glossary does not use whole) is a prefix, and
never a short word, a number or a stop word, so `CAR-T` cannot light up "to" nor `IL-2` "2016".
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.db.search import SearchTerm
from bot.normalise import normalise

MAX_TERMS = 8
"""Words or phrases used from one query; the rest are ignored (and the reply shows what was searched)."""

MAX_SPELLINGS = 6
"""Spellings of one word searched for (tumor, tumour, tumors, tumours...)."""

PREFIX_MIN = 3
CORRECTION_MIN = 5
CORRECTION_SCORE = 84.0
"""How close (rapidfuzz ratio) a misspelt word must be to a glossary word to be corrected to it."""

STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to", "was", "were", "what",
    "which", "who", "with", "not", "near", "but", "if", "than", "then", "also", "about", "may", "i", "me",
})  # fmt: skip
"""Words that carry no meaning in a search: left out when the query has other words, never a prefix."""

_TOKEN = re.compile(r"[^\W_]+")
_QUERY_PART = re.compile(r'"([^"]*)"?|(\S+)')


def clean_typed(text: str) -> str:
    """A typed term for showing back: one line, without the quotes or punctuation around it."""
    return " ".join(text.split()).strip(" \"'.,;:!?()[]{}")[:60]


def tokens(text: str) -> list[str]:
    """Split text into words as the full-text index does (letters and digits; everything else separates)."""
    return _TOKEN.findall(text.casefold())


class Vocabulary:
    """Every word a glossary's text uses, grouped by its normalised form (so spellings of one word meet)."""

    def __init__(self, texts: Iterable[str]) -> None:
        spellings: dict[str, set[str]] = defaultdict(set)
        for text in texts:
            for token in tokens(text):
                spellings[normalise(token) or token].add(token)
        self._spellings = {key: sorted(forms, key=lambda form: (len(form), form)) for key, forms in spellings.items()}
        self._keys = sorted(self._spellings)
        self._surface = sorted({form for forms in self._spellings.values() for form in forms})

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and (normalise(word) or word) in self._spellings

    def spellings(self, word: str) -> list[str]:
        """The glossary's spellings of `word` (the same list for every spelling of it), or [] when it never uses it."""
        return self._spellings.get(normalise(word) or word, [])[:MAX_SPELLINGS]

    def starts_a_word(self, prefix: str) -> bool:
        """Whether some word of the glossary starts with `prefix` (an unfinished word)."""
        position = bisect_left(self._surface, prefix)
        return position < len(self._surface) and self._surface[position].startswith(prefix)

    def correct(self, word: str) -> str | None:
        """The glossary word nearest to a misspelt one, or None when nothing is close."""
        if len(word) < CORRECTION_MIN or not word.isalpha():
            return None
        key = normalise(word) or word
        found = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=CORRECTION_SCORE)
        return self._spellings[found[0]][0] if found else None


@dataclass(frozen=True)
class Term:
    """One searched word or phrase: the spellings each of its words may take, and whether the last is a prefix."""

    words: tuple[tuple[str, ...], ...]
    prefix: bool = False
    typed: str = ""
    """The term as the user wrote it (for showing what was searched); empty when a correction replaced it."""

    def shown(self) -> str:
        """How the term reads back to the user: as typed, or (after a correction) as corrected."""
        text = self.typed or " ".join(words[0] for words in self.words)
        return f'"{text}"' if len(self.words) > 1 and " " in text else text


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: its terms, the corrections made, and whether words were left out."""

    text: str
    terms: tuple[Term, ...]
    corrections: tuple[tuple[str, str], ...] = ()
    cut: bool = False
    unknown: tuple[str, ...] = field(default=())
    """Words neither the glossary nor a correction knows (searched as typed)."""

    def __bool__(self) -> bool:
        return bool(self.terms)

    def shown(self) -> str:
        """What was searched for, as the user can read it."""
        return " ".join(term.shown() for term in self.terms)


def parse_query(text: str, vocabulary: Vocabulary) -> SearchQuery:
    """Turn typed text into search terms against the glossary's vocabulary (never raises)."""
    terms: list[Term] = []
    corrections: list[tuple[str, str]] = []
    unknown: list[str] = []
    parts = list(_QUERY_PART.finditer(text[:1000]))
    meaningful = [p for p in parts if p.group(1) is not None or any(w not in STOP_WORDS for w in tokens(p.group(2)))]
    if meaningful:
        parts = meaningful
    cut = False
    for number, part in enumerate(parts):
        quoted, bare = part.group(1), part.group(2)
        words = tokens(quoted if quoted is not None else bare)
        if not words:
            continue
        if len(terms) >= MAX_TERMS:
            cut = True
            break
        if quoted is None and len(words) == 1:
            last = number == len(parts) - 1
            word = words[0]
            spellings = vocabulary.spellings(word)
            may_prefix = last and len(word) >= PREFIX_MIN and word.isalpha() and word not in STOP_WORDS
            typed = clean_typed(part.group())
            if spellings:  # a whole word: every spelling of it, the same whichever was typed
                terms.append(Term((tuple(spellings),), typed=typed))
                continue
            if may_prefix and vocabulary.starts_a_word(word):  # an unfinished last word
                terms.append(Term(((word,),), prefix=True, typed=typed))
                continue
            corrected = vocabulary.correct(word)
            if corrected is None:
                unknown.append(word)
                terms.append(Term(((word,),), typed=typed))
            else:
                corrections.append((word, corrected))
                terms.append(Term((tuple(vocabulary.spellings(corrected)),), typed=corrected))
            continue
        phrase = tuple(tuple(vocabulary.spellings(word) or [word]) for word in words[:12])
        terms.append(Term(phrase, typed=clean_typed(quoted if quoted is not None else bare)))
    return SearchQuery(text, tuple(terms), tuple(corrections), cut, tuple(unknown))


def engine_terms(query: SearchQuery) -> list[SearchTerm]:
    """The query's terms as the store searches them, in each engine's own language (`bot.db.search`)."""
    return [SearchTerm(term.words, term.prefix) for term in query.terms]
