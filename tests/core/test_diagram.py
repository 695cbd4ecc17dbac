"""The stages diagram draws every character with a real glyph (no missing-glyph boxes), on every host."""

from __future__ import annotations

from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image

from bot.cli import shipped_glossary
from bot.diagram import REGULAR, SEMIBOLD, drawable, layout, stages_diagram

PROTOCOL = "kidney-disease-immunotherapy-protocol"
CAPTION = "One clinic's description — not a clinical guideline."


def cmap(path: str) -> set[int]:
    """The code points a font file maps to glyphs, read independently of the code under test."""
    with TTFont(path) as font:
        return set(font.getBestCmap())


def shipped_inputs() -> tuple[str, list[tuple[str, str]], str]:
    glossary = shipped_glossary()
    protocol = glossary.get(PROTOCOL)
    assert protocol is not None
    stages = [(c.name, c.summary) for c in glossary.stages(PROTOCOL)]
    assert len(stages) == 5
    return protocol.name, stages, CAPTION


def test_every_drawn_character_has_a_glyph_in_its_font() -> None:
    """Each string the shipped diagram draws is checked character by character against its font's cmap."""
    labels = layout(*shipped_inputs())
    assert len(labels) == 1 + 3 * 5 + 1
    for label in labels:
        known = cmap(label.font_path)
        missing = {c for c in label.text if ord(c) not in known and c != " "}
        assert not missing, f"{label.text!r} has no glyph for {missing} in {Path(label.font_path).name}"
    assert labels[-1].text == CAPTION  # the em dash is drawn as itself, not replaced


def test_text_the_font_lacks_is_substituted_not_boxed() -> None:
    """A moderator's stage text with characters the font lacks still draws without a missing-glyph box."""
    text = "Stage Ⅳ ▯ one 🧬 ① café — “ok”"
    for path in (REGULAR, SEMIBOLD):
        result = drawable(text, path)
        known = cmap(path)
        assert all(ord(c) in known or c == " " for c in result), result
        assert "café — “ok”" in result
        assert result.startswith("Stage IV ")  # spelt out from its compatibility form, not dropped
        assert "1 café" in result


def test_diagram_is_a_png_of_the_right_size_and_deterministic(tmp_path: Path) -> None:
    """The picture is a PNG sized for five stages, and the same input gives the same bytes."""
    inputs = shipped_inputs()
    first = stages_diagram(*inputs)
    assert first == stages_diagram(*inputs)
    (tmp_path / "stages.png").write_bytes(first)
    with Image.open(tmp_path / "stages.png") as image:
        assert image.format == "PNG"
        assert image.size[0] == 900
        assert image.size[1] > 5 * 96
