"""Moderator edits as an append-only overlay per guild: revisions, what a guild sees, and their storage.

A guild sees its newest revision of an entry where it has one, else the shipped entry. Every change is a
new `concept_revisions` row holding who, when, what, why and the whole entry, so nothing is overwritten
and a revert is just one more revision. All SQL of the feature is here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Text, cast, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.schema import concept_revisions
from bot.models import Concept
from bot.store import Store

log = logging.getLogger(__name__)

SETTINGS_KEY = "moderation"
"""This feature's key inside a guild's `guild_settings` JSON (other features own other keys)."""


class Action(StrEnum):
    """What a revision did."""

    ADD = "add"
    EDIT = "edit"
    ALIAS = "alias"
    HIDE = "hide"
    UNHIDE = "unhide"
    REVERT = "revert"
    IMPORT = "import"

    @property
    def past_tense(self) -> str:
        """The verb for audit lines and history ("edited", "hidden")."""
        return {
            Action.ADD: "added",
            Action.EDIT: "edited",
            Action.ALIAS: "aliases changed",
            Action.HIDE: "hidden",
            Action.UNHIDE: "unhidden",
            Action.REVERT: "reverted",
            Action.IMPORT: "imported",
        }[self]


@dataclass(frozen=True)
class Revision:
    """One saved state of an entry in one guild."""

    concept_id: str
    number: int
    action: Action
    concept: Concept
    hidden: bool
    author_id: int
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Draft:
    """A change about to be saved: the entry as it will be, and the revision it was made from (0: none)."""

    concept: Concept
    hidden: bool
    action: Action
    base: int


Overlay = Mapping[str, Revision]
"""A guild's newest revision of each entry it changed, by concept id."""


class StaleEdit(Exception):  # noqa: N818 - it names the situation, like KeyError
    """The entry gained a revision after the change was based on it; nothing was written."""

    def __init__(self, concept_id: str, base: int, current: int) -> None:
        super().__init__(f"{concept_id} is at revision {current}, the change was based on {base}")
        self.concept_id = concept_id
        self.base = base
        self.current = current


class ModerationSettings(BaseModel):
    """A guild's moderation settings: who moderates besides Manage Server, and where changes are announced."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    moderator_role_id: int | None = None
    audit_channel_id: int | None = None


def overlay_concepts(shipped: Iterable[Concept], overlay: Overlay, *, include_hidden: bool = False) -> list[Concept]:
    """Return what a guild sees: its revision where it has one, else the shipped entry; hidden ones left out.

    Shipped order is kept (an edit stays in place); entries the guild added follow, by id.
    """
    concepts: list[Concept] = []
    shipped_ids: set[str] = set()
    for concept in shipped:
        shipped_ids.add(concept.id)
        revision = overlay.get(concept.id)
        if revision is None:
            concepts.append(concept)
        elif include_hidden or not revision.hidden:
            concepts.append(revision.concept)
    for concept_id in sorted(overlay.keys() - shipped_ids):
        revision = overlay[concept_id]
        if include_hidden or not revision.hidden:
            concepts.append(revision.concept)
    return concepts


_R = concept_revisions.c
_COLUMNS = (_R.concept_id, _R.revision, _R.action, _R.data, _R.hidden, _R.author_id, _R.reason, _R.created_at)


def _revision(row: Sequence[Any]) -> Revision:
    concept_id, number, action, data, hidden, author_id, reason, created_at = row
    return Revision(
        concept_id=concept_id,
        number=number,
        action=Action(action),
        concept=Concept.model_validate_json(data),
        hidden=bool(hidden),
        author_id=author_id,
        reason=reason,
        created_at=datetime.fromisoformat(created_at),
    )


ChangeKind = Literal["glossary", "settings"]
Announce = Callable[[AsyncConnection, int, ChangeKind, Sequence[str]], Awaitable[None]]
"""Queues "this guild changed" for the other bot processes inside a write's transaction."""


class OverlayRepository:
    """Reads and appends revisions, and reads and writes this feature's guild settings."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.announce: Announce | None = None
        """Set by the client on PostgreSQL (`ChangeFeed.announce`): every write tells the other processes in its
        own transaction, so they hear of a change exactly when it commits (never of one rolled back, and never
        miss one because this process died between commit and telling)."""

    async def latest(self) -> dict[int, dict[str, Revision]]:
        """Return every guild's newest revision of each entry it changed (loaded once at start-up)."""
        newer = concept_revisions.alias("newer")
        has_newer = (
            select(newer.c.revision)
            .where(newer.c.guild_id == _R.guild_id, newer.c.concept_id == _R.concept_id, newer.c.revision > _R.revision)
            .exists()
        )
        rows = await self._store.fetch_all(select(_R.guild_id, *_COLUMNS).where(~has_newer))
        overlays: dict[int, dict[str, Revision]] = {}
        for row in rows:
            try:
                revision = _revision(row[1:])
            except (ValidationError, ValueError):
                # A row this version cannot read stays in the database untouched; the guild sees the shipped entry.
                log.error("Skipping unreadable revision of %s in guild %s", row[1], row[0], exc_info=True)
                continue
            overlays.setdefault(int(row[0]), {})[revision.concept_id] = revision
        return overlays

    async def history(self, guild_id: int, concept_id: str) -> list[Revision]:
        """Return every revision of one entry in one guild, oldest first."""
        rows = await self._store.fetch_all(
            select(*_COLUMNS).where(_R.guild_id == guild_id, _R.concept_id == concept_id).order_by(_R.revision)
        )
        return [_revision(row) for row in rows]

    async def count(self, guild_id: int, concept_id: str) -> int:
        """How many revisions one entry has in one guild."""
        return int(
            await self._store.fetch_value(
                select(func.count()).where(_R.guild_id == guild_id, _R.concept_id == concept_id)
            )
        )

    async def newest(
        self, guild_id: int, concept_id: str, *, offset: int = 0, limit: int = 25, prefix: str = ""
    ) -> list[Revision]:
        """A window of one entry's revisions, newest first (only numbers starting with `prefix` digits, if given).

        Reads only the rows shown, so paging and autocomplete cost the same at 10 revisions or 10,000.
        """
        digits = "".join(char for char in prefix if char.isdigit())[:9]
        rows = await self._store.fetch_all(
            select(*_COLUMNS)
            .where(
                _R.guild_id == guild_id,
                _R.concept_id == concept_id,
                cast(_R.revision, Text).like(f"{digits}%"),
            )
            .order_by(_R.revision.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_revision(row) for row in rows]

    async def revision(self, guild_id: int, concept_id: str, number: int) -> Revision | None:
        """One revision of an entry in a guild, if it exists."""
        rows = await self._store.fetch_all(
            select(*_COLUMNS).where(_R.guild_id == guild_id, _R.concept_id == concept_id, _R.revision == number)
        )
        return _revision(rows[0]) if rows else None

    async def append(
        self, guild_id: int, drafts: Sequence[Draft], *, author_id: int, reason: str | None, at: datetime
    ) -> list[Revision]:
        """Write the drafts as new revisions in one transaction, or nothing if any entry moved on meanwhile.

        The search index rows of the guild are replaced in the same transaction, so search never disagrees
        with what the guild sees. Raises `StaleEdit` when a draft's base is no longer the newest revision
        (also when another process wrote the same revision number first: the primary key refuses it).
        """
        saved: list[Revision] = []
        try:
            async with self._store.transaction() as db:
                for draft in drafts:
                    current = int(
                        (
                            await db.execute(
                                select(func.coalesce(func.max(_R.revision), 0)).where(
                                    _R.guild_id == guild_id, _R.concept_id == draft.concept.id
                                )
                            )
                        ).scalar_one()
                    )
                    if current != draft.base:
                        raise StaleEdit(draft.concept.id, draft.base, current)
                    revision = Revision(
                        draft.concept.id, current + 1, draft.action, draft.concept, draft.hidden, author_id, reason, at
                    )
                    await db.execute(
                        insert(concept_revisions).values(
                            guild_id=guild_id,
                            concept_id=revision.concept_id,
                            revision=revision.number,
                            action=revision.action.value,
                            data=revision.concept.model_dump_json(),
                            hidden=int(revision.hidden),
                            author_id=author_id,
                            reason=reason,
                            created_at=at.isoformat(timespec="seconds"),
                        )
                    )
                    saved.append(revision)
                await self._store.replace_search_rows(
                    db, guild_id, [r.concept_id for r in saved], [r.concept for r in saved if not r.hidden]
                )
                if self.announce is not None:
                    await self.announce(db, guild_id, "glossary", [r.concept_id for r in saved])
        except IntegrityError:
            if not saved:
                raise
            last = saved[-1]
            raise StaleEdit(last.concept_id, last.number - 1, last.number) from None
        return saved

    async def settings(self, guild_id: int) -> ModerationSettings:
        """Return the guild's moderation settings (defaults when none were set)."""
        stored = await self._store.guild_setting(guild_id, SETTINGS_KEY)
        return ModerationSettings.model_validate(stored or {})

    async def save_settings(self, guild_id: int, settings: ModerationSettings, *, at: datetime) -> None:
        """Store the guild's moderation settings, leaving the keys other features keep there untouched."""
        announce = self.announce

        async def tell_others(db: AsyncConnection) -> None:
            if announce is not None:
                await announce(db, guild_id, "settings", ())

        await self._store.set_guild_setting(
            guild_id, SETTINGS_KEY, settings.model_dump(mode="json"), at=at.isoformat(timespec="seconds"),
            within=tell_others,
        )  # fmt: skip
