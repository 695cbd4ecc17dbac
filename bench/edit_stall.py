"""How long one moderator edit holds the event loop in a guild that has added many entries.

Usage: .venv/bin/python bench/edit_stall.py [ADDED ...]   (default 5000)
Measures the longest stretch the loop could not run while one edit is saved (validation, write, view rebuild).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.catalog import GlossaryCatalog
from bot.editing import ConceptEditor, EntryText
from bot.loader import load_glossary
from bot.models import EDITORIAL, Concept, Source
from bot.overlay import Action, Draft, OverlayRepository
from bot.store import Store

GUILD = 1


async def longest_stall(work: asyncio.Future[object]) -> float:
    """Tick every millisecond while `work` runs; return the longest gap between ticks in seconds."""
    longest, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    await work
    return longest


async def measure(added: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with await Store.open(Path(folder) / "bench.db") as store:
            await store.sync_shipped(load_glossary())
            catalog = await GlossaryCatalog.load(store)
            repository = OverlayRepository(store)
            source = Source(document=EDITORIAL, editorial="Bench entry.")
            drafts = [
                Draft(Concept(id=f"bench-{i}", name=f"Bench entry {i}", aliases=(f"BE{i}",), summary="A bench entry.",
                              definition="Nothing more.", source=source), False, Action.ADD, 0)
                for i in range(added)
            ]  # fmt: skip
            catalog.apply(GUILD, await repository.append(GUILD, drafts, author_id=1, reason=None, at=datetime.now(UTC)))
            editor = ConceptEditor(catalog, repository)
            stalls = []
            for round_ in range(5):
                text = EntryText(f"Bench entry 7 v{round_}", "BE7", "A changed bench entry.", "Nothing more.")
                base = editor.revision_number(GUILD, "bench-7")
                work = asyncio.ensure_future(editor.edit(GUILD, "bench-7", base, text, author_id=1, reason=None))
                stalls.append(await longest_stall(work))
            shown = ", ".join(f"{stall * 1000:.0f}" for stall in stalls)
            print(f"{added} added entries: longest stall per edit (first edit builds the name index): {shown} ms")


if __name__ == "__main__":
    for count in [int(arg) for arg in sys.argv[1:]] or [5000]:
        asyncio.run(measure(count))
