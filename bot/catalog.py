"""The glossary each audience sees, kept in memory and rebuilt only when its data changes."""

from __future__ import annotations

from bot.glossary import Glossary
from bot.store import SearchHit, Store


class GlossaryCatalog:
    """Serves the glossary view for a guild (or for direct messages) and full-text search over it."""

    def __init__(self, store: Store, shipped: Glossary) -> None:
        self._store = store
        self._shipped = shipped

    @classmethod
    async def load(cls, store: Store) -> GlossaryCatalog:
        """Read the shipped glossary from the store and build its resolver before the first command."""
        shipped = Glossary(await store.shipped_concepts(), await store.source_documents())
        _ = shipped.resolver  # build now, not inside the first interaction's 3-second window
        return cls(store, shipped)

    @property
    def shipped(self) -> Glossary:
        """The glossary as shipped in data/."""
        return self._shipped

    def view(self, guild_id: int | None) -> Glossary:
        """Return what members of `guild_id` see (the shipped glossary where the guild has no edits)."""
        del guild_id  # every guild sees the shipped glossary until moderator overlays exist
        return self._shipped

    async def search(self, text: str, guild_id: int | None, limit: int = 10) -> list[SearchHit]:
        """Full-text search within what the guild sees."""
        view = self.view(guild_id)
        hits = await self._store.search(text, 0, limit)
        return [hit for hit in hits if hit.concept_id in view]
