"""Hostile files and inputs against the real bot on the stand-in: each is refused with a clear private reply, in
time, and nothing is written or changed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc
import yaml
from aiohttp import web

from bot.clock import ManualClock
from bot.editing import MAX_ADDED_ENTRIES
from bot.models import EDITORIAL, Concept, Source
from bot.overlay import Action, Draft
from bot.store import STORAGE_BUSY, STORAGE_FULL
from standin import StandIn, Upload
from tests.e2e.conftest import Server
from tests.e2e.test_moderation import form_values, summary_seen

ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
concepts:
  - id: *g
"""
ENTRY = "{id: our-entry, name: Our entry, summary: S., definition: D., source: {document: editorial, editorial: E.}}"


@pytest.fixture
async def discord_() -> AsyncIterator[StandIn]:
    """A stand-in that delivers /concept from anyone (as a server may allow), so the bot's own checks refuse."""
    async with StandIn(enforce_command_permissions=False) as standin:
        yield standin


async def import_reply(discord_: StandIn, server: Server, filename: str, content: bytes, **upload: object) -> str:
    """Run /concept import with a file and return the private reply's text."""
    result = await discord_.slash(
        server.guild, server.moderator, "concept import", file=Upload(filename, content, **upload)
    )
    response = await result.wait_response()
    assert response.ephemeral or response.type == 5
    return response.content if response.type == 4 else (await result.wait_followup(within=15)).content


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (ALIAS_BOMB.encode(), "anchors and aliases are not allowed"),
        (b"concepts:\n" + b"- {}\n" * 199_000, "a list has more than 500 items"),
        (b"concepts: [" + b"{}," * 333_000 + b"{}]", "a list has more than 500 items"),
        (b"concepts:\n  - " + b"[" * 60 + b"]" * 60 + b"\n", "nested deeper than 12 levels"),
        (f"concepts:\n  - {ENTRY[:-1]}, name: Second name}}\n".encode(), "the key 'name' appears twice"),
    ],
    ids=["alias-bomb", "many-entries", "many-entries-flow", "deep-nesting", "duplicate-key"],
)
async def test_hostile_yaml_is_refused_quickly_with_the_reason(
    discord_: StandIn, server: Server, bot, content: bytes, expected: str
) -> None:
    """Alias bombs, floods of empty entries, deep nesting and repeated keys: one reply saying why, in seconds,
    while other servers keep being answered; nothing written."""
    before = await bot.store.table_counts()
    other = discord_.add_guild("Other group")
    reader = discord_.add_member(other, "bob")
    started = time.monotonic()
    importing = asyncio.ensure_future(import_reply(discord_, server, "hostile.yaml", content))
    answered = await discord_.slash(other, reader, "define", term="tacrolimus", within=3)
    assert answered.response.embeds[0]["title"] == "Tacrolimus"
    message = await importing
    assert time.monotonic() - started < 8
    assert "Nothing was imported" in message
    assert expected in message
    assert await bot.store.table_counts() == before


async def test_import_reports_every_problem_at_once_shape_first(discord_: StandIn, server: Server, bot) -> None:
    """A file with source documents, an unknown key and two bad entries: all of it in one reply, the file's shape
    first; an entry's reference to an entry that is itself broken is not reported twice."""
    before = await bot.store.table_counts()
    text = (
        "documents:\n  - {id: x, title: X}\n"
        "extra: 1\n"
        "concepts:\n"
        "  - {id: first-one, name: First one, summary: '', definition: D., source: {document: editorial, editorial: E.}}\n"
        "  - {id: second-one, name: Tacrolimus, summary: S., definition: D., related: [first-one, nowhere],"
        " source: {document: editorial, editorial: E.}}\n"
    )
    message = await import_reply(discord_, server, "week4.yaml", text.encode())
    lines = message.splitlines()
    assert lines[0] == "Nothing was imported."
    assert "field 'extra': unknown top-level key" in lines[1]
    assert "field 'documents': an import holds only 'concepts'" in lines[2]
    body = "\n".join(lines[3:])
    assert "entry 'first-one': field 'summary'" in body
    assert "'Tacrolimus' is already a name of “Tacrolimus” (entry 'tacrolimus')" in body
    assert "unknown id 'nowhere'" in body
    assert "unknown id 'first-one'" not in body
    assert "file" not in body  # the documents' own fields are not checked: they are refused as a whole
    assert await bot.store.table_counts() == before


async def test_import_downloads_only_from_discords_hosts(discord_: StandIn, server: Server, bot) -> None:
    """A payload naming any other URL is refused without fetching it."""
    fetched: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        fetched.append(request.path)
        return web.Response(text=f"concepts:\n  - {ENTRY}\n")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        for url in (f"http://127.0.0.1:{port}/good.yaml", "http://cdn.discordapp.com/x.yaml", "file:///etc/passwd"):
            message = await import_reply(discord_, server, "good.yaml", f"concepts:\n  - {ENTRY}\n".encode(), url=url)
            assert message == "good.yaml does not come from Discord's file servers. Nothing was imported.", url
    finally:
        await runner.cleanup()
    assert fetched == []
    assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]


async def test_import_size_is_capped_while_streaming(discord_: StandIn, server: Server, bot) -> None:
    """A file that claims to be small but is not is refused once 1 MB has streamed in."""
    big = f"concepts:\n  - {ENTRY}\n".encode() + b"#" * 1_200_000
    message = await import_reply(discord_, server, "small.yaml", big, declared_size=100)
    assert message == "small.yaml is larger than 1000 kB. Nothing was imported."
    assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]


@pytest.fixture
async def full_server(server: Server, bot) -> Server:
    """A server that has already added the most entries a server may add."""
    editor = bot.get_cog("Moderation").editor
    source = Source(document=EDITORIAL, editorial="Added for the test.")
    drafts = [
        Draft(Concept(id=f"ours-{i}", name=f"Our entry {i}", summary="S.", definition="D.", source=source),
              False, Action.ADD, 0)
        for i in range(MAX_ADDED_ENTRIES)
    ]  # fmt: skip
    saved = await editor.repository.append(server.guild.id, drafts, author_id=1, reason=None, at=datetime.now(UTC))
    editor.catalog.apply(server.guild.id, saved)
    return server


async def test_added_entries_are_capped_per_server(discord_: StandIn, full_server: Server, bot) -> None:
    """At 1,000 added entries a new one is refused clearly (form and import), edits still work, and another
    server is not affected."""
    server = full_server
    before = await bot.store.table_counts()
    opened = await discord_.slash(server.guild, server.moderator, "concept add")
    values = {**form_values(opened), "name": "One too many", "summary": "S.", "definition": "D."}
    refused = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], values)
    content = refused.response.content if refused.response.type == 4 else (await refused.wait_followup()).content
    assert "This server has added 1,000 entries of its own, the most a server may add" in content
    assert "Nothing was saved" in content
    message = await import_reply(discord_, server, "more.yaml", f"concepts:\n  - {ENTRY}\n".encode())
    assert "it adds 1 entries, and this server has 1000 of its own: a server may add at most 1,000" in message
    assert await bot.store.table_counts() == before
    entry = yaml.safe_dump({"concepts": [{"id": "ours-7", "name": "Our entry 7", "summary": "Changed.",
                                          "definition": "D.", "source": {"document": "editorial",
                                                                         "editorial": "E."}}]})  # fmt: skip
    changed = await import_reply(discord_, server, "edit.yaml", entry.encode())
    assert "Changed (1): “Our entry 7”" in changed
    assert await summary_seen(discord_, server.guild, server.member, "our entry 7") == "Changed."
    other = discord_.add_guild("Other group")
    mod = discord_.add_member(other, "othermod", permissions=0x20)
    elsewhere = await discord_.slash(
        other, mod, "concept import", file=Upload("ours.yaml", f"concepts:\n  - {ENTRY}\n".encode())
    )
    assert "Added (1): “Our entry”" in (await elsewhere.wait_followup()).content


async def test_concept_autocomplete_reveals_nothing_to_members(discord_: StandIn, server: Server, bot) -> None:
    """A member who can see /concept (a server may allow it) gets no hidden names, aliases or revision reasons
    from autocomplete; a moderator gets them."""
    await (
        await discord_.slash(server.guild, server.moderator, "concept hide", term="bcg", reason="secret reason")
    ).answer()
    cases = [
        ("concept unhide", "term", {"term": "bc"}),
        ("concept edit", "term", {"term": "bcg"}),
        ("concept history", "term", {"term": "bac"}),
        ("concept alias remove", "alias", {"term": "bcg", "alias": ""}),
        ("concept revert", "revision", {"term": "bcg", "revision": ""}),
        ("concept hide", "term", {"term": "tacro"}),
    ]
    for command, focused, options in cases:
        moderator = await discord_.autocomplete(
            server.guild, server.moderator, command, focused=focused, options=options
        )
        assert moderator.response.choices, command
        member = await discord_.autocomplete(server.guild, server.member, command, focused=focused, options=options)
        assert member.response.choices == [], command
    reasons = await discord_.autocomplete(
        server.guild, server.moderator, "concept revert", focused="revision", term="bcg", revision=""
    )
    assert any("secret reason" in choice["name"] for choice in reasons.response.choices)


async def test_autocomplete_work_is_bounded(discord_: StandIn, server: Server, bot) -> None:
    """A 6,000-character time zone and an entry with 3,000 revisions: each keystroke is answered at once, with
    the newest revisions first and the typed number honoured."""
    zone = await discord_.autocomplete(
        server.guild, server.moderator, "daily set", focused="timezone", timezone="Europe/" + "x" * 6000, within=3
    )
    assert len(zone.response.choices) <= 25
    editor = bot.get_cog("Moderation").editor
    shipped = editor.catalog.shipped.concepts["bcg"]
    at = datetime.now(UTC)
    drafts = [Draft(shipped, i % 2 == 0, Action.HIDE, i) for i in range(3000)]  # each based on the one before
    saved = await editor.repository.append(server.guild.id, drafts, author_id=1, reason="r", at=at)
    editor.catalog.apply(server.guild.id, saved[-1:])
    newest = await discord_.autocomplete(
        server.guild, server.moderator, "concept revert", focused="revision", term="bcg", revision="", within=3
    )
    typed = await discord_.autocomplete(
        server.guild, server.moderator, "concept revert", focused="revision", term="bcg", revision="29", within=3
    )
    assert [choice["value"] for choice in newest.response.choices][:3] == [3000, 2999, 2998]
    values = [choice["value"] for choice in typed.response.choices]
    assert values
    assert all(str(value).startswith("29") for value in values)
    assert values[0] == 2999
    history = await discord_.slash(server.guild, server.moderator, "concept history", term="bcg", within=3)
    assert "3000 revision(s)" in history.response.embeds[0]["description"]


# --- what moderators type, shown safely everywhere ---------------------------------------------------------------

IMMUNOSUPPRESSANTS = ("azathioprine", "cyclophosphamide", "cyclosporine", "glucocorticoid", "mycophenolate-mofetil",
                      "sirolimus", "tacrolimus")  # fmt: skip
LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(")
"""A masked link Discord would render (its bracket not escaped)."""


def no_live_markup(text: str) -> None:
    """No clickable masked link and no moderator-written bold survive in rendered text."""
    assert not LIVE_LINK.search(text), text
    assert "**loud**" not in text, text


async def test_moderator_text_is_escaped_on_every_surface(discord_: StandIn, server: Server, start_bot) -> None:
    """Masked links and stray ** in names and summaries show as typed in the daily post, quiz questions, options and
    reveals, flashcards, /top and /search (whose own highlights still work)."""
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    guild, member = server.guild, server.member
    async with start_bot(clock=clock) as bot:
        editor = bot.get_cog("Moderation").editor
        drafts = []
        for number, concept_id in enumerate(IMMUNOSUPPRESSANTS):
            shipped = editor.catalog.shipped.concepts[concept_id]
            hostile = shipped.model_copy(update={
                "name": f"{shipped.name} *{number}*",
                "summary": f"[Free Nitro](https://evil.example) **loud** number {number}",
                "definition": f"Starts **here and ** never ends {number}.",
            })  # fmt: skip
            drafts.append(Draft(hostile, False, Action.EDIT, 0))
        editor.catalog.apply(
            guild.id, await editor.repository.append(guild.id, drafts, author_id=1, reason=None, at=clock.now())
        )

        # by its code name: "tacrolimus" is also an example term of Immunosuppressive therapy, which an exact
        # example hit opens when no entry is named exactly that (here the renamed "Tacrolimus *6*")
        defined = await discord_.slash(guild, member, "define", term="FK506")
        assert defined.response.embeds[0]["title"] == "Tacrolimus \\*6\\*"
        top = await discord_.slash(guild, member, "top")
        assert "Tacrolimus \\*6\\* — 1 lookup" in top.response.embeds[0]["description"]

        found = await discord_.slash(guild, member, "search", text="never ends")
        lines = found.response.embeds[0]["description"].splitlines()
        line = next(line for line in lines if "Tacrolimus" in line)
        assert "Starts \\*\\*here and \\*\\* **never** **ends** 6." in line, line

        channel = guild.channel("daily")
        daily = await discord_.slash(guild, server.moderator, "daily set", options={
            "channel": channel, "time": "23:00", "timezone": "UTC", "category": "immunosuppressant"})  # fmt: skip
        await daily.answer()
        posted = await discord_.slash(guild, server.moderator, "daily now")
        assert "Posted today's concept" in (await posted.wait_followup()).content
        post = next(m for m in discord_.channel_messages(channel) if m.embeds)
        embed = post.embeds[0]
        assert embed["description"].startswith("\\[Free Nitro](https://evil.example) \\*\\*loud\\*\\* number")
        assert "\\*" in embed["title"]
        no_live_markup(embed["title"] + embed["description"])

        started = await discord_.slash(guild, member, "quiz start", options={
            "mode": "definition", "questions": 5, "category": "immunosuppressant"})  # fmt: skip
        question = await discord_.changes.wait_for(
            lambda: next((m for m in discord_.channel_messages(guild.channel("general"))
                          if m.embeds and m.embeds[0].get("title", "").startswith("Question 1")), None),
            5, "the first question",
        )  # fmt: skip
        assert started.response.content
        text = question.embeds[0]["description"]
        assert "> \\[Free Nitro](https://evil.example) \\*\\*loud\\*\\* number" in text
        assert re.search(r"\*\*A\.\*\* .+ \\\*\d\\\*", text), text
        no_live_markup(text)
        clock.advance(timedelta(seconds=120))
        reveal = await discord_.changes.wait_for(
            lambda: question if question.embeds[0]["title"].endswith("closed") else None, 5, "the reveal"
        )
        no_live_markup(reveal.embeds[0]["description"])
        assert "\\*\\*loud\\*\\*" in reveal.embeds[0]["description"]

        front = await discord_.slash(guild, member, "flashcards review", options={"category": "immunosuppressant"})
        assert re.fullmatch(r".+ \\\*\d\\\*", front.response.embeds[0]["title"])
        show = next(cid for cid in front.response.custom_ids if cid.startswith("flashcard:show:"))
        back = await discord_.click(guild, member, front.message, show)
        description = back.response.embeds[0]["description"]
        assert description.startswith("**\\[Free Nitro](https://evil.example) \\*\\*loud\\*\\*")
        no_live_markup(description)


async def test_invisible_characters_and_look_alike_names(discord_: StandIn, server: Server, bot) -> None:
    """A bidi override is stripped from a new name; a Cyrillic “о” in “Tacrolimus” is refused like a duplicate,
    naming the entry it imitates; nothing is saved for the refused one."""
    opened = await discord_.slash(server.guild, server.moderator, "concept add")
    values = {**form_values(opened), "name": "Our \u202eentry", "summary": "S.", "definition": "D.",
              "aliases": "O\u200bE"}  # fmt: skip
    saved = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], values)
    content = saved.response.content if saved.response.type == 4 else (await saved.wait_followup()).content
    assert "Added “Our entry”" in content
    rows = await bot.store.fetch_all("SELECT data FROM concept_revisions")
    assert "\u202e" not in rows[0][0]
    assert "\u200b" not in rows[0][0]
    before = await bot.store.table_counts()
    opened = await discord_.slash(server.guild, server.moderator, "concept add")
    values = {**form_values(opened), "name": "Tacr\u043elimus", "summary": "S.", "definition": "D."}
    refused = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], values)
    content = refused.response.content if refused.response.type == 4 else (await refused.wait_followup()).content
    assert "'Tacr\u043elimus' looks the same as 'Tacrolimus', a name of “Tacrolimus” (entry 'tacrolimus')" in content
    assert "Nothing was saved" in content
    alias = await discord_.slash(
        server.guild, server.moderator, "concept alias add", term="our entry", alias="F\u041a506"
    )
    alias_reply = alias.response.content if alias.response.type == 4 else (await alias.wait_followup()).content
    assert "looks the same as 'FK506'" in alias_reply, alias_reply
    assert await bot.store.table_counts() == before


# --- per-member limits -----------------------------------------------------------------------------------------


async def test_lookups_are_paced_per_member_and_repeats_count_once(
    discord_: StandIn, server: Server, start_bot
) -> None:
    """A member's 31st lookup within a minute is answered privately with how long to wait (never dropped), others
    are unaffected, the pace returns a minute later, and /top counts the member's 31 lookups of one entry once."""
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    guild, member = server.guild, server.member
    bob = discord_.add_member(guild, "bob")
    async with start_bot(clock=clock) as bot:
        for _ in range(30):
            shown = await discord_.slash(guild, member, "define", term="tacrolimus")
            assert shown.response.embeds[0]["title"] == "Tacrolimus"
            clock.advance(timedelta(seconds=1))
        paced = await discord_.slash(guild, member, "define", term="tacrolimus")
        assert paced.response.ephemeral
        assert paced.response.content == "You are looking things up faster than 30 times a minute. Try again in 30 s."
        searched = await discord_.slash(guild, member, "search", text="calcineurin")
        assert "Try again in 30 s" in searched.response.content
        assert (await discord_.slash(guild, bob, "define", term="tacrolimus")).response.embeds
        clock.advance(timedelta(seconds=30))
        assert (await discord_.slash(guild, member, "define", term="tacrolimus")).response.embeds
        top = await discord_.slash(guild, member, "top")
        assert top.response.embeds[0]["description"] == "**1.** Tacrolimus — 2 lookups"
        assert bot.usage.pending == 0


# --- faults answered, nothing lost -----------------------------------------------------------------------------


async def test_daily_now_during_a_slowed_send_never_posts_twice(discord_: StandIn, server: Server, start_bot) -> None:
    """The scheduled post waits out a 429 while a moderator runs /daily now: one post, and the reply says so."""
    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    channel = server.guild.channel("daily")
    async with start_bot(clock=clock) as bot:
        daily = await discord_.slash(server.guild, server.moderator, "daily set",
                                     options={"channel": channel, "time": "08:00", "timezone": "UTC"})  # fmt: skip
        await daily.answer()
        discord_.fail_next("POST", "/channels/*/messages", status=429, retry_after=1.0)
        clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        await discord_.changes.wait_for(
            lambda: discord_.find_requests("POST", "/channels/*/messages", status=429), 5, "the slowed send"
        )
        now = await discord_.slash(server.guild, server.moderator, "daily now")
        reply = (await now.wait_followup(within=10)).content
        posts = [m for m in discord_.channel_messages(channel) if m.embeds]
        assert len(posts) == 1
        assert "is already posted" in reply
        assert await bot.store.fetch_all("SELECT status, message_id FROM daily_posts") == [("posted", posts[0].id)]


def hold_write_lock(path: str, seconds: float) -> threading.Thread:
    """Another program holds the database's write lock for `seconds` (from a second connection), then lets go."""
    ready = threading.Event()

    def hold() -> None:
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            ready.set()
            time.sleep(seconds)
            other.execute("COMMIT")

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(5)
    return thread


async def test_a_locked_database_gets_a_timely_and_truthful_answer(discord_: StandIn, server: Server, bot) -> None:
    """Locked 4 s by another program: the form is acknowledged at once and then says it was saved (it was).
    Locked 6 s: acknowledged at once, then "nothing was saved" (nothing was), never "This interaction failed"."""
    path = str(bot.store.path)
    opened = await discord_.slash(server.guild, server.moderator, "concept edit", term="bcg")
    values = {**form_values(opened), "summary": "Saved after the lock."}
    holder = hold_write_lock(path, 4)
    saved = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], values, within=3)
    assert saved.response.type == 5  # acknowledged within Discord's 3 seconds
    assert "Saved “Bacillus Calmette–Guérin” as revision 1" in (await saved.answer(within=10)).content
    await asyncio.to_thread(holder.join)
    assert await summary_seen(discord_, server.guild, server.member, "bcg") == "Saved after the lock."

    holder = hold_write_lock(path, 6)
    refused = await discord_.slash(
        server.guild, server.moderator, "concept alias add", term="bcg", alias="Our BCG", within=3
    )
    assert refused.response.type == 5
    assert (await refused.answer(within=10)).content == STORAGE_BUSY
    await asyncio.to_thread(holder.join)
    assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(1,)]
    found = await discord_.slash(server.guild, server.member, "define", term="Our BCG")
    assert not found.response.embeds  # the alias was not added


async def fill_the_disk(bot) -> None:
    """No room left, as SQLite reports it ("database or disk is full").

    The database is capped at its size (SQLite's max_page_count) and its free pages filled, so anything that needs
    a new page fails for real. Small writes can still fit in a page's free space, which a full disk would not
    allow in WAL mode (every commit appends to the log): temporary triggers on the bot's own connection make
    those fail with the same SQLite error. Both go when space returns.
    """
    await bot.store.fetch_all("CREATE TABLE IF NOT EXISTS filler (value BLOB)")
    pages = (await bot.store.fetch_all("PRAGMA page_count"))[0][0]
    await bot.store.fetch_all(f"PRAGMA max_page_count = {pages + 4}")
    for size in (4000, 500, 50, 5, 1):
        with contextlib.suppress(sqlite3.OperationalError, sqlalchemy.exc.OperationalError):
            for _ in range(10_000):
                await bot.store.fetch_all("INSERT INTO filler VALUES (zeroblob(?))", (size,))
    tables = await bot.store.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'concept_search%' AND name != 'filler'"
    )
    for (table,) in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            await bot.store.fetch_all(
                f"CREATE TEMP TRIGGER full_{event.lower()}_{table} BEFORE {event} ON main.{table} "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )


async def free_the_disk(bot) -> None:
    """Space returns."""
    triggers = await bot.store.fetch_all("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'")
    for (trigger,) in triggers:
        await bot.store.fetch_all(f"DROP TRIGGER temp.{trigger}")
    await bot.store.fetch_all("PRAGMA max_page_count = 1073741823")
    await bot.store.fetch_all("DROP TABLE filler")


async def test_a_full_disk_refuses_a_large_write_for_real(discord_: StandIn, server: Server, bot) -> None:
    """The database cannot grow: an import (which needs new pages) is refused with "nothing was saved"."""
    await bot.store.fetch_all("CREATE TABLE filler (value BLOB)")
    pages = (await bot.store.fetch_all("PRAGMA page_count"))[0][0]
    await bot.store.fetch_all(f"PRAGMA max_page_count = {pages + 4}")
    with contextlib.suppress(sqlite3.OperationalError, sqlalchemy.exc.OperationalError):
        for _ in range(10_000):
            await bot.store.fetch_all("INSERT INTO filler VALUES (zeroblob(4000))")
    entries = "".join(f"  - {ENTRY.replace('our-entry', f'our-{i}').replace('Our entry', f'Our {i}')}\n"
                      for i in range(50))  # fmt: skip
    message = await import_reply(discord_, server, "many.yaml", f"concepts:\n{entries}".encode())
    assert message == STORAGE_FULL
    assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]
    await bot.store.fetch_all("PRAGMA max_page_count = 1073741823")
    message = await import_reply(discord_, server, "many.yaml", f"concepts:\n{entries}".encode())
    assert "Imported: 50 entries" in message


async def test_a_full_disk_answers_every_interaction_and_recovers(
    discord_: StandIn, server: Server, start_bot, caplog: pytest.LogCaptureFixture
) -> None:
    """With no room left: a quiz answer, a flashcard grade, an entry form, a moderation command and /daily set are
    each answered "nothing was saved, try later", nothing half-written; with room again the same clicks work."""
    guild, member = server.guild, server.member
    async with start_bot(clock=ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))) as bot:
        await discord_.slash(guild, member, "quiz start", options={"mode": "definition", "questions": 5})
        question = await discord_.changes.wait_for(
            lambda: next((m for m in discord_.channel_messages(guild.channel("general"))
                          if m.embeds and m.embeds[0].get("title", "").startswith("Question 1")), None),
            5, "the first question",
        )  # fmt: skip
        answer_id = next(cid for cid in question.custom_ids if cid.startswith("quiz:"))
        front = await discord_.slash(guild, member, "flashcards review", options={"category": "immunosuppressant"})
        show = next(cid for cid in front.response.custom_ids if cid.startswith("flashcard:show:"))
        back = await discord_.click(guild, member, front.message, show)
        good = next(cid for cid in back.response.custom_ids if cid.startswith("flashcard:good:"))
        opened = await discord_.slash(guild, server.moderator, "concept edit", term="bcg")
        before = await bot.store.fetch_all(
            "SELECT count(*) FROM quiz_answers UNION ALL SELECT count(*) FROM card_reviews"
        )

        await fill_the_disk(bot)
        clicked = await discord_.click(guild, member, question, answer_id)
        assert (await clicked.answer()).content == STORAGE_FULL
        graded = await discord_.click(guild, member, front.message, good)
        assert (await graded.answer()).content == STORAGE_FULL
        values = {**form_values(opened), "summary": "Never saved."}
        form = await discord_.submit_modal(guild, server.moderator, opened.modal["custom_id"], values)
        assert (await form.answer()).content.startswith(STORAGE_FULL)
        assert "Never saved." in (await form.answer()).content  # the moderator's text comes back
        hidden = await discord_.slash(guild, server.moderator, "concept hide", term="bcg")
        assert (await hidden.answer()).content == STORAGE_FULL
        daily = await discord_.slash(guild, server.moderator, "daily set",
                                     options={"channel": guild.channel("daily"), "time": "08:00", "timezone": "UTC"})  # fmt: skip
        assert (await daily.answer()).content == STORAGE_FULL
        assert (await bot.store.fetch_all("SELECT count(*) FROM quiz_answers UNION ALL SELECT count(*) FROM card_reviews")
                == before)  # fmt: skip
        assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]

        await free_the_disk(bot)
        clicked = await discord_.click(guild, member, question, answer_id)
        assert "Locked in" in (await clicked.answer()).content
        graded = await discord_.click(guild, member, front.message, good)
        assert graded.response.type == 7  # the next card, in place
        hidden = await discord_.slash(guild, server.moderator, "concept hide", term="bcg")
        assert "is now hidden" in (await hidden.answer()).content
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []  # answered, not crashed


# --- moderator replies -------------------------------------------------------------------------------------------


async def test_moderator_replies_say_what_is_true(discord_: StandIn, server: Server, bot) -> None:
    """Alias changes answer in one line with a button to the entry; unhide of a visible entry says so; a moderator's
    /define of a hidden entry says it is hidden (a member's does not); the source line says "Editorial" once;
    export leaves out entries back to their shipped text."""
    added = await discord_.slash(server.guild, server.moderator, "concept alias add", term="bcg", alias="Our vaccine")
    answer = await added.answer()
    assert answer.content == "Added “Our vaccine” to “Bacillus Calmette–Guérin” (revision 1)."
    assert answer.embeds == []
    peek = next(c["custom_id"] for row in answer.components for c in row["components"])
    shown = await discord_.click(server.guild, server.moderator, answer, peek)
    assert shown.response.embeds[0]["title"] == "Bacillus Calmette–Guérin"
    removed = await discord_.slash(
        server.guild, server.moderator, "concept alias remove", term="bcg", alias="Our vaccine"
    )
    assert (await removed.answer()).content == "Removed “Our vaccine” from “Bacillus Calmette–Guérin” (revision 2)."

    visible = await discord_.slash(server.guild, server.moderator, "concept unhide", term="bcg")
    assert (await visible.answer()).content == "“Bacillus Calmette–Guérin” is not hidden in this server."
    await (await discord_.slash(server.guild, server.moderator, "concept hide", term="bcg")).answer()
    told = await discord_.slash(server.guild, server.moderator, "define", term="BCG")
    assert (
        told.response.content
        == "“Bacillus Calmette–Guérin” is hidden in this server — `/concept unhide` shows it again."
    )
    member = await discord_.slash(server.guild, server.member, "define", term="BCG")
    assert "hidden" not in (member.response.content or "")
    await (await discord_.slash(server.guild, server.moderator, "concept unhide", term="bcg")).answer()

    exported = await discord_.slash(server.guild, server.moderator, "concept export")
    assert "nothing to export" in (await exported.answer()).content  # alias added then removed, hidden then shown

    opened = await discord_.slash(server.guild, server.moderator, "concept add")
    values = {**form_values(opened), "name": "Our entry", "summary": "S.", "definition": "D."}
    await (await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], values)).answer()
    ours = await discord_.slash(server.guild, server.member, "define", term="our entry")
    source = next(f["value"] for f in ours.response.embeds[0]["fields"] if f["name"] == "Source")
    assert source == "Editorial: Added by this server's moderators; not taken from the source documents."
    exported = await discord_.slash(server.guild, server.moderator, "concept export")
    assert (await exported.answer()).content == "1 entry exported."


async def test_top_says_when_more_entries_share_the_last_place(discord_: StandIn, server: Server, bot) -> None:
    """Twelve entries looked up once each: /top lists ten and says two more share that place."""
    terms = sorted(concept.name for concept in bot.catalog.shipped.concepts.values())[:12]
    for term in terms:
        assert (await discord_.slash(server.guild, server.member, "define", term=term)).response.embeds, term
    top = await discord_.slash(server.guild, server.member, "top")
    lines = top.response.embeds[0]["description"].splitlines()
    assert len(lines) == 11
    assert all(line.startswith("**=1.**") for line in lines[:10])
    assert lines[10] == "…and 2 more entries share that place."
