"""Markers for the little emphasis core text carries (a bold name in a quiz question, a quoted summary).

Core text mixes fixed wording with what moderators wrote. Marking emphasis with control characters, which
validation strips from every entry, lets the one renderer (`cogs._render.marked`) escape all of the text first
and only then turn the markers into Discord markdown, so nothing a moderator types can restyle a message.
"""

from __future__ import annotations

EMPHASIS_START = "\x02"
EMPHASIS_END = "\x03"
QUOTE = "\x1e"
"""At the start of a line: the line is a quotation."""


def emphasis(text: str) -> str:
    """Mark text to be shown bold."""
    return f"{EMPHASIS_START}{text}{EMPHASIS_END}"


def quotation(text: str) -> str:
    """Mark a line as a quotation."""
    return f"{QUOTE}{text}"


def unmarked(text: str) -> str:
    """The text without markers (for places that show no markdown: buttons, menus, footers)."""
    return text.replace(EMPHASIS_START, "").replace(EMPHASIS_END, "").replace(QUOTE, "")
