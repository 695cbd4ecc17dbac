"""Benchmark what edited guilds cost in memory, and how fast an edit becomes visible.

Measured with tracemalloc (numpy's arrays included) on the shipped glossary:
- the cost of one guild with one edited entry (and with one hidden entry), beyond the entry's own text
  (the revision objects, allocated before measuring), averaged over many guilds;
- 100 edited guilds the way views were kept before layering (a full copy of the glossary, its resolver and
  vocabulary per guild) against 10,000 edited guilds with layered views;
- the event-loop time of making an edit visible (`install` of a view prepared in a worker thread, and the whole
  `apply` if done on the loop), and a query's latency on a layered view against the shipped one.

Usage: python bench/memory.py [--guilds 10000] [--old-guilds 100] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalog import GlossaryCatalog
from bot.glossary import Glossary
from bot.loader import load_glossary
from bot.overlay import Action, Revision, overlay_concepts

AT = datetime(2026, 1, 1, tzinfo=UTC)
QUERIES = ["tacrolimus", "tacrolimsu", "car t", "what is bcg", "checkpoint inhibitor", "rituximab", "il2", "cell"]


def _revision(glossary: Glossary, index: int, *, hidden: bool = False) -> Revision:
    """One edited (or hidden) entry, different per guild: a new alias and a reworded summary."""
    concepts = list(glossary.concepts.values())
    concept = concepts[index % len(concepts)]
    changed = concept.model_copy(
        update={"aliases": [*concept.aliases, f"guild {index} name"], "summary": f"{concept.summary} ({index})"}
    )
    return Revision(concept.id, 1, Action.HIDE if hidden else Action.EDIT, changed, hidden, 1, None, AT)


def _traced(build) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Bytes allocated (and kept) by `build()`, with what it returned."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before, kept


def _old_views(glossary: Glossary, overlays: list[dict[str, Revision]]) -> list[Glossary]:
    """Views as kept before layering: a full glossary, resolver and vocabulary per edited guild."""
    views = []
    for overlay in overlays:
        view = Glossary(overlay_concepts(glossary.concepts.values(), overlay), glossary.documents.values())
        _ = view.resolver, view.vocabulary
        views.append(view)
        if any(revision.hidden for revision in overlay.values()):
            complete = Glossary(overlay_concepts(glossary.concepts.values(), overlay, include_hidden=True))
            _ = complete.resolver
            views.append(complete)
    return views


def _new_views(catalog: GlossaryCatalog, overlays: list[dict[str, Revision]], first: int) -> list[Glossary]:
    views = []
    for number, overlay in enumerate(overlays):
        catalog.apply(first + number, overlay.values())
        view = catalog.view(first + number)
        view.resolver.resolve(QUERIES[number % len(QUERIES)])
        views.append(view)
    return views


def _latency_ms(glossary: Glossary, rounds: int = 30) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        for query in QUERIES:
            started = time.perf_counter()
            glossary.resolver.resolve(query)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guilds", type=int, default=10_000)
    parser.add_argument("--old-guilds", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data = load_glossary()
    shipped = Glossary((item.concept for item in data.concepts), data.documents)
    _ = shipped.resolver, shipped.vocabulary
    tracemalloc.start()
    catalog = GlossaryCatalog(None, shipped, max_views=args.guilds + 1_000)  # type: ignore[arg-type]
    results: dict[str, float] = {"shipped_concepts": len(shipped), "shipped_names": shipped.resolver.name_count}

    # One guild, one edited entry (and one hidden entry), averaged over 200 guilds; own text allocated first.
    sample = 200
    for label, hidden in (("edited", False), ("hidden", True)):
        overlays = [{r.concept_id: r} for r in (_revision(shipped, i, hidden=hidden) for i in range(sample))]
        first = 1_000_000 if hidden else 0
        cost, kept = _traced(lambda overlays=overlays, first=first: _new_views(catalog, overlays, first))
        results[f"new_kb_per_guild_{label}"] = round(cost / sample / 1024, 1)
        old_cost, old_kept = _traced(lambda overlays=overlays: _old_views(shipped, overlays[:20]))
        results[f"old_kb_per_guild_{label}"] = round(old_cost / 20 / 1024, 1)
        del kept, old_kept
    catalog = GlossaryCatalog(None, shipped, max_views=args.guilds + 1_000)  # type: ignore[arg-type]

    old_overlays = [{r.concept_id: r} for r in (_revision(shipped, i) for i in range(args.old_guilds))]
    old_bytes, old_kept = _traced(lambda: _old_views(shipped, old_overlays))
    del old_kept
    results["old_guilds"] = args.old_guilds
    results["old_mb"] = round(old_bytes / 2**20, 1)

    new_overlays = [{r.concept_id: r} for r in (_revision(shipped, i) for i in range(args.guilds))]
    started = time.perf_counter()
    new_bytes, _ = _traced(lambda: _new_views(catalog, new_overlays, 0))
    results["new_guilds"] = args.guilds
    results["new_mb"] = round(new_bytes / 2**20, 1)
    results["new_build_ms_per_guild"] = round((time.perf_counter() - started) * 1000 / args.guilds, 2)
    results["new_fits_in_old"] = new_bytes <= old_bytes
    tracemalloc.stop()

    # Edit visibility: prepare runs in a worker thread; the event loop only installs. Also the whole apply.
    installs, applies = [], []
    for number in range(200):
        guild = 5_000_000 + number
        catalog.apply(guild, [_revision(shipped, number + 1)])
        prepared = catalog.prepare(guild, [_revision(shipped, number + 2)])
        started = time.perf_counter()
        catalog.install(prepared)
        catalog.view(guild).resolver.resolve("tacrolimus")
        installs.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        catalog.apply(guild, [_revision(shipped, number + 3)])
        catalog.view(guild).resolver.resolve("tacrolimus")
        applies.append((time.perf_counter() - started) * 1000)
    installs.sort()
    applies.sort()
    results["edit_install_ms_p50"] = round(statistics.median(installs), 2)
    results["edit_install_ms_p99"] = round(installs[int(len(installs) * 0.99)], 2)
    results["edit_apply_ms_p50"] = round(statistics.median(applies), 2)
    results["edit_apply_ms_p99"] = round(applies[int(len(applies) * 0.99)], 2)

    layered = catalog.view(5_000_000)
    results["shipped_resolve_ms_p50"], results["shipped_resolve_ms_p99"] = (round(v, 3) for v in _latency_ms(shipped))
    results["layered_resolve_ms_p50"], results["layered_resolve_ms_p99"] = (round(v, 3) for v in _latency_ms(layered))

    print(f"Shipped glossary: {results['shipped_concepts']} entries, {results['shipped_names']} names")
    for label in ("edited", "hidden"):
        print(
            f"One guild with one {label} entry: {results[f'new_kb_per_guild_{label}']} KB layered "
            f"(was {results[f'old_kb_per_guild_{label}']} KB as a full copy), beyond the entry's own text"
        )
    print(f"{results['old_guilds']} edited guilds as full copies: {results['old_mb']} MB")
    print(
        f"{results['new_guilds']} edited guilds layered: {results['new_mb']} MB "
        f"({'fits' if results['new_fits_in_old'] else 'does NOT fit'}); "
        f"{results['new_build_ms_per_guild']} ms to build each"
    )
    print(
        f"Edit visible (with the guild's first query): install on the event loop p50 "
        f"{results['edit_install_ms_p50']} / p99 {results['edit_install_ms_p99']} ms; whole apply on the loop p50 "
        f"{results['edit_apply_ms_p50']} / p99 {results['edit_apply_ms_p99']} ms"
    )
    print(
        f"Resolve p50/p99: shipped {results['shipped_resolve_ms_p50']}/{results['shipped_resolve_ms_p99']} ms, "
        f"layered {results['layered_resolve_ms_p50']}/{results['layered_resolve_ms_p99']} ms"
    )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
