"""Two guilds changing the same entry, and the database checks behind the in-memory ones.

Every test here has two guilds touch the same rows, or a second writer (its own connection, as a second
process would have) commit between this process's check and its write: a query that forgets its guild
filter, or a check that trusts memory alone, makes one of them fail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.catalog import GlossaryCatalog
from bot.editing import STALE, ConceptEditor, EntryText, Refused, Saved
from bot.loader import GlossaryData
from bot.overlay import Action, OverlayRepository
from bot.store import Store

GUILD, OTHER = 111, 222
MOD = 9
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path, shipped_data: GlossaryData) -> AsyncIterator[Store]:
    """A migrated database holding the shipped glossary."""
    async with await Store.open(tmp_path / "guilds.db") as opened:
        await opened.sync_shipped(shipped_data)
        yield opened


@pytest.fixture
async def editor(store: Store) -> ConceptEditor:
    """An editor over a freshly loaded catalog."""
    return ConceptEditor(await GlossaryCatalog.load(store), OverlayRepository(store), now=lambda: WHEN)


def form(editor: ConceptEditor, guild_id: int, concept_id: str, summary: str) -> EntryText:
    """The edit form as it opens in `guild_id`, with the summary retyped."""
    concept = editor.catalog.complete_view(guild_id).concepts[concept_id]
    return EntryText(concept.name, "\n".join(concept.aliases), summary, concept.definition)


async def edit(editor: ConceptEditor, guild_id: int, concept_id: str, summary: str) -> int:
    """Save an edit made from the guild's newest revision; return the new revision's number."""
    base = editor.revision_number(guild_id, concept_id)
    outcome = await editor.edit(
        guild_id, concept_id, base, form(editor, guild_id, concept_id, summary), author_id=MOD, reason=None
    )
    assert isinstance(outcome, Saved), outcome
    return outcome.changes[0].revision.number


def summary(catalog: GlossaryCatalog, guild_id: int, concept_id: str) -> str:
    """What the guild sees as the entry's summary."""
    return catalog.view(guild_id).concepts[concept_id].summary


async def test_each_guild_numbers_its_own_revisions_and_loads_its_own_newest(
    editor: ConceptEditor, store: Store
) -> None:
    """Three edits here, two there, of one entry: 1-3 and 1-2; a restart loads each guild's own newest."""
    assert [await edit(editor, GUILD, "tacrolimus", text) for text in ("G1.", "G2.", "G3.")] == [1, 2, 3]
    assert [await edit(editor, OTHER, "tacrolimus", text) for text in ("O1.", "O2.")] == [1, 2]
    assert await edit(editor, GUILD, "sirolimus", "G-siro.") == 1  # fewer revisions than its other entry
    reloaded = await GlossaryCatalog.load(store)
    assert summary(reloaded, GUILD, "tacrolimus") == "G3."
    assert summary(reloaded, OTHER, "tacrolimus") == "O2."
    assert summary(reloaded, GUILD, "sirolimus") == "G-siro."
    assert summary(reloaded, OTHER, "sirolimus") == reloaded.shipped.concepts["sirolimus"].summary
    assert {concept: revision.number for concept, revision in reloaded.overlay(GUILD).items()} == {
        "tacrolimus": 3, "sirolimus": 1,
    }  # fmt: skip
    assert {concept: revision.number for concept, revision in reloaded.overlay(OTHER).items()} == {"tacrolimus": 2}
    rows = await store.fetch_all("SELECT guild_id, revision FROM concept_revisions WHERE concept_id = 'tacrolimus'")
    assert sorted(rows) == [(GUILD, 1), (GUILD, 2), (GUILD, 3), (OTHER, 1), (OTHER, 2)]


async def test_history_and_revert_stay_in_their_guild(editor: ConceptEditor) -> None:
    """History lists the guild's own revisions; reverting to revision 1 takes the guild's own revision 1."""
    for text in ("G1.", "G2.", "G3."):
        await edit(editor, GUILD, "azathioprine", text)
    for text in ("O1.", "O2."):
        await edit(editor, OTHER, "azathioprine", text)
    history = await editor.history(OTHER, "azathioprine")
    assert [(r.number, r.concept.summary) for r in history] == [(1, "O1."), (2, "O2.")]
    back = await editor.revert(OTHER, "azathioprine", 1, author_id=MOD, reason=None)
    assert isinstance(back, Saved)
    assert (back.changes[0].revision.number, back.changes[0].revision.action) == (3, Action.REVERT)
    assert summary(editor.catalog, OTHER, "azathioprine") == "O1."
    assert summary(editor.catalog, GUILD, "azathioprine") == "G3."
    shipped = await editor.revert(GUILD, "azathioprine", 0, author_id=MOD, reason=None)
    assert isinstance(shipped, Saved)
    assert shipped.changes[0].revision.number == 4
    assert editor.catalog.view(GUILD).concepts["azathioprine"] == editor.catalog.shipped.concepts["azathioprine"]
    assert summary(editor.catalog, OTHER, "azathioprine") == "O1."
    missing = await editor.revert(OTHER, "azathioprine", 4, author_id=MOD, reason=None)  # GUILD has a 4; OTHER not
    assert isinstance(missing, Refused)
    assert "0 to 3" in missing.message
    assert [r.number for r in await editor.history(GUILD, "azathioprine")] == [1, 2, 3, 4]


def second_writer_commits(path: str, guild_id: int, concept_id: str, revision: int, concept_json: str) -> None:
    """Another process (its own connection) commits a revision of an entry."""
    with sqlite3.connect(path) as other:
        other.execute(
            "INSERT INTO concept_revisions (guild_id, concept_id, revision, action, data, hidden, author_id, "
            "reason, created_at) VALUES (?, ?, ?, 'edit', ?, 0, 77, 'elsewhere', ?)",
            (guild_id, concept_id, revision, concept_json, WHEN.isoformat()),
        )
    other.close()


async def test_revision_check_holds_against_a_second_writer(editor: ConceptEditor, store: Store) -> None:
    """A revision committed by another connection after the form opened refuses the save; another guild's does not."""
    sirolimus = editor.catalog.shipped.concepts["sirolimus"]
    opened = form(editor, GUILD, "sirolimus", "Mine.")
    second_writer_commits(store.path, GUILD, "sirolimus", 1, sirolimus.model_copy(update={"summary": "Theirs."})
                          .model_dump_json())  # fmt: skip
    refused = await editor.edit(GUILD, "sirolimus", 0, opened, author_id=MOD, reason=None)
    assert isinstance(refused, Refused)
    assert STALE in refused.message
    rows = await store.fetch_all("SELECT guild_id, revision, reason FROM concept_revisions ORDER BY guild_id")
    assert rows == [(GUILD, 1, "elsewhere")]
    assert summary(editor.catalog, GUILD, "sirolimus") == sirolimus.summary  # memory untouched by the refusal

    tacrolimus = editor.catalog.shipped.concepts["tacrolimus"]
    second_writer_commits(store.path, OTHER, "tacrolimus", 1, tacrolimus.model_dump_json())
    saved = await editor.edit(GUILD, "tacrolimus", 0, form(editor, GUILD, "tacrolimus", "Ours."), author_id=MOD,
                              reason=None)  # fmt: skip
    assert isinstance(saved, Saved)
    assert saved.changes[0].revision.number == 1


async def test_search_rows_are_replaced_in_their_guild_only(editor: ConceptEditor, store: Store) -> None:
    """Both guilds edit one entry; each finds its own words, not the other's, and the shipped words in neither."""
    await edit(editor, GUILD, "cyclosporine", "Zebrafish wording.")
    await edit(editor, OTHER, "cyclosporine", "Marmoset wording.")
    await edit(editor, GUILD, "cyclosporine", "Zebrafish wording again.")
    assert [hit.concept_id for hit in await editor.catalog.search("marmoset", OTHER)] == ["cyclosporine"]
    assert await editor.catalog.search("marmoset", GUILD) == []
    assert [hit.concept_id for hit in await editor.catalog.search("zebrafish", GUILD)] == ["cyclosporine"]
    assert await editor.catalog.search("zebrafish", OTHER) == []
    assert isinstance(await editor.set_hidden(GUILD, "cyclosporine", True, author_id=MOD, reason=None), Saved)
    assert await editor.catalog.search("zebrafish", GUILD) == []
    rows = await store.fetch_all("SELECT guild_id FROM concept_search WHERE concept_id = 'cyclosporine' ORDER BY 1")
    assert rows == [(0,), (OTHER,)]  # the hidden entry left this guild's index; the other guild's row stays


async def test_an_added_entry_has_no_revision_zero(editor: ConceptEditor) -> None:
    """Revision 0 is the shipped text: an entry the guild added cannot go back to it."""
    added = await editor.add(GUILD, EntryText("Our extra", "", "S.", "D."), parent=None, author_id=MOD, reason=None)
    assert isinstance(added, Saved)
    concept_id = added.changes[0].revision.concept_id
    refused = await editor.revert(GUILD, concept_id, 0, author_id=MOD, reason=None)
    assert isinstance(refused, Refused)
    assert "has no revision 0: choose one from 1 to 1" in refused.message
    assert summary(editor.catalog, GUILD, concept_id) == "S."
