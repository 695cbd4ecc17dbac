"""The glossary each audience sees, kept in memory and rebuilt only when its data changes."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.glossary import Glossary
from bot.layered import LayeredGlossary, ShippedLayer
from bot.overlay import Overlay, OverlayRepository, Revision
from bot.search import STOP_WORDS, SearchQuery, engine_terms, parse_query, tokens
from bot.store import SearchHit, Store

MENTION_MIN_CHARS = 3
"""Letters and digits a term needs before entries that mention it are worth listing (`IL-2` has three)."""


@dataclass(frozen=True)
class SearchPage:
    """One page of /search results: the query as understood, the hits on this page, and the total."""

    query: SearchQuery
    hits: list[SearchHit]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages the results fill (at least one)."""
        return max(1, -(-self.total // self.page_size))

    @property
    def first(self) -> int:
        """The 1-based number of this page's first hit."""
        return self.page * self.page_size + 1


@dataclass(frozen=True)
class PreparedViews:
    """A guild's overlay and views with new revisions applied, built but not yet in use."""

    guild_id: int
    overlay: dict[str, Revision]
    view: Glossary
    complete: Glossary | None


VIEW_IDLE_SECONDS = 3600.0
"""A guild's view unused this long is dropped; its next command rebuilds it from the overlay (~2 ms)."""

MAX_VIEWS = 5_000
"""At most this many guilds' views are kept built, least recently used dropped first."""


class GlossaryCatalog:
    """Serves each guild's view (shipped entries under its moderators' overlay) and full-text search over it.

    A guild's view shares the shipped glossary and its index and keeps only the guild's changes (bot/layered.py),
    so memory grows with edits, not with guilds. Views are built on first use from the overlay held in memory,
    dropped when unused for a while (or when too many are built), and rebuilt on demand; a committed change
    replaces that guild's overlay and view only.
    """

    def __init__(
        self,
        store: Store,
        shipped: Glossary,
        overlays: dict[int, dict[str, Revision]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        idle_seconds: float = VIEW_IDLE_SECONDS,
        max_views: int = MAX_VIEWS,
    ) -> None:
        self._store = store
        self._shipped = shipped
        self._layer = ShippedLayer(shipped)
        self._overlays: dict[int, dict[str, Revision]] = overlays or {}
        self._clock = clock
        self._idle_seconds = idle_seconds
        self._max_views = max_views
        self._views: OrderedDict[tuple[int, bool], tuple[Glossary, float]] = OrderedDict()
        """Built views by (guild, hidden entries included), least recently used first, with when last used."""

    @classmethod
    async def load(cls, store: Store) -> GlossaryCatalog:
        """Read the shipped glossary and every guild's overlay, and build the shipped resolver before any command."""
        shipped = Glossary(await store.shipped_concepts(), await store.source_documents())
        _ = shipped.resolver, shipped.vocabulary  # build now, not inside the first interaction's 3-second window
        return cls(store, shipped, await OverlayRepository(store).latest())

    @property
    def shipped(self) -> Glossary:
        """The glossary as shipped in data/."""
        return self._shipped

    @property
    def built_views(self) -> int:
        """How many guild views are currently built (for the benchmark and health reports)."""
        return len(self._views)

    def overlay(self, guild_id: int | None) -> Overlay:
        """Return the guild's newest revision of each entry its moderators changed (empty for none, or DMs)."""
        return self._overlays.get(guild_id, {}) if guild_id is not None else {}

    def view(self, guild_id: int | None) -> Glossary:
        """Return what members of `guild_id` see (the shipped glossary where the guild has no edits)."""
        overlay = self.overlay(guild_id)
        if not overlay or guild_id is None:
            return self._shipped
        return self._cached(guild_id, overlay, include_hidden=False)

    def complete_view(self, guild_id: int | None) -> Glossary:
        """Return the guild's view with its hidden entries included (for moderators: history, unhide, validation)."""
        overlay = self.overlay(guild_id)
        if guild_id is None or not any(revision.hidden for revision in overlay.values()):
            return self.view(guild_id)
        return self._cached(guild_id, overlay, include_hidden=True)

    def _cached(self, guild_id: int, overlay: Overlay, *, include_hidden: bool) -> Glossary:
        now = self._clock()
        self.evict_idle(now)
        key = (guild_id, include_hidden)
        cached = self._views.get(key)
        view = cached[0] if cached else LayeredGlossary(self._layer, overlay, include_hidden=include_hidden)
        self._views[key] = (view, now)
        self._views.move_to_end(key)
        while len(self._views) > self._max_views:
            self._views.popitem(last=False)
        return view

    def evict_idle(self, now: float | None = None) -> None:
        """Drop views unused for `idle_seconds` (the overlay stays: the next command rebuilds the view from it)."""
        cutoff = (self._clock() if now is None else now) - self._idle_seconds
        while self._views:
            key, (_, used) = next(iter(self._views.items()))
            if used > cutoff:
                break
            del self._views[key]

    def forget_view(self, guild_id: int) -> None:
        """Drop the guild's built views; they are rebuilt from its overlay on the next command."""
        self._views.pop((guild_id, False), None)
        self._views.pop((guild_id, True), None)

    def hidden_ids(self, guild_id: int | None) -> set[str]:
        """Return the ids of the entries hidden in the guild."""
        return {concept_id for concept_id, revision in self.overlay(guild_id).items() if revision.hidden}

    def apply(self, guild_id: int, revisions: Iterable[Revision]) -> None:
        """Take committed revisions into the guild's overlay and rebuild that guild's view and resolver now."""
        self.install(self.prepare(guild_id, revisions))

    def replace_overlay(self, guild_id: int, overlay: dict[str, Revision]) -> None:
        """Make `overlay` the guild's whole overlay (as re-read from the store) and rebuild its view."""
        self._overlays[guild_id] = dict(overlay)
        self.forget_view(guild_id)

    def prepare(self, guild_id: int, revisions: Iterable[Revision]) -> PreparedViews:
        """Build the guild's views with the revisions applied, changing nothing yet.

        Safe in a worker thread (it only reads); `install` then swaps the views in at once. Building a layered
        view indexes only the guild's own entries, so this takes a couple of milliseconds.
        """
        overlay = dict(self._overlays.get(guild_id, {}))
        for revision in revisions:
            overlay[revision.concept_id] = revision
        view = LayeredGlossary(self._layer, overlay)
        complete = None
        if any(revision.hidden for revision in overlay.values()):
            complete = LayeredGlossary(self._layer, overlay, include_hidden=True)
        return PreparedViews(guild_id, overlay, view, complete)

    def install(self, prepared: PreparedViews) -> None:
        """Make prepared views the guild's current ones."""
        self._overlays[prepared.guild_id] = prepared.overlay
        self.forget_view(prepared.guild_id)
        now = self._clock()
        self._views[(prepared.guild_id, False)] = (prepared.view, now)
        if prepared.complete is not None:
            self._views[(prepared.guild_id, True)] = (prepared.complete, now)
        while len(self._views) > self._max_views:
            self._views.popitem(last=False)

    async def search_page(self, text: str, guild_id: int | None, page: int = 0, page_size: int = 10) -> SearchPage:
        """Search the guild's view the way /search does: spellings through the resolver's normalisation,
        misspelt words corrected against the view's vocabulary, phrases as phrases; one page of hits."""
        view = self.view(guild_id)
        query = parse_query(text, view.vocabulary)
        overlay = self.overlay(guild_id)
        page = max(page, 0)
        hits, total = await self._store.search_terms(
            engine_terms(query), guild_id or 0, page_size, page * page_size, overridden=overlay.keys()
        )
        if total and not hits and page:  # a page beyond the end (the glossary shrank): show the last one
            return await self.search_page(text, guild_id, (total - 1) // page_size, page_size)
        return SearchPage(query, [hit for hit in hits if hit.concept_id in view], total, page, page_size)

    async def mentions(self, text: str, guild_id: int | None, limit: int = 5) -> list[SearchHit]:
        """Entries whose text mentions `text` as a phrase (every word, in order, in any of its spellings)."""
        words = tokens(text)
        if len("".join(words)) < MENTION_MIN_CHARS or all(word in STOP_WORDS for word in words):
            return []  # "x", "of the": every entry mentions them, which tells nobody anything
        view = self.view(guild_id)
        query = parse_query(f'"{" ".join(words)}"', view.vocabulary)
        if not query:
            return []
        hits, _ = await self._store.search_terms(
            engine_terms(query), guild_id or 0, limit, overridden=self.overlay(guild_id).keys()
        )
        return [hit for hit in hits if hit.concept_id in view]

    async def search(self, text: str, guild_id: int | None, limit: int = 10) -> list[SearchHit]:
        """Full-text search within what the guild sees: its own entries, and shipped ones it did not change."""
        view = self.view(guild_id)
        overlay = self.overlay(guild_id)
        hits = await self._store.search(text, guild_id or 0, limit, overridden=overlay.keys())
        return [hit for hit in hits if hit.concept_id in view]
