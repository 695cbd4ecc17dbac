"""A PNG flow diagram of an ordered protocol's stages, drawn with Pillow."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

WIDTH = 900
BOX_HEIGHT = 96
GAP = 44
MARGIN = 36
BACKGROUND = (250, 250, 252)
BOX_FILL = (231, 240, 253)
BOX_EDGE = (52, 101, 164)
TEXT = (30, 30, 40)
MUTED = (95, 95, 110)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def stages_diagram(title: str, stages: Sequence[tuple[str, str]], caption: str) -> bytes:
    """Draw numbered stage boxes top to bottom with arrows between them; return PNG bytes.

    `stages` holds (name, one-line summary) in order. Deterministic: the same input gives the same bytes.
    """
    height = MARGIN * 2 + 60 + len(stages) * BOX_HEIGHT + max(0, len(stages) - 1) * GAP + 50
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, MARGIN), title, fill=TEXT, font=_font(30))
    top = MARGIN + 60
    for number, (name, summary) in enumerate(stages, start=1):
        box = (MARGIN, top, WIDTH - MARGIN, top + BOX_HEIGHT)
        draw.rounded_rectangle(box, radius=14, fill=BOX_FILL, outline=BOX_EDGE, width=3)
        draw.ellipse((MARGIN + 16, top + 26, MARGIN + 60, top + 70), fill=BOX_EDGE)
        draw.text((MARGIN + 38, top + 48), str(number), fill=(255, 255, 255), font=_font(24), anchor="mm")
        draw.text((MARGIN + 80, top + 14), name, fill=TEXT, font=_font(24))
        line = textwrap.shorten(summary, width=78, placeholder="…")
        draw.text((MARGIN + 80, top + 52), line, fill=MUTED, font=_font(17))
        if number < len(stages):
            middle = WIDTH // 2
            start, end = top + BOX_HEIGHT + 6, top + BOX_HEIGHT + GAP - 6
            draw.line((middle, start, middle, end - 10), fill=BOX_EDGE, width=4)
            draw.polygon([(middle - 10, end - 12), (middle + 10, end - 12), (middle, end)], fill=BOX_EDGE)
        top += BOX_HEIGHT + GAP
    draw.text((MARGIN, top - GAP + 16), caption, fill=MUTED, font=_font(16))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
