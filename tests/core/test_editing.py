"""The moderation core: per-guild overlays, validation like data/, optimistic concurrency, history and revert."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.catalog import GlossaryCatalog
from bot.diff import entry_changes, word_diff
from bot.editing import ConceptEditor, EntryText, Refused, Saved, Unchanged, new_concept_id, split_aliases
from bot.export import concepts_yaml
from bot.loader import GlossaryData, SourcedConcept, check_glossary, parse_yaml
from bot.overlay import Action, ModerationSettings, OverlayRepository
from bot.store import Store

GUILD, OTHER = 111, 222
MOD = 9
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str, shipped_data: GlossaryData) -> AsyncIterator[Store]:
    """A migrated database holding the shipped glossary (each test runs on SQLite and on PostgreSQL)."""
    async with await Store.open(database_url) as opened:
        await opened.sync_shipped(shipped_data)
        yield opened


@pytest.fixture
async def editor(store: Store) -> ConceptEditor:
    """An editor over a freshly loaded catalog, with a fixed clock."""
    return ConceptEditor(await GlossaryCatalog.load(store), OverlayRepository(store), now=lambda: WHEN)


def text_of(editor: ConceptEditor, concept_id: str, **changes: str) -> EntryText:
    """The form as it opens for an entry, with some fields retyped."""
    concept = editor.catalog.complete_view(GUILD).concepts[concept_id]
    fields = {
        "name": concept.name,
        "aliases": "\n".join(concept.aliases),
        "summary": concept.summary,
        "definition": concept.definition,
    }
    return EntryText(**{**fields, **changes})


async def test_edit_is_seen_by_that_guild_only_and_stored_as_revision_one(editor: ConceptEditor, store: Store) -> None:
    """An edit changes the guild's view, resolver and search at once; other guilds and DMs keep the shipped text."""
    text = text_of(editor, "tacrolimus", summary="Our course's zebrafish wording.", definition="Rewritten.")
    outcome = await editor.edit(GUILD, "tacrolimus", 0, text, author_id=MOD, reason="course wording")
    assert isinstance(outcome, Saved)
    revision = outcome.changes[0].revision
    assert (revision.number, revision.action, revision.author_id) == (1, Action.EDIT, MOD)
    assert revision.reason == "course wording"
    catalog = editor.catalog
    assert catalog.view(GUILD).concepts["tacrolimus"].summary == "Our course's zebrafish wording."
    assert catalog.view(OTHER).concepts["tacrolimus"].summary == catalog.shipped.concepts["tacrolimus"].summary
    assert catalog.view(None) is catalog.shipped
    assert [hit.concept_id for hit in await catalog.search("zebrafish", GUILD)] == ["tacrolimus"]
    assert await catalog.search("zebrafish", OTHER) == []
    assert await catalog.search("tsukubaensis", GUILD) == []  # the shipped text it replaced is not searched
    assert [hit.concept_id for hit in await catalog.search("tsukubaensis", OTHER)] == ["tacrolimus"]
    rows = await store.fetch_all("SELECT guild_id, concept_id, revision, action FROM concept_revisions")
    assert rows == [(GUILD, "tacrolimus", 1, "edit")]


async def test_stale_edit_is_refused_and_writes_nothing(editor: ConceptEditor, store: Store) -> None:
    """Two forms opened at revision 0: the second save is refused with 'changed since you opened it'."""
    first = await editor.edit(
        GUILD, "sirolimus", 0, text_of(editor, "sirolimus", summary="First."), author_id=1, reason=None
    )
    second = await editor.edit(
        GUILD, "sirolimus", 0, text_of(editor, "sirolimus", summary="Second."), author_id=2, reason=None
    )
    assert isinstance(first, Saved)
    assert isinstance(second, Refused)
    assert "changed since you opened it" in second.message
    assert second.conflict is not None
    assert second.conflict.author_id == 1
    assert editor.catalog.view(GUILD).concepts["sirolimus"].summary == "First."
    assert await store.fetch_all("SELECT count(*) FROM concept_revisions") == [(1,)]


async def test_invalid_edit_names_the_field_and_changes_nothing(editor: ConceptEditor, store: Store) -> None:
    """Blank summary, over-long name: refused with the loader's field-level problems."""
    before = await store.table_counts()
    outcome = await editor.edit(
        GUILD, "sirolimus", 0, text_of(editor, "sirolimus", summary="   ", name="N" * 101), author_id=MOD, reason=None
    )
    assert isinstance(outcome, Refused)
    fields = {problem.field for problem in outcome.problems}
    assert {"summary", "name"} <= fields
    assert all(problem.entry == "sirolimus" for problem in outcome.problems)
    assert await store.table_counts() == before
    assert editor.catalog.overlay(GUILD) == {}


async def test_alias_collision_after_normalisation_is_refused(editor: ConceptEditor) -> None:
    """'fk 506' normalises like tacrolimus's FK506: it cannot become an alias of another entry."""
    outcome = await editor.add_alias(GUILD, "sirolimus", "fk 506", author_id=MOD, reason=None)
    assert isinstance(outcome, Refused)
    problem = outcome.problems[0]
    assert (problem.entry, problem.field) == ("sirolimus", "aliases")
    assert "tacrolimus" in problem.message
    assert editor.catalog.overlay(GUILD) == {}


async def test_alias_add_and_remove_resolve_at_once(editor: ConceptEditor) -> None:
    """A new alias resolves immediately in that guild only; removing it stops that again."""
    assert isinstance(await editor.add_alias(GUILD, "sirolimus", "rapa-drug", author_id=MOD, reason=None), Saved)
    match = editor.catalog.view(GUILD).resolver.resolve("rapa drug").match
    assert match is not None
    assert match.id == "sirolimus"
    assert editor.catalog.view(OTHER).resolver.resolve("rapa drug").match is None
    again = await editor.add_alias(GUILD, "sirolimus", "Rapa drug", author_id=MOD, reason=None)
    assert isinstance(again, Unchanged)
    assert isinstance(await editor.remove_alias(GUILD, "sirolimus", "rapa-drug", author_id=MOD, reason=None), Saved)
    assert editor.catalog.view(GUILD).resolver.resolve("rapa drug").match is None
    missing = await editor.remove_alias(GUILD, "sirolimus", "nonsense", author_id=MOD, reason=None)
    assert isinstance(missing, Refused)
    assert "not an alias" in missing.message


async def test_new_entry_gets_a_fresh_id_and_an_editorial_source(editor: ConceptEditor) -> None:
    """An added entry is editorial, placed under its category, and never reuses an id."""
    text = EntryText(
        "Tumour microenvironment", "TME; tumor immune microenvironment", "What surrounds a tumour.", "Longer text."
    )
    outcome = await editor.add(GUILD, text, parent="molecular-therapy", author_id=MOD, reason="syllabus week 3")
    assert isinstance(outcome, Saved)
    concept = outcome.changes[0].revision.concept
    assert concept.id == "tumor-microenvironment"
    assert concept.aliases == ("TME", "tumor immune microenvironment")
    assert concept.parent == "molecular-therapy"
    assert concept.source.document == "editorial"
    view = editor.catalog.view(GUILD)
    assert view.resolver.resolve("TME").match.id == "tumor-microenvironment"  # type: ignore[union-attr]
    assert "tumor-microenvironment" in {c.id for c in view.children("molecular-therapy")}
    assert "tumor-microenvironment" not in editor.catalog.view(OTHER)
    twin = await editor.add(
        GUILD, EntryText("Tumour microenvironments!", "", "S.", "D."), parent=None, author_id=MOD, reason=None
    )
    assert isinstance(twin, Refused)  # same name after normalisation
    assert new_concept_id("Tumour microenvironment", {"tumor-microenvironment"}) == "tumor-microenvironment-2"
    assert new_concept_id("🧬", set()) == "entry"


async def test_hide_unhide_keep_names_reserved(editor: ConceptEditor) -> None:
    """A hidden entry leaves the view and search but keeps its names; unhiding brings it back as it was."""
    shipped = editor.catalog.shipped.concepts["bcg"]
    assert isinstance(await editor.set_hidden(GUILD, "bcg", True, author_id=MOD, reason="not in our course"), Saved)
    assert "bcg" not in editor.catalog.view(GUILD)
    assert "bcg" in editor.catalog.complete_view(GUILD)
    assert await editor.catalog.search("Calmette", GUILD) == []
    assert await editor.catalog.search("Calmette", OTHER)
    taken = await editor.add(GUILD, EntryText("BCG", "", "S.", "D."), parent=None, author_id=MOD, reason=None)
    assert isinstance(taken, Refused)
    assert "Hidden entries keep their names: bcg" in taken.message
    again = await editor.set_hidden(GUILD, "bcg", True, author_id=MOD, reason=None)
    assert isinstance(again, Unchanged)
    assert isinstance(await editor.set_hidden(GUILD, "bcg", False, author_id=MOD, reason=None), Saved)
    assert editor.catalog.view(GUILD).concepts["bcg"] == shipped


async def test_revert_is_a_new_revision_and_zero_is_the_shipped_text(editor: ConceptEditor, store: Store) -> None:
    """Revert copies an old revision forward; history keeps every step; bad revision numbers are explained."""
    shipped = editor.catalog.shipped.concepts["azathioprine"]
    for number, summary in enumerate(("One.", "Two."), start=0):
        outcome = await editor.edit(
            GUILD, "azathioprine", number, text_of(editor, "azathioprine", summary=summary), author_id=MOD, reason=None
        )
        assert isinstance(outcome, Saved)
    back = await editor.revert(GUILD, "azathioprine", 1, author_id=MOD, reason="two was wrong")
    assert isinstance(back, Saved)
    assert back.changes[0].revision.number == 3
    assert back.changes[0].revision.reason == "back to revision 1: two was wrong"
    assert editor.catalog.view(GUILD).concepts["azathioprine"].summary == "One."
    assert isinstance(await editor.revert(GUILD, "azathioprine", 0, author_id=MOD, reason=None), Saved)
    assert editor.catalog.view(GUILD).concepts["azathioprine"] == shipped
    history = await editor.history(GUILD, "azathioprine")
    assert [(r.number, r.action) for r in history] == [
        (1, Action.EDIT), (2, Action.EDIT), (3, Action.REVERT), (4, Action.REVERT)
    ]  # fmt: skip
    assert isinstance(await editor.revert(GUILD, "azathioprine", 0, author_id=MOD, reason=None), Unchanged)
    wrong = await editor.revert(GUILD, "azathioprine", 9, author_id=MOD, reason=None)
    assert isinstance(wrong, Refused)
    assert "0 to 4" in wrong.message


async def test_import_is_all_or_nothing(editor: ConceptEditor, store: Store) -> None:
    """One bad entry refuses the whole file, naming entry and field; a good file adds and changes at once."""
    good_entry = editor.catalog.shipped.concepts["tacrolimus"].model_copy(update={"summary": "Imported summary."})
    new_entry = {
        "id": "our-extra", "name": "Our extra", "summary": "S.", "definition": "D.",
        "source": {"document": "editorial", "editorial": "Ours."}, "related": ["tacrolimus"],
    }  # fmt: skip
    bad_entry = {**new_entry, "id": "our-bad", "name": "Our bad", "related": ["no-such-entry"]}
    good_yaml = concepts_yaml([good_entry])
    bad_file = good_yaml + "  - " + "\n    ".join(f"{k}: {v}" for k, v in bad_entry.items() if k != "source")
    bad_file += "\n    source: {document: editorial, editorial: Ours.}\n"
    refused = await editor.import_entries(GUILD, bad_file, "week3.yaml", author_id=MOD, reason=None)
    assert isinstance(refused, Refused)
    assert [str(p) for p in refused.problems] == [
        "week3.yaml: entry 'our-bad': field 'related.0': unknown id 'no-such-entry'"
    ]
    assert editor.catalog.overlay(GUILD) == {}
    assert await store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]

    unchanged = editor.catalog.shipped.concepts["sirolimus"]
    good = concepts_yaml([good_entry, unchanged]) + "\n".join(
        ["  - id: our-extra", "    name: Our extra", "    summary: S.", "    definition: D.", "    related: [tacrolimus]",
         "    source: {document: editorial, editorial: Ours.}", ""]
    )  # fmt: skip
    saved = await editor.import_entries(GUILD, good, "week3.yaml", author_id=MOD, reason="week 3")
    assert isinstance(saved, Saved)
    assert {(c.revision.concept_id, c.before is None) for c in saved.changes} == {
        ("tacrolimus", False),
        ("our-extra", True),
    }
    assert saved.unchanged == ("sirolimus",)
    assert editor.catalog.view(GUILD).concepts["tacrolimus"].summary == "Imported summary."
    again = await editor.import_entries(GUILD, good, "week3.yaml", author_id=MOD, reason=None)
    assert isinstance(again, Unchanged)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("concepts: [", "not valid YAML at line 1"),
        ("documents: []\nconcepts: []\nextra: 1\n", "field 'extra': unknown top-level key"),
        ("documents:\n  - {id: doc, title: T, file: f, description: D}\n", "field 'documents': an import holds only"),
        ("concepts:\n  - {id: Bad Id, name: X, summary: S, definition: D, source: {document: editorial, editorial: E}}\n",
         "entry 'Bad Id': field 'id'"),
        ("concepts:\n  - {id: a, name: X, summary: S, definition: D, source: {document: editorial, editorial: E}}\n"
         "  - {id: a, name: Y, summary: S, definition: D, source: {document: editorial, editorial: E}}\n",
         "entry 'a': field 'id': appears more than once"),
    ],
)  # fmt: skip
async def test_bad_import_files_are_explained(editor: ConceptEditor, store: Store, text: str, expected: str) -> None:
    """Broken YAML, unknown keys, documents, bad fields, duplicate ids: refused, located, nothing written."""
    outcome = await editor.import_entries(GUILD, text, "bad.yaml", author_id=MOD, reason=None)
    assert isinstance(outcome, Refused)
    assert any(expected in str(problem) for problem in outcome.problems), [str(p) for p in outcome.problems]
    assert await store.fetch_all("SELECT count(*) FROM concept_revisions") == [(0,)]


async def test_overlays_survive_a_reload_and_settings_keep_other_keys(editor: ConceptEditor, store: Store) -> None:
    """A new catalog reads every guild's newest revisions; settings live beside other features' keys."""
    await editor.set_hidden(GUILD, "bcg", True, author_id=MOD, reason=None)
    await editor.add_alias(OTHER, "sirolimus", "rapa-drug", author_id=MOD, reason=None)
    async with store.transaction() as db:
        await db.execute(
            text(
                """INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (:guild, '{"daily": 1}', 'x')"""
            ),
            {"guild": GUILD},
        )
    await editor.save_settings(GUILD, ModerationSettings(moderator_role_id=5, audit_channel_id=6))
    reloaded = await GlossaryCatalog.load(store)
    assert "bcg" not in reloaded.view(GUILD)
    assert "bcg" in reloaded.view(OTHER)
    assert reloaded.view(OTHER).resolver.resolve("rapa drug").match is not None
    fresh = ConceptEditor(reloaded, OverlayRepository(store))
    assert await fresh.settings(GUILD) == ModerationSettings(moderator_role_id=5, audit_channel_id=6)
    assert await fresh.settings(OTHER) == ModerationSettings()
    assert [json.loads(row[0])["daily"] for row in await store.fetch_all("SELECT settings FROM guild_settings")] == [1]


def test_aliases_split_on_lines_and_semicolons_only() -> None:
    """Commas may be part of an alias (the sources' 'thymosin, thymosin'), so they do not split."""
    assert split_aliases("a\n b ; c,d\n\n;") == ["a", "b", "c,d"]


def test_export_reads_back_to_the_same_entries(shipped_data: GlossaryData) -> None:
    """Every shipped entry written by the exporter parses back identical, with the same validator."""
    concepts = [item.concept for item in shipped_data.concepts]
    text = concepts_yaml(concepts, ["a comment", "over\ntwo lines"])
    assert text.startswith("# a comment\n# over two lines\nconcepts:\n")
    _, items, problems = parse_yaml(text, "export.yaml")
    assert problems == []
    assert [item.concept for item in items] == concepts


async def test_a_change_rebuilds_only_its_own_guilds_view(editor: ConceptEditor) -> None:
    """Another guild's cached view and resolver are the very same objects after this guild's edit."""
    await editor.add_alias(OTHER, "sirolimus", "rapa-drug", author_id=MOD, reason=None)
    other_view = editor.catalog.view(OTHER)
    other_resolver = other_view.resolver
    await editor.add_alias(GUILD, "tacrolimus", "tac-drug", author_id=MOD, reason=None)
    assert editor.catalog.view(OTHER) is other_view
    assert editor.catalog.view(OTHER).resolver is other_resolver
    assert editor.catalog.view(GUILD).resolver.resolve("tac drug").match is not None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a b c", "a x c", (("=", "a"), ("-", "b"), ("+", "x"), ("=", "c"))),
        ("one two", "one two three", (("=", "one two"), ("+", "three"))),
        (
            " ".join(f"w{i}" for i in range(30)),
            " ".join(f"w{i}" for i in range(29)) + " end",
            (("…", ""), ("=", "w23 w24 w25 w26 w27 w28"), ("-", "w29"), ("+", "end")),
        ),
    ],
)
def test_word_diff_keeps_a_little_context(old: str, new: str, expected: tuple[tuple[str, str], ...]) -> None:
    """Removed and added words, with up to six unchanged words around them and long runs elided."""
    assert word_diff(old, new) == expected


def test_entry_changes_name_each_changed_field(shipped_data: GlossaryData) -> None:
    """Prose gets a word diff, lists added/removed items, structured fields before → after."""
    before = next(item.concept for item in shipped_data.concepts if item.concept.id == "tacrolimus")
    after = before.model_copy(update={"summary": "New.", "aliases": (*before.aliases[1:], "tac-drug"), "parent": None})
    changes = {change.field: change for change in entry_changes(before, after)}
    assert set(changes) == {"summary", "aliases", "parent"}
    assert changes["aliases"].added == ("tac-drug",)
    assert changes["aliases"].removed == (before.aliases[0],)
    assert (changes["parent"].before, changes["parent"].after) == ("immunosuppressant", "(none)")


async def test_importing_a_hidden_entry_shows_it_again(editor: ConceptEditor) -> None:
    """An import says what the server should show: a hidden entry in the file becomes visible, and is reported so."""
    await editor.set_hidden(GUILD, "bcg", True, author_id=MOD, reason=None)
    shipped = editor.catalog.shipped.concepts["bcg"]
    saved = await editor.import_entries(GUILD, concepts_yaml([shipped]), "bcg.yaml", author_id=MOD, reason=None)
    assert isinstance(saved, Saved)
    assert [(c.revision.action, c.was_hidden, c.revision.hidden) for c in saved.changes] == [
        (Action.IMPORT, True, False)
    ]
    assert editor.catalog.view(GUILD).concepts["bcg"] == shipped


async def test_a_problem_a_shipped_update_caused_does_not_block_unrelated_edits(
    editor: ConceptEditor, store: Store, shipped_data: GlossaryData
) -> None:
    """A new shipped alias that collides with a server's alias is reported only when it is that edit's doing."""
    await editor.add_alias(GUILD, "sirolimus", "rapa-drug", author_id=MOD, reason=None)
    updated = [
        replace(item, concept=item.concept.model_copy(update={"aliases": (*item.concept.aliases, "rapa drug")}))
        if item.concept.id == "cyclosporine" else item
        for item in shipped_data.concepts
    ]  # fmt: skip
    await store.sync_shipped(GlossaryData(shipped_data.documents, tuple(updated)))
    reloaded = ConceptEditor(await GlossaryCatalog.load(store), OverlayRepository(store))
    view = [SourcedConcept("view", concept) for concept in reloaded.catalog.view(GUILD).concepts.values()]
    assert any("'rapa drug'" in str(problem) for problem in check_glossary(view))  # the collision exists
    unrelated = await reloaded.edit(
        GUILD, "sirolimus", 1, text_of(reloaded, "sirolimus", summary="Still editable."), author_id=MOD, reason=None
    )
    assert isinstance(unrelated, Saved)
    another = await reloaded.add_alias(GUILD, "tacrolimus", "ciclosporin A", author_id=MOD, reason=None)
    assert isinstance(another, Refused)


@pytest.mark.parametrize("kept", [64, 1])
async def test_names_are_reserved_per_guild_by_the_shipped_index_under_the_guilds_own(
    editor: ConceptEditor, kept: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name a guild's own edit freed or claimed counts in that guild only, also once its index was dropped."""
    monkeypatch.setattr("bot.editing.NAME_INDEXES_KEPT", kept)
    removed = await editor.remove_alias(GUILD, "tacrolimus", "FK506", author_id=MOD, reason=None)
    assert isinstance(removed, Saved)
    assert isinstance(await editor.add_alias(OTHER, "sirolimus", "rapa-drug", author_id=MOD, reason=None), Saved)
    # The alias tacrolimus gave up is free here, still taken in the other guild; the other's alias is its own.
    assert isinstance(await editor.add_alias(GUILD, "sirolimus", "FK 506", author_id=MOD, reason=None), Saved)
    taken = await editor.add_alias(OTHER, "cyclosporine", "FK506", author_id=MOD, reason=None)
    assert isinstance(taken, Refused)
    assert "tacrolimus" in taken.problems[0].message
    assert isinstance(await editor.add_alias(GUILD, "cyclosporine", "rapa drug", author_id=MOD, reason=None), Saved)
    clash = await editor.add_alias(OTHER, "cyclosporine", "Rapa-Drug", author_id=MOD, reason=None)
    assert isinstance(clash, Refused)
    assert "sirolimus" in clash.problems[0].message
    # A look-alike of a name the guild claimed is refused like the name itself.
    lookalike = await editor.add_alias(GUILD, "tacrolimus", "r\u0430pa drug", author_id=MOD, reason=None)  # Cyrillic а
    assert isinstance(lookalike, Refused)
    assert "look-alike" in lookalike.problems[0].message
    assert "cyclosporine" in lookalike.problems[0].message
    match = editor.catalog.view(GUILD).resolver.resolve("fk506").match
    assert match is not None
    assert match.id == "sirolimus"
