"""Discord message markup as a person reads it in a terminal (the offline console).

Mentions become names, timestamps become dates, emphasis becomes terminal bold/italic/strike (or is dropped
when the output is not a terminal), backslash escapes are removed, and code blocks are kept exactly as
written: text a person typed is never re-wrapped or re-interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

BOLD, ITALIC, UNDERLINE, STRIKE = (
    ("\x1b[1m", "\x1b[22m"),
    ("\x1b[3m", "\x1b[23m"),
    ("\x1b[4m", "\x1b[24m"),
    (
        "\x1b[9m",
        "\x1b[29m",
    ),
)
_ESCAPABLE = r"\\`*_~|>#\-\[\]()<:.!+="
_ESCAPE = re.compile(rf"\\([{_ESCAPABLE}])")
_PROTECT_BASE = 0xF0000  # a private-use plane: escaped characters wait there while emphasis is read
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_EMPHASIS = (
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL), BOLD, ("", "")),
    (re.compile(r"__(?=\S)(.+?)(?<=\S)__", re.DOTALL), UNDERLINE, ("", "")),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.DOTALL), STRIKE, ("[-", "-]")),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", re.DOTALL), ITALIC, ("", "")),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", re.DOTALL), ITALIC, ("", "")),
    (re.compile(r"\|\|(.+?)\|\|", re.DOTALL), ("", ""), ("", "")),
)
"""Each Discord emphasis: its pattern, its terminal style, and how plain text shows it (struck words, which
mark what was removed in an entry's history, stay visible as [-words-]; the rest is simply dropped)."""
_MASKED_LINK = re.compile(r"\[([^\]\n]+)\]\(<?(https?://[^)\s>]+)>?\)")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_COMMAND = re.compile(r"</([\w -]+):\d+>")
_EMOJI = re.compile(r"<a?(:\w+:)\d+>")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFsSR]))?>")


@dataclass(frozen=True)
class Names:
    """How to name what mentions point at: each returns None when it does not know the id."""

    user: Callable[[int], str | None]
    role: Callable[[int], str | None]
    channel: Callable[[int], str | None]


def _protect(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(_PROTECT_BASE + ord(m.group(1))), text)


def _restore(text: str) -> str:
    return "".join(chr(ord(c) - _PROTECT_BASE) if ord(c) >= _PROTECT_BASE else c for c in text)


def relative_time(when: datetime, now: datetime) -> str:
    """ "in 5 s", "3 min ago", as Discord's relative timestamps read."""
    seconds = round((when - now).total_seconds())
    size = abs(seconds)
    if size < 120:
        amount = f"{size} s"
    elif size < 7200:
        amount = f"{round(size / 60)} min"
    elif size < 172_800:
        amount = f"{round(size / 3600)} hours"
    else:
        amount = f"{round(size / 86400)} days"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


def _timestamp(match: re.Match[str], now: datetime) -> str:
    when = datetime.fromtimestamp(int(match.group(1)), UTC)
    style = match.group(2) or "f"
    if style == "R":
        return relative_time(when, now)
    formats = {"t": "%H:%M", "T": "%H:%M:%S", "d": "%d/%m/%Y", "D": "%d %B %Y", "s": "%d/%m/%Y %H:%M",
               "S": "%d/%m/%Y %H:%M:%S", "f": "%d %B %Y %H:%M", "F": "%A %d %B %Y %H:%M"}  # fmt: skip
    return f"{when.strftime(formats[style])} UTC"


def inline(text: str, names: Names, *, ansi: bool, now: datetime | None = None) -> str:
    """Render one stretch of markup (no code blocks): mentions, timestamps, links, emphasis, escapes."""
    moment = now or datetime.now(UTC)
    text = _protect(text)
    spans: list[str] = []

    def keep_code(match: re.Match[str]) -> str:  # inline code is shown as written, without its backticks
        spans.append(_restore(match.group(2)))
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE_SPAN.sub(keep_code, text)
    text = _USER.sub(lambda m: "@" + (names.user(int(m.group(1))) or "unknown-user"), text)
    text = _ROLE.sub(lambda m: "@" + (names.role(int(m.group(1))) or "deleted-role"), text)
    text = _CHANNEL.sub(lambda m: "#" + (names.channel(int(m.group(1))) or "unknown-channel"), text)
    text = _COMMAND.sub(r"/\1", text)
    text = _EMOJI.sub(r"\1", text)
    text = _TIMESTAMP.sub(lambda m: _timestamp(m, moment), text)
    text = _MASKED_LINK.sub(r"\1 (\2)", text)
    text = re.sub(r"(?m)^-# ", "", text)  # Discord's small "subtext" lines
    text = re.sub(r"(?m)^#{1,3} ", "", text)  # headings: the line is shown as it is
    for pattern, style, plain in _EMPHASIS:
        opening, closing = style if ansi else plain
        text = pattern.sub(lambda m, o=opening, c=closing: f"{o}{m.group(1)}{c}", text)
    text = _restore(text)
    return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], text)


def blocks(text: str) -> Iterator[tuple[bool, str]]:
    """Split a message into (is_code, text) pieces: fenced code blocks are kept verbatim."""
    position = 0
    for match in re.finditer(r"```(?:[\w+-]*\n)?(.*?)```", text, re.DOTALL):
        if match.start() > position:
            yield False, text[position : match.start()]
        yield True, match.group(1).removesuffix("\n")
        position = match.end()
    if position < len(text):
        yield False, text[position:]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def visible_length(text: str) -> int:
    """Columns a line takes on a terminal (style codes take none)."""
    return len(_ANSI.sub("", text))


def wrap(line: str, width: int, indent: str = "") -> list[str]:
    """Break a line at spaces so each piece fits `width` columns, counting only what is visible (textwrap
    would count style codes as text), keeping the line's own leading spaces."""
    body = line.lstrip(" ")
    lead = indent + " " * (len(line) - len(body))
    lines: list[str] = []
    current = ""
    for word in body.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and visible_length(lead + candidate) > width:
            lines.append((lead + current).rstrip())
            current = word
        else:
            current = candidate
    lines.append((lead + current).rstrip())
    return lines


def layout(text: str, names: Names, *, ansi: bool, width: int, indent: str = "") -> list[str]:
    """The lines a terminal shows for a message or embed text: prose rendered and wrapped at `width`, code
    blocks (where the bot hands back what a person typed) exactly as written, behind a bar."""
    lines: list[str] = []
    for is_code, piece in blocks(text):
        if is_code:
            lines.extend(f"{indent}▏ {line}".rstrip() for line in piece.split("\n"))
            continue
        piece = piece.removeprefix("\n").removesuffix("\n") if lines else piece.removesuffix("\n")
        for line in inline(piece, names, ansi=ansi).split("\n"):
            lines.extend(wrap(line, width, indent))
    return lines
