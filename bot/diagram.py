"""A PNG flow diagram of an ordered protocol's stages, drawn with Pillow.

The text is set in Source Sans Pro, shipped by the `font-source-sans-pro` package, so the picture looks the
same on every host and has the glyphs the glossary uses (dashes, curly quotes, accents). Pillow's built-in
font lacks some of them and drew a missing-glyph box instead. A character the font still lacks (a moderator
may type anything) is replaced by a near equivalent or dropped, never drawn as a box.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import font_source_sans_pro
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

WIDTH = 900
BOX_HEIGHT = 96
GAP = 44
MARGIN = 36
TEXT_LEFT = MARGIN + 80
TEXT_RIGHT = WIDTH - MARGIN - 20
BACKGROUND = (250, 250, 252)
BOX_FILL = (231, 240, 253)
BOX_EDGE = (52, 101, 164)
TEXT = (30, 30, 40)
MUTED = (95, 95, 110)

REGULAR = font_source_sans_pro.font_files_ttf["SourceSansPro"]
SEMIBOLD = font_source_sans_pro.font_files_ttf["SourceSansProSemibold"]
FALLBACKS = {"▯": "", "▢": "_", "\u200b": "", "\u00ad": ""}
"""Characters some text may hold that the font lacks, and what to draw instead."""


@lru_cache(maxsize=8)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size)


@lru_cache(maxsize=4)
def font_characters(path: str) -> frozenset[int]:
    """Code points the font file has a glyph for (its character map)."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def drawable(text: str, path: str = REGULAR) -> str:
    """`text` with every character the font lacks replaced by a near equivalent (accents dropped) or removed."""
    known = font_characters(path)
    if all(ord(character) in known for character in text):
        return text
    out = []
    for character in text:
        if ord(character) in known or character in " \n":
            out.append(character)
            continue
        substitute = FALLBACKS.get(character)
        if substitute is None:
            decomposed = unicodedata.normalize("NFKD", character)
            substitute = "".join(c for c in decomposed if ord(c) in known and not unicodedata.combining(c))
        out.append(substitute)
    return "".join(out)


def _fit(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    """Cut `text` at a word so it fits `width` pixels, ending with an ellipsis when cut."""
    if font.getlength(text) <= width:
        return text
    words = text.split()
    while words and font.getlength(" ".join(words) + "…") > width:
        words.pop()
    return (" ".join(words) or text[:20]) + "…"


@dataclass(frozen=True)
class Label:
    """One string drawn on the diagram, with its font."""

    text: str
    font_path: str
    size: int


def layout(title: str, stages: Sequence[tuple[str, str]], caption: str) -> list[Label]:
    """Every string the diagram draws, in order: title, then per stage its number, name and summary, then
    the caption. The drawing uses exactly these, so a test can check each character against the font."""
    labels = [Label(_fit(drawable(title, SEMIBOLD), _font(SEMIBOLD, 30), WIDTH - 2 * MARGIN), SEMIBOLD, 30)]
    for number, (name, summary) in enumerate(stages, start=1):
        labels.append(Label(str(number), SEMIBOLD, 24))
        labels.append(Label(_fit(drawable(name, SEMIBOLD), _font(SEMIBOLD, 24), TEXT_RIGHT - TEXT_LEFT), SEMIBOLD, 24))
        line = _fit(" ".join(drawable(summary).split()), _font(REGULAR, 18), TEXT_RIGHT - TEXT_LEFT)
        labels.append(Label(line, REGULAR, 18))
    labels.append(Label(_fit(drawable(caption), _font(REGULAR, 17), WIDTH - 2 * MARGIN), REGULAR, 17))
    return labels


def stages_diagram(title: str, stages: Sequence[tuple[str, str]], caption: str) -> bytes:
    """Draw numbered stage boxes top to bottom with arrows between them; return PNG bytes.

    `stages` holds (name, one-line summary) in order. Deterministic: the same input gives the same bytes.
    """
    labels = iter(layout(title, stages, caption))

    def write(xy: tuple[float, float], fill: tuple[int, int, int], anchor: str | None = None) -> None:
        label = next(labels)
        draw.text(xy, label.text, fill=fill, font=_font(label.font_path, label.size), anchor=anchor)

    height = MARGIN * 2 + 60 + len(stages) * BOX_HEIGHT + max(0, len(stages) - 1) * GAP + 50
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    write((MARGIN, MARGIN), TEXT)
    top = MARGIN + 60
    for number in range(1, len(stages) + 1):
        box = (MARGIN, top, WIDTH - MARGIN, top + BOX_HEIGHT)
        draw.rounded_rectangle(box, radius=14, fill=BOX_FILL, outline=BOX_EDGE, width=3)
        draw.ellipse((MARGIN + 16, top + 26, MARGIN + 60, top + 70), fill=BOX_EDGE)
        write((MARGIN + 38, top + 48), (255, 255, 255), "mm")
        write((TEXT_LEFT, top + 14), TEXT)
        write((TEXT_LEFT, top + 54), MUTED)
        if number < len(stages):
            middle = WIDTH // 2
            start, end = top + BOX_HEIGHT + 6, top + BOX_HEIGHT + GAP - 6
            draw.line((middle, start, middle, end - 10), fill=BOX_EDGE, width=4)
            draw.polygon([(middle - 10, end - 12), (middle + 10, end - 12), (middle, end)], fill=BOX_EDGE)
        top += BOX_HEIGHT + GAP
    write((MARGIN, top - GAP + 16), MUTED)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
