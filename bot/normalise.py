"""Normalisation of names and queries: the one place that decides when two spellings are "the same".

Both sides of every comparison (a stored name or alias, and what a person typed) go through `normalise`,
so rules only need to be consistent, not linguistically perfect: an over-eager British→American rule
maps both sides the same way.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources

MAX_QUERY_CHARS = 120
"""Longer input is cut before matching: no glossary name is that long (names are at most 100 characters),
and it bounds the work per query."""

GREEK_LETTERS = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda"}

# Ordered (pattern, replacement) rules applied to each word: British → American, and a few word forms
# that name the same thing.
_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^haem", "hem"),  # haematopoietic, haemolytic
        (r"aem", "em"),  # leukaemia, anaemia, septicaemia
        (r"^oe", "e"),  # oestrogen, oedema, oesophagus
        (r"oet", "et"),  # foetal
        (r"paed", "ped"),  # paediatric
        (r"(?<=[a-z]{3})our$", "or"),  # tumour, behaviour, colour (not four/hour/your)
        (r"(?<=[a-z]{2})tre$", "ter"),  # centre, litre
        (r"ogue$", "og"),  # analogue, catalogue
        (r"(?<=[a-z]{3})is(e|ed|es|ing|ation|ations|er|ers)$", r"iz\1"),  # immunise, sensitisation
        (r"(?<=[a-z]{2})ys(e|ed|es|ing)$", r"yz\1"),  # analyse, dialyse
        (r"sulph", "sulf"),
        (r"ageing$", "aging"),
        (r"programme$", "program"),
        (r"^transplantation$", "transplant"),  # the noun people use for the procedure, in either form
    )
)

_NOT_PLURAL_ENDINGS = ("ss", "us", "is")


def _fold_character(char: str) -> str:
    """Map one character to its matching form: letters and digits kept, Greek spelled out, the rest a space."""
    if char in GREEK_LETTERS:
        return " " + GREEK_LETTERS[char] + " "
    category = unicodedata.category(char)
    if category.startswith(("L", "N")):
        return char
    if category == "Cf":  # zero-width joiners, BOM, soft hyphen: invisible, so they must not split words
        return ""
    return " "


def singular(word: str, *, original: str = "") -> str:
    """Reduce an English plural to its singular, leaving short all-caps abbreviations (LPS, HSCT) alone."""
    if original.isupper() and len(original) <= 5:
        return word
    if len(word) < 4 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_NOT_PLURAL_ENDINGS):
        return word[:-1]
    return word


def americanise(word: str) -> str:
    """Rewrite British spellings of a single lower-case word to American ones."""
    for pattern, replacement in _SPELLING_RULES:
        word = pattern.sub(replacement, word)
    return word


@lru_cache(maxsize=65536)
def _normal_word(word: str) -> str:
    """Normalise one word (cached: vocabularies are small even when glossaries are huge)."""
    return americanise(singular(word.casefold(), original=word))


_ASCII_PUNCTUATION = str.maketrans({char: " " for char in map(chr, range(128)) if not char.isalnum()})


def normalise(text: str) -> str:
    """Return the matching key of `text`: NFKC, no accents, case-folded, punctuation as spaces, singular, American.

    Never raises; any string (including empty, emoji-only or control characters) gives a string.
    """
    text = text[:MAX_QUERY_CHARS]
    if text.isascii():  # the common case, and the same result as the full path below
        folded = text.translate(_ASCII_PUNCTUATION)
    else:
        text = unicodedata.normalize("NFKC", text)
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
        folded = "".join(_fold_character(char) for char in text)
    return " ".join(_normal_word(word) for word in folded.split())


@lru_cache(maxsize=65536)
def skeleton(text: str) -> str:
    """Replace every non-ASCII character that looks like an ASCII letter or digit with that character.

    Unicode's confusables data (through `confusable_homoglyphs`) says which look alike: "Tacrоlimus" with a
    Cyrillic "о" becomes "Tacrolimus". ASCII text is returned unchanged, so plain names never collide by it.
    """
    if text.isascii():
        return text
    return "".join(_ascii_lookalike(char) for char in unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=4096)
def _ascii_lookalike(char: str) -> str:
    if char.isascii() or char in GREEK_LETTERS:  # Greek letters are spelled out by `normalise`: they mean something
        return char
    for homoglyph in _confusables().get(char, ()):
        candidate = homoglyph["c"]
        if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
            return candidate
    return char


@lru_cache(maxsize=1)
def _confusables() -> dict[str, list[dict[str, str]]]:
    """Unicode's confusables data, read once when first needed (only names with non-ASCII characters need it)."""
    data = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    return json.loads(data)  # type: ignore[no-any-return]


def compact(key: str) -> str:
    """Return a normalised key without spaces, so "stem cell", "stem-cell" and "stemcell" meet."""
    return key.replace(" ", "")


def lookup_keys(text: str) -> tuple[str, str]:
    """Return the exact-match keys of a name: its normalised form and its compact form."""
    key = normalise(text)
    return key, compact(key)


_QUESTION = re.compile(
    r"""^\s*(?:
        (?:what|who|which)\s*(?:'|’)?\s*(?:s|is|are|was|were|does|do)(?:\s+(?:an?|the))?(?:\s+meant\s+by)?
      | whats | define | definition(?:\s+of)? | meaning(?:\s+of)? | explain | describe
      | tell\s+me\s+(?:more\s+)?about | how\s+(?:does|do|is|are)
      | (?:please|pls)\s+(?:define|explain|describe)
    )\b[\s:,-]*(?P<subject>.+?)
    (?:\s+(?:mean|means|stand\s+for|work|works|do|does))?
    [\s?!.]*$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_QUESTION_STARTS = ("wha", "who", "whi", "def", "mea", "exp", "des", "tel", "how", "ple", "pls")
_ARTICLE = re.compile(r"^\s*(?:an?|the)\s+(?=\S)", re.IGNORECASE)


def question_subject(text: str) -> str:
    """Return what a question asks about ("what is BCG?" → "BCG", "tell me about tacrolimus" → "tacrolimus").

    Text that is not phrased as a question comes back unchanged, so callers may always look the result up;
    they look the whole text up first, so a name that happens to start like a question still wins.
    """
    if not text.lstrip()[:3].casefold().startswith(_QUESTION_STARTS):  # most queries: no regex at all
        return text
    found = _QUESTION.match(text[: MAX_QUERY_CHARS * 2])
    if found is None:
        return text
    subject = _ARTICLE.sub("", found["subject"]).strip()
    return subject or text
