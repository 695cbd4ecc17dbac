"""Moderator changes to one guild's glossary: checked exactly like `data/`, saved as revisions, seen at once.

Every change goes through `ConceptEditor._commit`: the new entries are checked with the loader's own
validator (`parse_entries` for each entry's fields, `check_glossary` over the guild's whole view, hidden
entries included, so a hidden entry keeps its names and can always come back), written as revisions in
one transaction, and only then taken into the guild's cached view. Changes of one guild are serialised,
so a check and the write it allows can never be separated by another moderator's change.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.catalog import GlossaryCatalog
from bot.glossary import Glossary
from bot.loader import (
    LayeredNameOwners,
    NameOwners,
    Problem,
    SourcedConcept,
    check_changes,
    name_owners,
    parse_entries,
    parse_import,
)
from bot.models import EDITORIAL, Concept, Source
from bot.normalise import lookup_keys, normalise
from bot.overlay import (
    Action,
    ChangeKind,
    Draft,
    ModerationSettings,
    Overlay,
    OverlayRepository,
    Revision,
    StaleEdit,
)

VIEW_ORIGIN = "this server's glossary"
FORM_ORIGIN = "your entry"
ALIAS_ORIGIN = "your alias"
MAX_IMPORT_ENTRIES = 500
MAX_ADDED_ENTRIES = 1000
NAME_INDEXES_KEPT = 64
"""Guild name indexes kept between edits (the rest are rebuilt from the guild's overlay when next edited)."""
"""Entries one server may add beyond the shipped ones (hidden ones count: they keep their names)."""
IMPORT_SECONDS = 5.0
"""Time budget for reading and validating one import file (in a worker thread)."""
ID_LENGTH = 48
ADDED_SOURCE = Source(
    document=EDITORIAL, editorial="Added by this server's moderators; not taken from the source documents."
)
GONE = "That entry is no longer in this server's glossary."
FULL = (
    f"This server has added {MAX_ADDED_ENTRIES:,} entries of its own, the most a server may add. "
    "Nothing was saved: edit an existing entry instead."
)
STALE = "changed since you opened it"


@dataclass(frozen=True)
class EntryText:
    """The entry form as a moderator submitted it, every field exactly as typed."""

    name: str
    aliases: str
    summary: str
    definition: str

    def labelled(self) -> dict[str, str]:
        """The fields by their form labels, to hand text back to its author when it cannot be saved."""
        return {"Name": self.name, "Aliases": self.aliases, "Summary": self.summary, "Definition": self.definition}


def split_aliases(text: str) -> list[str]:
    """Read aliases typed one per line or separated by semicolons (a comma can be part of an alias)."""
    return [alias.strip() for alias in re.split(r"[\n;]", text) if alias.strip()]


def aliases_text(concept: Concept) -> str:
    """Write aliases one per line, as the form shows them."""
    return "\n".join(concept.aliases)


@dataclass(frozen=True)
class Change:
    """A saved revision and what the entry was before it (None: the entry is new)."""

    revision: Revision
    before: Concept | None
    was_hidden: bool


@dataclass(frozen=True)
class Saved:
    """The change was written; `unchanged` lists imported entries that were already the same."""

    changes: tuple[Change, ...]
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """Nothing was written, and why; `conflict` is the revision that got in first after the form was opened."""

    message: str
    problems: tuple[Problem, ...] = ()
    conflict: Revision | None = None


@dataclass(frozen=True)
class Unchanged:
    """There was nothing to write (the text is already so)."""

    message: str


Outcome = Saved | Refused | Unchanged


def _problem_key(problem: Problem) -> tuple[str | None, str | None, str]:
    return problem.entry, problem.field, problem.message


def new_concept_id(name: str, taken: set[str]) -> str:
    """Derive a stable id from a new entry's name, unique among every id the guild has ever used."""
    base = re.sub(r"[^a-z0-9]+", "-", normalise(name)).strip("-")[:ID_LENGTH].strip("-") or "entry"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def referrers(glossary: Glossary, concept_id: str) -> list[Concept]:
    """Return the entries that link to `concept_id` (related, parent, classification, axis, protocol)."""
    found = []
    for concept in glossary.concepts.values():
        links = {*concept.related, concept.parent, concept.axis, *concept.classification.values()}
        if concept.stage is not None:
            links.add(concept.stage.protocol)
        if concept_id in links and concept.id != concept_id:
            found.append(concept)
    return glossary.sorted(found)


def utc_now() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


class ConceptEditor:
    """Every moderator change to a guild's glossary, and the guild's moderation settings."""

    def __init__(
        self, catalog: GlossaryCatalog, repository: OverlayRepository, now: Callable[[], datetime] = utc_now
    ) -> None:
        self.catalog = catalog
        self.repository = repository
        self.now = now
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._settings: dict[int, ModerationSettings] = {}
        self._owners: OrderedDict[int, tuple[Overlay, NameOwners]] = OrderedDict()
        self._shipped_owners: tuple[Glossary, NameOwners] | None = None

    # --- reading ------------------------------------------------------------------------------------------

    def revision_number(self, guild_id: int, concept_id: str) -> int:
        """Return the entry's newest revision number in the guild (0: the shipped text, or no such entry)."""
        revision = self.catalog.overlay(guild_id).get(concept_id)
        return revision.number if revision else 0

    async def history(self, guild_id: int, concept_id: str) -> list[Revision]:
        """Return every revision of the entry in the guild, oldest first."""
        return await self.repository.history(guild_id, concept_id)

    async def settings(self, guild_id: int) -> ModerationSettings:
        """Return the guild's moderation settings (cached: other processes say when they change them)."""
        if guild_id not in self._settings:
            self._settings[guild_id] = await self.repository.settings(guild_id)
        return self._settings[guild_id]

    async def save_settings(self, guild_id: int, settings: ModerationSettings) -> None:
        """Store the guild's moderation settings."""
        await self.repository.save_settings(guild_id, settings, at=self.now())
        self._settings[guild_id] = settings

    # --- changes ------------------------------------------------------------------------------------------

    def added_count(self, guild_id: int) -> int:
        """How many entries the guild has added beyond the shipped ones (hidden ones included)."""
        return len(self.catalog.overlay(guild_id).keys() - self.catalog.shipped.concepts.keys())

    async def add(
        self, guild_id: int, text: EntryText, *, parent: str | None, author_id: int, reason: str | None
    ) -> Outcome:
        """Add a new entry to the guild's glossary (an editorial entry, placed under `parent` if given)."""
        async with self._locks[guild_id]:
            if self.added_count(guild_id) >= MAX_ADDED_ENTRIES:
                return Refused(FULL)
            taken = set(self.catalog.shipped.concepts) | set(self.catalog.overlay(guild_id))  # hidden ones too
            raw: dict[str, Any] = {
                "id": new_concept_id(text.name, taken),
                "name": text.name,
                "aliases": split_aliases(text.aliases),
                "summary": text.summary,
                "definition": text.definition,
                "source": ADDED_SOURCE.model_dump(mode="json", exclude_none=True),
            }
            if parent:
                raw["parent"] = parent
            concept, problems = _parse(raw, FORM_ORIGIN)
            if concept is None:
                return Refused("The entry was not added.", tuple(problems))
            return await self._commit(guild_id, [Draft(concept, False, Action.ADD, 0)], FORM_ORIGIN, author_id, reason)

    async def edit(
        self, guild_id: int, concept_id: str, base: int, text: EntryText, *, author_id: int, reason: str | None
    ) -> Outcome:
        """Save an edited entry, unless it gained a revision after the form was opened at revision `base`."""
        async with self._locks[guild_id]:
            current = self.catalog.complete_view(guild_id).get(concept_id)
            if current is None:
                return Refused(GONE)
            revision = self.catalog.overlay(guild_id).get(concept_id)
            number = revision.number if revision else 0
            if number != base:
                return Refused(f"“{current.name}” was {STALE}.", conflict=revision)
            raw = current.model_dump(mode="json")
            raw.update(
                name=text.name, aliases=split_aliases(text.aliases), summary=text.summary, definition=text.definition
            )
            concept, problems = _parse(raw, FORM_ORIGIN)
            if concept is None:
                return Refused("Nothing was saved.", tuple(problems))
            if concept == current:
                return Unchanged(f"Nothing to save: “{current.name}” already reads exactly like that.")
            hidden = revision.hidden if revision else False
            return await self._commit(
                guild_id, [Draft(concept, hidden, Action.EDIT, number)], FORM_ORIGIN, author_id, reason
            )

    async def add_alias(
        self, guild_id: int, concept_id: str, alias: str, *, author_id: int, reason: str | None
    ) -> Outcome:
        """Add a name the entry answers to; refused if another entry already answers to it."""
        async with self._locks[guild_id]:
            current = self.catalog.complete_view(guild_id).get(concept_id)
            if current is None:
                return Refused(GONE)
            wanted = {key for key in lookup_keys(alias) if key}
            same = next((name for name in current.names if wanted & set(lookup_keys(name))), None)
            if same is not None:
                return Unchanged(f"“{current.name}” already answers to “{same}”.")
            raw = current.model_dump(mode="json")
            raw["aliases"] = [*current.aliases, alias.strip()]
            return await self._save_alias_change(guild_id, current, raw, author_id, reason)

    async def remove_alias(
        self, guild_id: int, concept_id: str, alias: str, *, author_id: int, reason: str | None
    ) -> Outcome:
        """Remove one alias of the entry (matched exactly, else after normalisation)."""
        async with self._locks[guild_id]:
            current = self.catalog.complete_view(guild_id).get(concept_id)
            if current is None:
                return Refused(GONE)
            match = next((a for a in current.aliases if a == alias.strip()), None)
            if match is None:
                key = normalise(alias)
                match = next((a for a in current.aliases if key and normalise(a) == key), None)
            if match is None:
                listed = ", ".join(f"“{a}”" for a in current.aliases) or "none"
                return Refused(f"“{alias.strip()}” is not an alias of “{current.name}”. Its aliases: {listed}.")
            raw = current.model_dump(mode="json")
            raw["aliases"] = [a for a in current.aliases if a != match]
            return await self._save_alias_change(guild_id, current, raw, author_id, reason)

    async def _save_alias_change(
        self, guild_id: int, current: Concept, raw: dict[str, Any], author_id: int, reason: str | None
    ) -> Outcome:
        concept, problems = _parse(raw, ALIAS_ORIGIN)
        if concept is None:
            return Refused("The aliases were not changed.", tuple(problems))
        revision = self.catalog.overlay(guild_id).get(current.id)
        hidden = revision.hidden if revision else False
        draft = Draft(concept, hidden, Action.ALIAS, revision.number if revision else 0)
        return await self._commit(guild_id, [draft], ALIAS_ORIGIN, author_id, reason)

    async def set_hidden(
        self, guild_id: int, concept_id: str, hidden: bool, *, author_id: int, reason: str | None
    ) -> Outcome:
        """Hide an entry in the guild, or show a hidden one again (both are revisions, so both reversible)."""
        async with self._locks[guild_id]:
            current = self.catalog.complete_view(guild_id).get(concept_id)
            if current is None:
                return Refused(GONE)
            revision = self.catalog.overlay(guild_id).get(concept_id)
            if (revision.hidden if revision else False) == hidden:
                state = "hidden" if hidden else "not hidden"
                return Unchanged(f"“{current.name}” is already {state} in this server.")
            draft = Draft(current, hidden, Action.HIDE if hidden else Action.UNHIDE, revision.number if revision else 0)
            return await self._commit(guild_id, [draft], VIEW_ORIGIN, author_id, reason)

    async def revert(
        self, guild_id: int, concept_id: str, target: int, *, author_id: int, reason: str | None
    ) -> Outcome:
        """Make an earlier revision current again, as a new revision (0 is the shipped entry)."""
        async with self._locks[guild_id]:
            current = self.catalog.complete_view(guild_id).get(concept_id)
            if current is None:
                return Refused(GONE)
            shipped = self.catalog.shipped.get(concept_id)
            newest = self.catalog.overlay(guild_id).get(concept_id)
            if target == 0 and shipped is not None:
                wanted, hidden = shipped, False
            else:
                chosen = await self.repository.revision(guild_id, concept_id, target) if target > 0 else None
                if chosen is None:
                    first = "0" if shipped is not None else "1"
                    last = newest.number if newest else 0
                    span = f"{first} to {last}" if last else "0 (the shipped entry) only"
                    return Refused(f"“{current.name}” has no revision {target}: choose one from {span}.")
                wanted, hidden = chosen.concept, chosen.hidden
            if wanted == current and hidden == (newest.hidden if newest else False):
                return Unchanged(f"“{current.name}” is already the same as revision {target}.")
            note = f"back to revision {target}" + (f": {reason}" if reason else "")
            draft = Draft(wanted, hidden, Action.REVERT, newest.number if newest else 0)
            return await self._commit(guild_id, [draft], f"revision {target}", author_id, note)

    async def import_entries(
        self, guild_id: int, text: str, filename: str, *, author_id: int, reason: str | None
    ) -> Outcome:
        """Apply a YAML file in the `data/` format: every entry or none, validated exactly like `data/`.

        The file is read and validated in a worker thread with a time budget; every problem is reported at
        once (the file's shape first), including those between its valid entries and the server's glossary.
        """
        items, problems = await asyncio.to_thread(
            parse_import, text, filename, max_entries=MAX_IMPORT_ENTRIES, seconds=IMPORT_SECONDS
        )
        if not items and not problems:
            return Unchanged(f"{filename} holds no concepts: nothing was imported.")
        async with self._locks[guild_id]:
            everything = self.catalog.complete_view(guild_id)
            overlay = self.catalog.overlay(guild_id)
            drafts: list[Draft] = []
            unchanged: list[str] = []
            for item in items:
                revision = overlay.get(item.concept.id)
                hidden = revision.hidden if revision else False
                if everything.get(item.concept.id) == item.concept and not hidden:
                    unchanged.append(item.concept.id)
                    continue
                drafts.append(Draft(item.concept, False, Action.IMPORT, revision.number if revision else 0))
            new = sum(1 for d in drafts if d.concept.id not in overlay and d.concept.id not in self.catalog.shipped)
            if new and self.added_count(guild_id) + new > MAX_ADDED_ENTRIES:
                problems.insert(0, Problem(filename, None, "concepts", f"it adds {new} entries, and this server has "
                                f"{self.added_count(guild_id)} of its own: a server may add at most "
                                f"{MAX_ADDED_ENTRIES:,}"))  # fmt: skip
            if problems:
                await self._index_names(guild_id)
                failed = {problem.entry for problem in problems if problem.entry}
                problems += [
                    problem
                    for problem in (self.problems_introduced(guild_id, drafts, filename) if drafts else [])
                    if not any(f"unknown id '{entry}'" in problem.message for entry in failed)
                ]
                return Refused("Nothing was imported.", tuple(problems))
            if not drafts:
                return Unchanged(f"Every entry in {filename} already reads the same here: nothing changed.")
            outcome = await self._commit(guild_id, drafts, filename, author_id, reason)
            if isinstance(outcome, Refused):
                return Refused("Nothing was imported.", outcome.problems, outcome.conflict)
            return Saved(outcome.changes, tuple(unchanged)) if isinstance(outcome, Saved) else outcome

    # --- the one way a change is written ------------------------------------------------------------------

    def problems_introduced(self, guild_id: int, drafts: Sequence[Draft], origin: str) -> list[Problem]:
        """Check what the drafts change against the guild's view; report only what the drafts make wrong.

        Only the changed entries are checked (their fields, names against an index of every other name, and
        whatever refers to them), so an edit costs the same in a glossary of 300 entries or 5,000. Problems
        already present (say a shipped update collided with a guild's alias) do not block unrelated edits;
        they are fixed by editing the entries they name.
        """
        everything = self.catalog.complete_view(guild_id)
        documents = self.catalog.shipped.documents.values()
        owners = self._name_owners(guild_id, everything)
        changed = [SourcedConcept(origin, draft.concept) for draft in drafts]
        before = [
            SourcedConcept(origin, everything.concepts[d.concept.id]) for d in drafts if d.concept.id in everything
        ]
        known = {
            _problem_key(problem)
            for problem in check_changes(everything.concepts, before, documents, owners, everything.stages)
        }
        return [
            problem
            for problem in check_changes(everything.concepts, changed, documents, owners, everything.stages)
            if _problem_key(problem) not in known
        ]

    def _name_owners(self, guild_id: int, everything: Glossary) -> NameOwners:
        """The name index of the guild's complete view: the shipped index under the guild's own names.

        Kept for the most recently edited guilds only (a guild's own part is rebuilt from its overlay on demand).
        """
        overlay = self.catalog.overlay(guild_id)
        cached = self._owners.get(guild_id)
        if cached is None or cached[0] is not overlay:
            cached = (overlay, self._layered_owners(overlay))
        self._owners[guild_id] = cached
        self._owners.move_to_end(guild_id)
        while len(self._owners) > NAME_INDEXES_KEPT:
            self._owners.popitem(last=False)
        return cached[1]

    def _layered_owners(self, overlay: Overlay) -> NameOwners:
        shipped = self.catalog.shipped
        if self._shipped_owners is None or self._shipped_owners[0] is not shipped:
            self._shipped_owners = (shipped, name_owners(shipped.concepts.values()))
        return LayeredNameOwners(self._shipped_owners[1], (revision.concept for revision in overlay.values()))

    async def _commit(
        self, guild_id: int, drafts: Sequence[Draft], origin: str, author_id: int, reason: str | None
    ) -> Outcome:
        """Check, write and apply the drafts (the caller holds the guild's lock)."""
        await self._index_names(guild_id)
        problems = self.problems_introduced(guild_id, drafts, origin)
        if problems:
            hidden = self.catalog.hidden_ids(guild_id)
            named = sorted(i for i in hidden if any(f"'{i}'" in str(problem) for problem in problems))
            note = f" (Hidden entries keep their names: {', '.join(named)}.)" if named else ""
            return Refused(f"Nothing was saved.{note}", tuple(problems))
        everything = self.catalog.complete_view(guild_id)
        overlay = self.catalog.overlay(guild_id)
        try:
            revisions = await self.repository.append(
                guild_id, drafts, author_id=author_id, reason=reason or None, at=self.now()
            )
        except StaleEdit as stale:  # another process wrote meanwhile (one process never gets here: the lock)
            return Refused(f"“{stale.concept_id}” was {STALE}.", conflict=overlay.get(stale.concept_id))
        changes = tuple(
            Change(
                revision,
                everything.get(revision.concept_id),
                bool(overlay.get(revision.concept_id) and overlay[revision.concept_id].hidden),
            )
            for revision in revisions
        )
        self.catalog.install(await asyncio.to_thread(self.catalog.prepare, guild_id, revisions))
        return Saved(changes)

    # --- other processes (PostgreSQL) -----------------------------------------------------------------------

    async def reload(self, guild_id: int, what: ChangeKind, concepts: Sequence[str] = ()) -> None:
        """Take in a change another process committed: the guild's settings, or its overlay and views (only the
        named entries' newest revisions are read when the change names them)."""
        if what == "settings":
            self._settings[guild_id] = await self.repository.settings(guild_id)
            return
        async with self._locks[guild_id]:  # never interleaved with a change made here
            if concepts:
                overlay = dict(self.catalog.overlay(guild_id))
                for concept_id in concepts:
                    newest = await self.repository.newest(guild_id, concept_id, limit=1)
                    if newest:
                        overlay[concept_id] = newest[0]
            else:
                overlay = (await self.repository.latest()).get(guild_id, {})
            await self._install_overlay(guild_id, overlay)

    async def resync(self) -> None:
        """Take in every change other processes made while this one was not listening."""
        self._settings.clear()  # read again on next use
        for guild_id, overlay in (await self.repository.latest()).items():
            async with self._locks[guild_id]:
                await self._install_overlay(guild_id, overlay)

    async def _install_overlay(self, guild_id: int, overlay: dict[str, Revision]) -> None:
        known = {concept_id: revision.number for concept_id, revision in self.catalog.overlay(guild_id).items()}
        if known == {concept_id: revision.number for concept_id, revision in overlay.items()}:
            return  # nothing new (or already applied here)
        self.catalog.install(await asyncio.to_thread(self.catalog.prepare, guild_id, overlay.values()))

    async def _index_names(self, guild_id: int) -> None:
        """Build the guild's name index in a worker thread if it has none (a large guild's first change)."""
        overlay = self.catalog.overlay(guild_id)
        cached = self._owners.get(guild_id)
        if cached is None or cached[0] is not overlay:
            self._owners[guild_id] = (overlay, await asyncio.to_thread(self._layered_owners, overlay))


def _parse(raw: dict[str, Any], origin: str) -> tuple[Concept | None, list[Problem]]:
    """Validate one entry with the loader's own per-entry validation."""
    _, items, problems = parse_entries({"concepts": [raw]}, origin)
    return (items[0].concept if items and not problems else None), problems
