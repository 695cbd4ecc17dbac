"""Normalisation: the spellings that must meet, and no input that can break it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalise import lookup_keys, normalise


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Immuno-Therapy", "immuno therapy"),
        ("antibodies", "antibody"),
        ("antibodys", "antibody"),
        ("tumours", "tumor"),
        ("Haematopoietic", "hematopoietic"),
        ("immunisation", "immunization"),
        ("LPS", "lps"),
        ("HSCT", "hsct"),
        ("sirolimus", "sirolimus"),
        ("diagnosis", "diagnosis"),
        ("Bacille Calmette–Guérin", "bacille calmette guerin"),
        ("Thymosin α1", "thymosin alpha 1"),
        ("ＩＭＭＵＮＯ", "immuno"),
        ("immuno\u200btherapy", "immunotherapy"),
        ("<@123> **cell**", "123 cell"),
    ],
)
def test_spelling_variants_meet(typed: str, key: str) -> None:
    """Case, width, accents, punctuation, plurals, British spellings and invisible characters fold away."""
    assert normalise(typed) == key


def test_compact_key_joins_words() -> None:
    """The space-free key lets "stem cell" and "stemcell" meet."""
    assert lookup_keys("stem-cell")[1] == lookup_keys("stemcell")[0]


@given(st.text(max_size=400))
def test_normalise_never_raises(text: str) -> None:
    """Any text gives a tidy key: single spaces between words, none at the ends."""
    key = normalise(text)
    assert key == " ".join(key.split())
