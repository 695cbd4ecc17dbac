"""Discord markup as the offline console shows it: names for mentions, dates for timestamps, emphasis."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.terminal import BOLD, STRIKE, Names, inline, layout, visible_length

NAMES = Names(
    user={500: "you"}.get,
    role={700: "moderators"}.get,
    channel={900: "daily-concepts"}.get,
)
NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


def plain(text: str) -> str:
    return inline(text, NAMES, ansi=False, now=NOW)


def test_emphasis_and_escapes_are_dropped_in_plain_output() -> None:
    """Bold, italic, underline and spoilers read as their words; escapes lose their backslash."""
    assert plain(r"**CAR**\-**T** cells") == "CAR-T cells"
    assert plain("an *italic* and _other_ and __under__ and ||secret||") == "an italic and other and under and secret"
    assert plain(r"\*not bold\* 2 \_ 3 snake_case_name a*b*c") == "*not bold* 2 _ 3 snake_case_name a*b*c"


def test_struck_words_stay_visible_in_plain_output_and_styled_at_a_terminal() -> None:
    """History diffs strike removed words: plain output keeps them marked, a terminal strikes them."""
    assert plain("Summary number ~~3.~~ **4.**") == "Summary number [-3.-] 4."
    styled = inline("~~old~~ **new**", NAMES, ansi=True, now=NOW)
    assert styled == f"{STRIKE[0]}old{STRIKE[1]} {BOLD[0]}new{BOLD[1]}"


def test_mentions_and_timestamps_read_as_names_and_dates() -> None:
    """User, role, channel and command mentions become names; timestamps dates or relative times."""
    assert (
        plain("by <@500> and <@!500>, role <@&700>, in <#900>")
        == "by @you and @you, role @moderators, in #daily-concepts"
    )
    assert plain("<@1> <@&2> <#3>") == "@unknown-user @deleted-role #unknown-channel"
    assert plain("use </quiz start:123>") == "use /quiz start"
    moment = int(NOW.timestamp())
    assert plain(f"<t:{moment + 5}:R>") == "in 5 s"
    assert plain(f"<t:{moment - 600}:R>") == "10 min ago"
    assert plain(f"<t:{moment}:F>") == "Sunday 29 March 2026 12:00 UTC"
    assert plain(f"<t:{moment}>") == "29 March 2026 12:00 UTC"


def test_code_is_shown_exactly_as_written() -> None:
    """Inline code and code blocks (where the bot hands back typed text) are not interpreted or re-wrapped."""
    assert plain("type `**x**` here") == "type **x** here"
    long_line = "word " * 40
    lines = layout(f"Refused.\n```\n{long_line}\n  **kept**\n```\nAfter.", NAMES, ansi=False, width=60)
    assert lines == ["Refused.", f"▏ {long_line}".rstrip(), "▏   **kept**", "After."]


def test_wrapping_counts_only_visible_characters() -> None:
    """Styled text wraps at the same columns as plain text."""
    text = " ".join(["**CAR**\\-**T**"] * 30)
    styled = layout(text, NAMES, ansi=True, width=50, indent="│ ")
    unstyled = layout(text, NAMES, ansi=False, width=50, indent="│ ")
    assert [visible_length(line) for line in styled] == [len(line) for line in unstyled]
    assert all(len(line) <= 50 for line in unstyled)
