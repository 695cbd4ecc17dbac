"""Moderators change a server's glossary end to end: the real bot, forms, buttons and files against the stand-in.

The stand-in here lets any member invoke /concept (as a server admin can allow a role to in Discord's
Integrations settings), so these tests prove the bot's own permission checks refuse who they must.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.client import ImmunoBot
from bot.loader import parse_yaml
from cogs.moderation._access import NOT_MODERATOR
from standin import InteractionResult, StandIn, Upload
from standin.state import Guild, Member
from tests.e2e.conftest import Server, assert_never_pinged
from tests.e2e.test_console import console
from tests.e2e.test_entry_point import start_process

Start = Callable[..., AbstractAsyncContextManager[ImmunoBot]]
MANAGE_GUILD = 0x20
SEND_MESSAGES = 1 << 11


@pytest.fixture
async def discord_() -> AsyncIterator[StandIn]:
    """A stand-in that delivers /concept from anyone, so the bot's own checks are what refuses."""
    async with StandIn(enforce_command_permissions=False) as standin:
        yield standin


def form_values(opened: InteractionResult) -> dict[str, str]:
    """The fields of the form the bot opened, with the text it pre-filled."""
    modal = opened.modal
    assert modal is not None, opened.response
    return {row["component"]["custom_id"]: row["component"].get("value", "") for row in modal["components"]}


async def open_edit(discord_: StandIn, guild: Guild, user: Member, term: str) -> InteractionResult:
    """Run /concept edit and return the interaction that opened the form."""
    opened = await discord_.slash(guild, user, "concept edit", term=term)
    assert opened.modal is not None, opened.response
    return opened


async def submit(
    discord_: StandIn, guild: Guild, user: Member, opened: InteractionResult, **changes: str
) -> InteractionResult:
    """Submit the opened form with some fields retyped."""
    assert opened.modal is not None
    values = {**form_values(opened), **changes}
    submitted = await discord_.submit_modal(guild, user, opened.modal["custom_id"], values)
    await submitted.answer()  # saved (or refused) once answered: the bot acknowledges first, then writes
    return submitted


async def edit(
    discord_: StandIn, server: Server, term: str, user: Member | None = None, **changes: str
) -> InteractionResult:
    """Open the edit form for `term` and submit it with `changes`."""
    who = user or server.moderator
    opened = await open_edit(discord_, server.guild, who, term)
    return await submit(discord_, server.guild, who, opened, **changes)


async def eventually(discord_: StandIn, check: Callable[[], object], what: str) -> None:
    """Wait (briefly) for something the bot does after it has answered, such as an audit line."""
    await discord_.changes.wait_for(check, 5, what)


async def summary_seen(discord_: StandIn, guild: Guild, user: Member, term: str) -> str:
    """What /define shows as the summary of `term` in a guild."""
    result = await discord_.slash(guild, user, "define", term=term)
    return (await result.answer()).embeds[0]["description"].split("\n\n")[0].strip("*")


async def test_concept_is_offered_to_server_managers_in_servers_only(discord_: StandIn, server: Server, bot) -> None:
    """The synced group asks Discord to show it to Manage Server holders, in guilds; it has every subcommand."""
    concept = next(c for c in discord_.commands() if c["name"] == "concept")
    assert int(concept["default_member_permissions"]) == MANAGE_GUILD
    assert concept.get("contexts") == [0] or concept.get("dm_permission") is False
    names = {o["name"] for o in concept["options"]}
    assert names == {"add", "edit", "alias", "hide", "unhide", "history", "revert", "export", "import", "config"}


@pytest.mark.both_backends
async def test_edit_form_round_trip_changes_this_server_only(discord_: StandIn, server: Server, bot) -> None:
    """The form opens pre-filled; a save shows the new text at once here, and nowhere else."""
    other = discord_.add_guild("Other group")
    reader = discord_.add_member(other, "bob")
    shipped = await summary_seen(discord_, server.guild, server.member, "tacrolimus")
    opened = await open_edit(discord_, server.guild, server.moderator, "tacrolimus")
    values = form_values(opened)
    assert values["name"] == "Tacrolimus"
    assert "FK506" in values["aliases"].splitlines()
    assert values["summary"] == shipped
    saved = await submit(
        discord_, server.guild, server.moderator, opened, summary="Our course: a calcineurin blocker.", reason="wording"
    )
    assert (await saved.answer()).ephemeral
    assert "Saved “Tacrolimus” as revision 1" in (await saved.answer()).content
    assert (await saved.answer()).embeds[0]["title"] == "Tacrolimus"
    assert await summary_seen(discord_, server.guild, server.member, "FK506") == "Our course: a calcineurin blocker."
    assert await summary_seen(discord_, other, reader, "tacrolimus") == shipped
    rows = await bot.store.fetch_all(
        "SELECT guild_id, concept_id, revision, action, author_id, reason FROM concept_revisions"
    )
    assert rows == [(server.guild.id, "tacrolimus", 1, "edit", server.moderator.id, "wording")]


@pytest.mark.both_backends
async def test_new_entry_is_found_everywhere_in_its_server(discord_: StandIn, server: Server, bot) -> None:
    """An added entry answers /define, autocomplete, /category and /search at once, in its server only."""
    opened = await discord_.slash(server.guild, server.moderator, "concept add", category="cell therapy")
    assert opened.modal is not None
    fields = {
        "name": "Gamma delta T-cell therapy", "aliases": "gd T cells; gamma-delta T cells",
        "summary": "T cells with a gamma-delta receptor, expanded and infused.",
        "definition": "Gamma delta T cells sense butyrophilin-bound phosphoantigens without HLA restriction.",
        "reason": "week 5 syllabus",
    }  # fmt: skip
    added = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], fields)
    assert "Added “Gamma delta T-cell therapy”" in (await added.answer()).content
    found = await discord_.slash(server.guild, server.member, "define", term="gd t cells")
    assert (await found.answer()).embeds[0]["title"] == "Gamma delta T-cell therapy"
    category = next(f["value"] for f in (await found.answer()).embeds[0]["fields"] if f["name"] == "Category")
    assert category.endswith("Cell therapy › Gamma delta T-cell therapy")
    typed = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="gamma delta t")
    assert typed.choices[0]["value"] == "Gamma delta T-cell therapy"
    listed = await discord_.slash(server.guild, server.member, "category", options={"name": "cell therapy"})
    assert "Gamma delta T-cell therapy" in (await listed.answer()).embeds[0]["description"]
    searched = await discord_.slash(server.guild, server.member, "search", text="butyrophilin")
    assert "Gamma delta T-cell therapy" in (await searched.answer()).embeds[0]["description"]
    other = discord_.add_guild("Other group")
    outsider = discord_.add_member(other, "bob")
    elsewhere = await discord_.slash(other, outsider, "search", text="butyrophilin")
    assert (await elsewhere.answer()).ephemeral


async def test_member_without_rights_is_refused_and_nothing_changes(discord_: StandIn, server: Server, bot) -> None:
    """Every /concept command refuses a plain member with a sentence saying who may; nothing is written."""
    before = await bot.store.table_counts()
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("concept edit", {"term": "tacrolimus"}),
        ("concept add", {}),
        ("concept alias add", {"term": "tacrolimus", "alias": "tac"}),
        ("concept hide", {"term": "bcg"}),
        ("concept revert", {"term": "bcg", "revision": 0}),
        ("concept history", {"term": "bcg"}),
        ("concept export", {}),
        ("concept import", {"file": Upload("x.yaml", b"concepts: []\n")}),
        ("concept config", {"role": server.guild.everyone}),
    ]
    for command, options in attempts:
        result = await discord_.slash(server.guild, server.member, command, options=options)
        assert (await result.answer()).ephemeral, command
        assert (await result.answer()).content == NOT_MODERATOR, command
    assert await bot.store.table_counts() == before


async def test_rights_in_another_server_count_for_nothing(discord_: StandIn, server: Server, bot) -> None:
    """Manage Server or the moderator role in server B gives no rights in server A."""
    other = discord_.add_guild("Other group")
    tutors = discord_.add_role(other, "tutors")
    discord_.add_member(other, server.member.user, permissions=MANAGE_GUILD, roles=[tutors])
    configured = await discord_.slash(other, other.members[server.member.id], "concept config", role=tutors)
    assert "Saved." in (await configured.answer()).content
    refused = await discord_.slash(server.guild, server.member, "concept edit", term="tacrolimus")
    assert (await refused.answer()).content == NOT_MODERATOR
    assert refused.modal is None
    allowed = await discord_.slash(other, other.members[server.member.id], "concept edit", term="tacrolimus")
    assert allowed.modal is not None


@pytest.mark.both_backends
async def test_moderator_role_grants_rights_but_not_the_settings(discord_: StandIn, server: Server, bot) -> None:
    """A member with the configured role can edit; changing who moderates stays with Manage Server."""
    tutors = discord_.add_role(server.guild, "tutors")
    tutor = discord_.add_member(server.guild, "tina", roles=[tutors])
    assert (await discord_.slash(server.guild, tutor, "concept edit", term="bcg")).response.content == NOT_MODERATOR
    set_role = await discord_.slash(server.guild, server.moderator, "concept config", role=tutors)
    assert f"<@&{tutors.id}>" in (await set_role.answer()).content
    saved = await edit(discord_, server, "bcg", user=tutor, summary="Tina's summary.")
    assert "revision 1" in (await saved.answer()).content
    escalate = await discord_.slash(server.guild, tutor, "concept config", role=server.guild.everyone)
    assert "Only members with Manage Server" in (await escalate.answer()).content
    shown = await discord_.slash(server.guild, tutor, "concept config")
    assert f"Moderator role: <@&{tutors.id}>" in (await shown.answer()).content
    everyone = await discord_.slash(server.guild, server.moderator, "concept config", role=server.guild.everyone)
    assert "cannot be the moderator role" in (await everyone.answer()).content


async def test_rights_revoked_while_the_form_is_open_refuse_the_save_and_return_the_text(
    discord_: StandIn, server: Server, bot
) -> None:
    """The form's submission is checked again: a demoted moderator's text comes back, nothing is saved."""
    tutors = discord_.add_role(server.guild, "tutors")
    tutor = discord_.add_member(server.guild, "tina", roles=[tutors])
    await (await discord_.slash(server.guild, server.moderator, "concept config", role=tutors)).answer()
    opened = await open_edit(discord_, server.guild, tutor, "bcg")
    tutor.roles.remove(tutors.id)
    discord_.member_updated(server.guild, tutor)
    refused = await submit(discord_, server.guild, tutor, opened, summary="My careful new summary.")
    assert (await refused.answer()).content.startswith(NOT_MODERATOR)
    assert "My careful new summary." in (await refused.answer()).content
    assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]


@pytest.mark.both_backends
async def test_second_of_two_concurrent_edits_is_refused_with_its_text(discord_: StandIn, server: Server, bot) -> None:
    """Both open the form at revision 0; the later save is refused, never silently overwrites, and keeps its text."""
    second_moderator = discord_.add_member(server.guild, "mod2", permissions=MANAGE_GUILD)
    first = await open_edit(discord_, server.guild, server.moderator, "sirolimus")
    second = await open_edit(discord_, server.guild, second_moderator, "sirolimus")
    saved = await submit(discord_, server.guild, server.moderator, first, summary="First moderator's summary.")
    assert "revision 1" in (await saved.answer()).content
    refused = await submit(discord_, server.guild, second_moderator, second, summary="Second moderator's summary.")
    content = (await refused.answer()).content
    assert (await refused.answer()).ephemeral
    assert "changed since you opened it" in content
    assert f"Revision 1 was saved by <@{server.moderator.id}>" in content
    assert "```\nSecond moderator's summary.\n```" in content
    assert await summary_seen(discord_, server.guild, server.member, "sirolimus") == "First moderator's summary."
    assert await bot.store.fetch_all("SELECT count(*) FROM concept_revisions") == [(1,)]
    reopened = await open_edit(discord_, server.guild, second_moderator, "sirolimus")
    assert form_values(reopened)["summary"] == "First moderator's summary."
    agreed = await submit(discord_, server.guild, second_moderator, reopened, summary="Agreed.")
    assert "revision 2" in (await agreed.answer()).content


async def test_a_revision_written_by_another_process_refuses_the_save_and_keeps_the_text(
    discord_: StandIn, server: Server, bot
) -> None:
    """Between opening the form and saving it, another process (its own connection) commits a revision: the save
    is refused by the database's check, though this process's memory still says revision 0; the text comes back."""
    opened = await open_edit(discord_, server.guild, server.moderator, "sirolimus")
    theirs = bot.catalog.shipped.concepts["sirolimus"].model_copy(update={"summary": "Another process's summary."})
    with closing(sqlite3.connect(bot.store.path)) as other, other:
        other.execute(
            "INSERT INTO concept_revisions (guild_id, concept_id, revision, action, data, hidden, author_id, "
            "created_at) VALUES (?, 'sirolimus', 1, 'edit', ?, 0, 4242, '2026-11-23T12:00:00+00:00')",
            (server.guild.id, theirs.model_dump_json()),
        )
    refused = await submit(discord_, server.guild, server.moderator, opened, summary="My careful summary.")
    assert refused.response.ephemeral
    assert "changed since you opened it" in (await refused.answer()).content
    assert "```\nMy careful summary.\n```" in (await refused.answer()).content
    rows = await bot.store.fetch_all("SELECT revision, author_id FROM concept_revisions")
    assert rows == [(1, 4242)]


async def test_refused_edit_names_entry_and_field_returns_the_text_and_changes_nothing(
    discord_: StandIn, server: Server, bot
) -> None:
    """An alias another entry owns, a blank summary: refused with the problems and the text; nothing changed."""
    before = await bot.store.table_counts()
    blank = await edit(discord_, server, "sirolimus", summary="  ")
    assert "your entry: entry 'sirolimus': field 'summary': String should have at least 1 character" in (
        (await blank.answer()).content
    )
    taken = await edit(discord_, server, "sirolimus", aliases="rapamycin\nFK 506")
    content = (await taken.answer()).content
    assert (
        "entry 'sirolimus': field 'aliases': 'FK 506' is already a name of “Tacrolimus” (entry 'tacrolimus'), written 'FK506'"
        in content
    )
    assert "```\nrapamycin\nFK 506\n```" in content
    long_definition = "word " * 299 + "end."
    many_aliases = "\n".join(["FK 506", *(f"sirolimus name {number}" for number in range(30))])
    attached = await edit(discord_, server, "sirolimus", aliases=many_aliases, definition=long_definition)
    assert "Your text is attached" in (await attached.answer()).content
    returned = (await attached.answer()).attachments[0]
    assert returned.filename == "your-text.txt"
    assert long_definition in returned.content.decode()
    assert await bot.store.table_counts() == before
    assert "FK 506" not in await summary_seen(discord_, server.guild, server.member, "sirolimus")


async def test_aliases_take_part_in_lookup_at_once_and_collisions_are_refused(
    discord_: StandIn, server: Server, bot
) -> None:
    """alias add/remove: resolution and autocomplete follow immediately; a taken alias names its owner."""
    added = await discord_.slash(
        server.guild, server.moderator, "concept alias add", term="sirolimus", alias="rapa-drug"
    )
    assert "revision 1" in (await added.answer()).content
    found = await discord_.slash(server.guild, server.member, "define", term="rapa drug")
    assert (await found.answer()).embeds[0]["title"] == "Sirolimus"
    typed = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="rapa-dr")
    assert typed.choices[0]["name"] == "Sirolimus (rapa-drug)"
    taken = await discord_.slash(server.guild, server.moderator, "concept alias add", term="sirolimus", alias="FK-506")
    assert (
        "'FK-506' is already a name of “Tacrolimus” (entry 'tacrolimus'), written 'FK506'"
        in (await taken.answer()).content
    )
    assert "```\nFK-506\n```" in (await taken.answer()).content
    offered = await discord_.autocomplete(
        server.guild, server.moderator, "concept alias remove", focused="alias", term="Sirolimus", alias="drug"
    )
    assert offered.choices[0]["value"] == "rapa-drug"
    removed = await discord_.slash(
        server.guild, server.moderator, "concept alias remove", term="sirolimus", alias="rapa-drug"
    )
    assert "revision 2" in (await removed.answer()).content
    gone = await discord_.slash(server.guild, server.member, "define", term="rapa drug")
    assert (await gone.answer()).ephemeral
    wrong = await discord_.slash(server.guild, server.moderator, "concept alias remove", term="sirolimus", alias="nope")
    assert "is not an alias of “Sirolimus”" in (await wrong.answer()).content


@pytest.mark.both_backends
async def test_hide_and_unhide(discord_: StandIn, server: Server, bot) -> None:
    """A hidden entry disappears for members (lookup, search) and comes back unchanged."""
    hidden = await discord_.slash(server.guild, server.moderator, "concept hide", term="BCG", reason="not taught")
    assert "now hidden" in (await hidden.answer()).content
    assert "Entries that link to it" in (await hidden.answer()).content
    missing = await discord_.slash(server.guild, server.member, "define", term="BCG")
    assert (await missing.answer()).ephemeral
    offered = await discord_.autocomplete(server.guild, server.moderator, "concept unhide", focused="term", term="")
    assert [choice["value"] for choice in offered.choices] == ["Bacillus Calmette–Guérin"]
    shown = await discord_.slash(server.guild, server.moderator, "concept unhide", term="BCG")
    assert "shown again" in (await shown.answer()).content
    found = await discord_.slash(server.guild, server.member, "define", term="BCG")
    assert (await found.answer()).embeds[0]["title"] == "Bacillus Calmette–Guérin"
    nothing = await discord_.slash(server.guild, server.moderator, "concept unhide", term="BCG")
    assert (await nothing.answer()).content == "“Bacillus Calmette–Guérin” is not hidden in this server."


@pytest.mark.both_backends
async def test_history_pages_with_diffs_and_revert(discord_: StandIn, server: Server, bot) -> None:
    """Four edits: the history pages with buttons and shows diffs; revert brings an old text back as revision 5."""
    for number in range(1, 5):
        await edit(discord_, server, "azathioprine", summary=f"Summary number {number}.", reason=f"step {number}")
    history = await discord_.slash(server.guild, server.moderator, "concept history", term="azathioprine")
    embed = (await history.answer()).embeds[0]
    assert (await history.answer()).ephemeral
    assert embed["title"] == "History: Azathioprine"
    assert [f["name"].split(" · ")[0] for f in embed["fields"]] == ["Revision 4", "Revision 3", "Revision 2"]
    assert "Summary: Summary number ~~3.~~ **4.**" in embed["fields"][0]["value"]
    assert f"by <@{server.moderator.id}> — “step 4”" in embed["fields"][0]["value"]
    assert "page 1 of 2" in embed["footer"]["text"].lower()
    older = await discord_.click(server.guild, server.moderator, history, "concept-history:azathioprine:1")
    page_two = (await older.answer()).embeds[0]
    assert [f["name"].split(" · ")[0] for f in page_two["fields"]] == ["Revision 1"]
    assert "Summary: ~~" in page_two["fields"][0]["value"]  # against the shipped text
    choices = await discord_.autocomplete(
        server.guild, server.moderator, "concept revert", focused="revision", term="azathioprine", revision=""
    )
    assert [choice["value"] for choice in choices.choices] == [4, 3, 2, 1, 0]
    reverted = await discord_.slash(server.guild, server.moderator, "concept revert", term="azathioprine", revision=2)
    assert "saved as revision 5" in (await reverted.answer()).content
    assert await summary_seen(discord_, server.guild, server.member, "azathioprine") == "Summary number 2."
    bad = await discord_.slash(server.guild, server.moderator, "concept revert", term="azathioprine", revision=42)
    assert "has no revision 42: choose one from 0 to 5" in (await bad.answer()).content
    untouched = await discord_.slash(server.guild, server.moderator, "concept history", term="sirolimus")
    assert "has no changes in this server" in (await untouched.answer()).content


async def test_two_servers_editing_one_entry_stay_apart_across_a_restart(
    discord_: StandIn, server: Server, start_bot: Start
) -> None:
    """Three edits here and one there of the same entry: after a restart each server sees its own newest text,
    and numbering, history, revert choices and revert are each server's own."""
    other = discord_.add_guild("Other group")
    there = Server(
        other, discord_.add_member(other, "bob"), discord_.add_member(other, "mod-two", permissions=MANAGE_GUILD)
    )
    async with start_bot():
        shipped = await summary_seen(discord_, other, there.member, "tacrolimus")
        for number in (1, 2, 3):
            saved = await edit(discord_, server, "tacrolimus", summary=f"Here {number}.")
            assert f"as revision {number}" in (await saved.answer()).content
        theirs = await edit(discord_, there, "tacrolimus", summary="There 1.")
        assert "as revision 1" in (await theirs.answer()).content
    async with start_bot():
        assert await summary_seen(discord_, server.guild, server.member, "tacrolimus") == "Here 3."
        assert await summary_seen(discord_, other, there.member, "tacrolimus") == "There 1."
        history = await discord_.slash(other, there.moderator, "concept history", term="tacrolimus")
        assert [f["name"].split(" · ")[0] for f in (await history.answer()).embeds[0]["fields"]] == ["Revision 1"]
        choices = await discord_.autocomplete(
            other, there.moderator, "concept revert", focused="revision", term="tacrolimus", revision=""
        )
        assert [choice["value"] for choice in choices.choices] == [1, 0]
        reverted = await discord_.slash(other, there.moderator, "concept revert", term="tacrolimus", revision=0)
        assert "saved as revision 2" in (await reverted.answer()).content
        assert await summary_seen(discord_, other, there.member, "tacrolimus") == shipped
        assert await summary_seen(discord_, server.guild, server.member, "tacrolimus") == "Here 3."
        again = await edit(discord_, server, "tacrolimus", summary="Here 4.")
        assert "as revision 4" in (await again.answer()).content


async def test_history_button_checks_rights_again(discord_: StandIn, server: Server, bot) -> None:
    """A history button pressed by someone who is no longer a moderator is refused."""
    for number in range(4):
        await edit(discord_, server, "bcg", summary=f"Text {number}.")
    history = await discord_.slash(server.guild, server.moderator, "concept history", term="bcg")
    role = server.guild.roles[server.moderator.roles[0]]
    discord_.set_role_permissions(role, 0)
    refused = await discord_.click(server.guild, server.moderator, history, "concept-history:bcg:1")
    assert (await refused.answer()).content == NOT_MODERATOR
    assert refused.edits == []


@pytest.mark.both_backends
async def test_import_good_file_and_bad_file(discord_: StandIn, server: Server, bot) -> None:
    """A bad file changes nothing and names entry and field; a good one applies all at once; export reads back."""
    before = await bot.store.table_counts()
    bad = (
        "concepts:\n"
        "  - {id: our-entry, name: Our entry, summary: S., definition: D., source: {document: editorial, editorial: E.}}\n"
        "  - {id: our-other, name: Our other, summary: '', definition: D., related: [nowhere],"
        " source: {document: editorial, editorial: E.}}\n"
    )
    refused = await discord_.slash(
        server.guild, server.moderator, "concept import", file=Upload("week3.yaml", bad.encode())
    )
    message = (await refused.wait_followup()).content
    assert "Nothing was imported" in message
    assert "week3.yaml: entry 'our-other': field 'summary'" in message
    assert await bot.store.table_counts() == before
    broken = await discord_.slash(
        server.guild, server.moderator, "concept import", file=Upload("x.yaml", b"concepts: [\n")
    )
    assert "not valid YAML at line" in (await broken.wait_followup()).content

    exported = await discord_.slash(server.guild, server.moderator, "concept export", everything=True)
    whole = (await exported.answer()).attachments[0].content.decode()
    data = yaml.safe_load(whole)
    tacrolimus = next(entry for entry in data["concepts"] if entry["id"] == "tacrolimus")
    tacrolimus["summary"] = "Imported wording."
    good = {"concepts": [tacrolimus, yaml.safe_load(bad)["concepts"][0]]}
    result = await discord_.slash(
        server.guild, server.moderator, "concept import", file=Upload("good.yaml", yaml.safe_dump(good).encode()),
        reason="week 3",
    )  # fmt: skip
    summary = (await result.wait_followup()).content
    assert "Imported: 2 entries" in summary
    assert "Added (1): “Our entry”" in summary
    assert "Changed (1): “Tacrolimus”" in summary
    assert await summary_seen(discord_, server.guild, server.member, "tacrolimus") == "Imported wording."
    assert await summary_seen(discord_, server.guild, server.member, "our entry") == "S."

    overlay = await discord_.slash(server.guild, server.moderator, "concept export")
    attachment = (await overlay.answer()).attachments[0]
    assert attachment.filename == f"glossary-{server.guild.id}.yaml"
    _, items, problems = parse_yaml(attachment.content.decode(), attachment.filename)
    assert problems == []
    assert sorted(item.concept.id for item in items) == ["our-entry", "tacrolimus"]


async def test_export_with_no_changes_says_so(discord_: StandIn, server: Server, bot) -> None:
    """A server without edits gets a sentence, not an empty file."""
    result = await discord_.slash(server.guild, server.moderator, "concept export")
    assert "nothing to export" in (await result.answer()).content
    assert (await result.answer()).attachments == []


async def test_bot_owners_may_export_anywhere_but_not_edit(discord_: StandIn, server: Server, start_bot: Start) -> None:
    """The application owner and OWNER_IDS export a server's edits (to promote them into data/) without moderating."""
    configured_owner = discord_.add_member(server.guild, "maintainer")
    application_owner = discord_.add_member(server.guild, discord_.app_owner)
    async with start_bot(owner_ids=(configured_owner.id,)):
        await edit(discord_, server, "bcg", summary="A better summary.")
        for owner in (application_owner, configured_owner):
            exported = await discord_.slash(server.guild, owner, "concept export")
            text = (await exported.answer()).attachments[0].content.decode()
            assert "A better summary." in text
            refused = await discord_.slash(server.guild, owner, "concept edit", term="bcg")
            assert (await refused.answer()).content == NOT_MODERATOR
        stranger = await discord_.slash(server.guild, server.member, "concept export")
        assert (await stranger.answer()).content == NOT_MODERATOR


async def test_bad_input_is_explained_and_changes_nothing(discord_: StandIn, server: Server, bot) -> None:
    """Unknown or ambiguous terms, impossible revisions, unreadable files: a clear private reply, nothing written."""
    await edit(discord_, server, "bcg", summary="Kept as it is.")
    before = await bot.store.table_counts()
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("concept edit", {"term": "qqqzzz"}, "No entry matches “qqqzzz”."),
        ("concept hide", {"term": "vaccine"}, "does not clearly name one entry. Did you mean"),
        ("concept revert", {"term": "bcg", "revision": 7}, "has no revision 7: choose one from 0 to 1"),
        ("concept alias add", {"term": "bcg", "alias": "BCG vaccine"}, "already answers to"),
        ("concept unhide", {"term": "bcg"}, "“Bacillus Calmette–Guérin” is not hidden in this server."),
        ("concept add", {"category": "qqqzzz"}, "No entry matches “qqqzzz”."),
        ("concept import", {"file": Upload("latin1.yaml", "é".encode("latin-1"))}, "is not UTF-8 text"),
        ("concept import", {"file": Upload("huge.yaml", b"#" * 1_000_001)}, "is larger than 1000 kB"),
        ("concept import", {"file": Upload("empty.yaml", b"concepts: []\n")}, "holds no concepts"),
    ]
    for command, options, expected in cases:
        result = await discord_.slash(server.guild, server.moderator, command, options=options)
        response = result.response
        content = response.content if response.type == 4 else (await result.wait_followup()).content
        assert expected in content, (command, content)
        assert response.ephemeral or response.type == 5, command
    assert await bot.store.table_counts() == before
    assert await summary_seen(discord_, server.guild, server.member, "bcg") == "Kept as it is."


async def test_audit_channel_gets_one_line_per_change(discord_: StandIn, server: Server, bot) -> None:
    """With an audit channel set, each change posts one line naming entry, moderator, revision and reason."""
    log_channel = discord_.add_channel(server.guild, "mod-log")
    await (await discord_.slash(server.guild, server.moderator, "concept config", audit_channel=log_channel)).answer()
    await edit(discord_, server, "bcg", summary="Changed.", reason="<@&123> @everyone **bold**")
    await (await discord_.slash(server.guild, server.moderator, "concept hide", term="sirolimus")).answer()
    await eventually(discord_, lambda: len(discord_.channel_messages(log_channel)) == 3, "three audit lines")
    lines = [message.content for message in discord_.channel_messages(log_channel)]
    assert lines[0].startswith("⚙️ Moderation settings changed")
    assert f"edited by <@{server.moderator.id}> · revision 1" in lines[1]
    assert "@\u200beveryone" in lines[1]
    assert "\\*\\*bold\\*\\*" in lines[1]
    assert "**Sirolimus** (`sirolimus`) hidden by" in lines[2]
    assert_never_pinged(discord_)


async def test_missing_or_forbidden_audit_channel_never_fails_an_edit(
    discord_: StandIn, server: Server, start_bot: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """No permission, a 403, a deleted channel: each edit is saved and answered; each failure is logged once."""
    log_channel = discord_.add_channel(server.guild, "mod-log")
    caplog.set_level(logging.WARNING, logger="cogs.moderation._cog")

    def logged(text: str) -> int:
        return len([record for record in caplog.records if text in record.getMessage()])

    async def lines(count: int) -> None:
        await eventually(discord_, lambda: len(discord_.channel_messages(log_channel)) == count, f"{count} lines")

    async def saved(revision: int) -> None:
        answer = await edit(discord_, server, "bcg", summary=f"Text {revision}.")
        assert f"revision {revision}" in (await answer.answer()).content

    async with start_bot():
        await (
            await discord_.slash(server.guild, server.moderator, "concept config", audit_channel=log_channel)
        ).answer()
        await lines(1)
        discord_.set_channel_permissions(log_channel, discord_.bot_role(server.guild), deny=SEND_MESSAGES)
        await saved(1)
        await eventually(discord_, lambda: logged("may not send messages"), "the warning")
        await saved(2)
        assert logged("may not send messages") == 1
        discord_.set_channel_permissions(log_channel, discord_.bot_role(server.guild))
        await saved(3)
        await lines(2)
        discord_.fail_next("POST", f"/channels/{log_channel.id}/messages", status=403)
        await saved(4)
        await eventually(discord_, lambda: logged("Discord answered 403"), "the 403 warning")
        await saved(5)
        await lines(3)
        discord_.remove_channel(log_channel)
        await saved(6)
        await eventually(discord_, lambda: logged("no longer exists"), "the missing-channel warning")
        assert await summary_seen(discord_, server.guild, server.member, "bcg") == "Text 6."


async def test_hostile_text_is_shown_without_pings_or_broken_embeds(discord_: StandIn, server: Server, bot) -> None:
    """Mentions and markdown in a new entry are neutralised; maximum lengths still fit Discord's limits."""
    opened = await discord_.slash(server.guild, server.moderator, "concept add")
    assert opened.modal is not None
    hostile = {
        "name": "**Bold** <@123456789012345678> @everyone",
        "aliases": "\n".join(f"alias {number} " + "x" * 90 for number in range(40)),
        "summary": "`code` ~~strike~~ " + "s" * 150,
        "definition": "> quote\n# heading\n" + "word " * 290,
        "reason": "@here",
    }
    added = await discord_.submit_modal(server.guild, server.moderator, opened.modal["custom_id"], hostile)
    embed = (await added.answer()).embeds[0]
    assert embed["title"].startswith("\\*\\*Bold\\*\\* <@\u200b123456789012345678> @\u200beveryone")
    rewritten = " ".join(f"*new{number}*" for number in range(200))[:1500]
    await edit(discord_, server, hostile["name"], definition=rewritten, summary="<@&1> " + "z" * 190)
    history = await discord_.slash(server.guild, server.moderator, "concept history", term=hostile["name"])
    embed = (await history.answer()).embeds[0]
    assert embed["title"].startswith("History:")
    assert all(len(field["value"]) <= 1024 for field in embed["fields"])
    assert "\\*new0\\*" in embed["fields"][0]["value"]
    assert_never_pinged(discord_)


async def test_acknowledged_edit_survives_kill_9(discord_: StandIn, tmp_path: Path) -> None:
    """`python -m bot` answers an edit and is SIGKILLed at once: the revision is in the database, readable."""
    guild = discord_.add_guild("Hosted")
    moderator = discord_.add_member(guild, "mod", permissions=MANAGE_GUILD)
    process = await start_process(discord_, tmp_path, discord_.token)
    try:
        await discord_.wait_for_identify(1, within=30)
        await discord_.changes.wait_for(lambda: discord_.commands(), 30, "the command sync")
        opened = await discord_.slash(guild, moderator, "concept edit", term="sirolimus", within=15)
        saved = await submit(discord_, guild, moderator, opened, summary="Survives a hard kill.", reason="durability")
        assert "revision 1" in (await saved.answer()).content
        process.kill()  # SIGKILL the moment the answer arrived: no shutdown, no checkpoint
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    with closing(sqlite3.connect(tmp_path / "bot.db")) as database:
        rows = database.execute(
            "SELECT concept_id, revision, reason, json_extract(data, '$.summary') FROM concept_revisions"
        ).fetchall()
    assert rows == [("sirolimus", 1, "durability", "Survives a hard kill.")]


def test_console_edit_import_and_export(tmp_path: Path) -> None:
    """The offline console runs the same commands: the form asks field by field, files come from and go to disk."""
    entries = tmp_path / "week3.yaml"
    entries.write_text(
        "concepts:\n"
        "  - id: our-entry\n    name: Our console entry\n    summary: Added from a file.\n    definition: D.\n"
        "    source: {document: editorial, editorial: Ours.}\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("concepts:\n  - {id: x, name: X, summary: S, definition: D, source: {document: nowhere}}\n")
    script = "\n".join([
        "/concept edit term:tacrolimus", "", "", "Edited in the console.", "", "trying it offline",
        "/define tacrolimus",
        f"/concept import file:{bad}",
        f"/concept import file:{entries}",
        "/define our console entry",
        "/concept export",
        "/concept import file:/no/such/file.yaml",
    ]) + "\n"  # fmt: skip
    result = console(script, tmp_path, "--console")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    flat = " ".join(out.split())  # the console wraps long lines
    assert "Saved “Tacrolimus” as revision 1." in flat
    assert "│ Edited in the console." in out  # the summary's bold is dropped in piped (plain) output
    assert "bad.yaml: entry 'x': field 'source.document': unknown source document 'nowhere'" in flat
    assert "Added (1): “Our console entry”" in flat
    assert "│ OUR CONSOLE ENTRY" in out
    saved = next(line for line in out.splitlines() if line.startswith("[file saved: ") and line.endswith(".yaml]"))
    exported = Path(saved.removeprefix("[file saved: ").rstrip("]")).read_text()
    _, items, problems = parse_yaml(exported, "export")
    assert problems == []
    assert sorted(item.concept.id for item in items) == ["our-entry", "tacrolimus"]
    assert "There is no file /no/such/file.yaml" in out
    assert "Traceback" not in result.stderr


async def test_an_evicted_view_is_rebuilt_with_the_servers_edits(discord_: StandIn, server: Server, bot) -> None:
    """Views unused for a while are dropped; the next lookup rebuilds the server's view with its edits intact."""
    added = await discord_.slash(
        server.guild, server.moderator, "concept alias add", term="sirolimus", alias="rapa-drug"
    )
    assert "revision 1" in (await added.answer()).content
    assert bot.catalog.built_views >= 1
    bot.catalog.evict_idle(time.monotonic() + 86_400)  # a day later: every view has been idle too long
    assert bot.catalog.built_views == 0
    found = await discord_.slash(server.guild, server.member, "define", term="rapa drug")
    assert (await found.answer()).embeds[0]["title"] == "Sirolimus"
    typed = await discord_.autocomplete(server.guild, server.member, "define", focused="term", term="rapa-dr")
    assert typed.choices[0]["name"] == "Sirolimus (rapa-drug)"
    assert bot.catalog.built_views == 1
