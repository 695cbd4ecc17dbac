"""Benchmark the resolver against brute-force rapidfuzz on synthetic glossaries of 1 k, 100 k and 1 M names.

For each size, a worker process builds a glossary of multi-word names (some with code-name aliases and
British-spelled words), generates typo'd queries of known answer (1–2 edits, dropped spaces, hyphens,
plurals, swapped words, British spellings, abbreviations), and measures, in the same run:
- our resolver: index build time, resident memory, p50/p99/max latency of a resolve and of 25 suggestions,
  top-1 accuracy;
- brute force `process.extractOne(query, all_names, scorer=fuzz.WRatio)` and `process.extract(limit=25)` on
  a subset of the same queries (it is far slower), with its accuracy on that subset and ours on the same.

Usage: python bench/resolve.py [--sizes 1000,100000,1000000] [--queries 2000] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz, process

from bot.resolver import IndexedConcept, Resolution, Resolver

BRITISH = {
    "tumor": "tumour",
    "hematopoietic": "haematopoietic",
    "leukemia": "leukaemia",
    "immunization": "immunisation",
    "behavior": "behaviour",
    "analyzer": "analyser",
    "center": "centre",
    "estrogen": "oestrogen",
}
DOMAIN_WORDS = [
    "therapy",
    "vaccine",
    "cell",
    "antibody",
    "receptor",
    "inhibitor",
    "factor",
    "protein",
    "kinase",
    "antigen",
    *BRITISH,
]
SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + ["ar", "en", "ol", "ix", "um", "ex", "an"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def build_glossary(count: int, seed: int = 7) -> list[IndexedConcept]:
    """Generate `count` unique multi-word names; one in five gets a unique code-name alias."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, 6000)
    names: set[str] = set()
    concepts: list[IndexedConcept] = []
    while len(concepts) < count:
        words = [rng.choice(vocabulary) for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.3:
            words[rng.randrange(len(words))] = rng.choice(DOMAIN_WORDS)
        name = " ".join(words)
        if name in names:
            continue
        names.add(name)
        index = len(concepts)
        aliases = (f"{''.join(w[0] for w in words).upper()}-{index}",) if index % 5 == 0 else ()
        concepts.append(IndexedConcept(f"c{index}", name, (name, *aliases)))
    return concepts


def edit_word(word: str, rng: random.Random) -> str:
    """Apply one random edit (substitute, delete, insert or transpose) inside a word of four letters or more."""
    if len(word) < 4:
        return word
    position = rng.randrange(1, len(word) - 1)
    operation = rng.choice(("substitute", "delete", "insert", "transpose"))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if operation == "substitute":
        return word[:position] + letter + word[position + 1 :]
    if operation == "delete":
        return word[:position] + word[position + 1 :]
    if operation == "insert":
        return word[:position] + letter + word[position:]
    return word[: position - 1] + word[position] + word[position - 1] + word[position + 1 :]


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def make_query(concept: IndexedConcept, rng: random.Random) -> tuple[str, str] | None:
    """Return (perturbation kind, query) for a concept, or None when the kind does not apply to it."""
    words = concept.name.split()
    kind = rng.choice(("typo1", "typo2", "nospace", "hyphen", "plural", "swap", "british", "abbreviation"))
    if kind == "typo1":
        target = max(range(len(words)), key=lambda i: len(words[i]))
        words[target] = edit_word(words[target], rng)
    elif kind == "typo2":
        first, second = rng.sample(range(len(words)), 2)
        words[first], words[second] = edit_word(words[first], rng), edit_word(words[second], rng)
    elif kind == "nospace":
        position = rng.randrange(len(words) - 1)
        words[position : position + 2] = [words[position] + words[position + 1]]
    elif kind == "hyphen":
        return kind, "-".join(words)
    elif kind == "plural":
        words[-1] = _plural(words[-1])
    elif kind == "swap":
        position = rng.randrange(len(words) - 1)
        words[position], words[position + 1] = words[position + 1], words[position]
    elif kind == "british":
        if not any(w in BRITISH for w in words):
            return None
        words = [BRITISH.get(w, w) for w in words]
    elif kind == "abbreviation":
        if len(concept.names) < 2:
            return None
        return kind, concept.names[1].replace("-", " ").lower()
    return kind, " ".join(words)


def make_queries(concepts: list[IndexedConcept], count: int, seed: int = 11) -> list[tuple[str, str, str]]:
    """Return (kind, query, expected id) triples."""
    rng = random.Random(seed)
    queries: list[tuple[str, str, str]] = []
    while len(queries) < count:
        concept = rng.choice(concepts)
        made = make_query(concept, rng)
        if made is not None:
            queries.append((made[0], made[1], concept.id))
    return queries


def time_queries(resolver: Resolver, queries: list[str]) -> tuple[list[int], list[int], list[Resolution]]:
    """Time a resolve (one answer) and 25 suggestions for each query; return both timings and the resolutions."""
    resolve_ns: list[int] = []
    suggest_ns: list[int] = []
    resolutions: list[Resolution] = []
    for query in queries:
        begin = time.perf_counter_ns()
        resolutions.append(resolver.resolve(query, limit=1))
        resolve_ns.append(time.perf_counter_ns() - begin)
        begin = time.perf_counter_ns()
        resolver.suggest(query, limit=25)
        suggest_ns.append(time.perf_counter_ns() - begin)
    return resolve_ns, suggest_ns, resolutions


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6, 3)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] / 1e6, 3)}


def run_size(size: int, query_count: int, brute_count: int) -> dict[str, object]:
    """Measure one glossary size (called in a fresh worker process so memory figures are its own)."""
    concepts = build_glossary(size)
    queries = make_queries(concepts, query_count)
    rss_before = _rss_mb()
    started = time.perf_counter()
    resolver = Resolver(concepts)
    build_seconds = time.perf_counter() - started
    rss_after = _rss_mb()
    gc.collect()
    gc.freeze()  # as ImmunoBot does after start-up: long-lived objects leave the collector's passes

    resolve_ns, suggest_ns, resolutions = time_queries(resolver, [query for _, query, _ in queries])
    correct = 0
    per_kind: dict[str, list[int]] = {}
    ours_top: list[str | None] = []
    for (kind, _, expected), resolution in zip(queries, resolutions, strict=True):
        top = resolution.suggestions[0].id if resolution.suggestions else None
        ours_top.append(top)
        hit = int(top == expected)
        correct += hit
        per_kind.setdefault(kind, []).append(hit)

    owner = {}
    all_names: list[str] = []
    for concept in concepts:
        for name in concept.names:
            owner[len(all_names)] = concept.id
            all_names.append(name)
    brute_queries = queries[:brute_count]
    brute_one_ns: list[int] = []
    brute_correct = 0
    ours_on_subset = 0
    for (_, query, expected), our_top in zip(brute_queries, ours_top, strict=False):
        begin = time.perf_counter_ns()
        best = process.extractOne(query, all_names, scorer=fuzz.WRatio)
        brute_one_ns.append(time.perf_counter_ns() - begin)
        brute_correct += int(best is not None and owner[best[2]] == expected)
        ours_on_subset += int(our_top == expected)
    brute_many_ns: list[int] = []
    for _, query, _ in brute_queries[: max(5, brute_count // 4)]:
        begin = time.perf_counter_ns()
        process.extract(query, all_names, scorer=fuzz.WRatio, limit=25)
        brute_many_ns.append(time.perf_counter_ns() - begin)

    return {
        "names": size,
        "indexed_names": resolver.name_count,
        "queries": len(queries),
        "build_s": round(build_seconds, 2),
        "rss_after_build_mb": round(rss_after, 1),
        "index_rss_mb": round(rss_after - rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "resolve": _percentiles(resolve_ns),
        "suggest25": _percentiles(suggest_ns),
        "top1_accuracy": round(correct / len(queries), 4),
        "top1_by_kind": {kind: round(sum(hits) / len(hits), 3) for kind, hits in sorted(per_kind.items())},
        "brute_force": {
            "queries": len(brute_queries),
            "extractOne": _percentiles(brute_one_ns),
            "extract25": _percentiles(brute_many_ns),
            "top1_accuracy": round(brute_correct / len(brute_queries), 4),
            "ours_top1_on_same_queries": round(ours_on_subset / len(brute_queries), 4),
        },
    }


def run_shipped(rounds: int = 20) -> dict[str, object]:
    """Measure the shipped glossary on our evaluation queries (accuracy counts confident answers, as users see)."""
    import yaml

    from bot.cli import shipped_glossary

    started = time.perf_counter()
    resolver = shipped_glossary().resolver
    build_seconds = time.perf_counter() - started
    evaluations = sorted((Path(__file__).resolve().parent.parent / "tests" / "core").glob("resolver_eval*.yaml"))
    cases = [
        ("" if query is None else str(query), expected)
        for evaluation in evaluations
        for items in (yaml.safe_load(evaluation.read_text(encoding="utf-8")) or {}).values()
        for query, expected in items.items()
    ]
    resolve_ns, suggest_ns, resolutions = time_queries(resolver, [query for query, _ in cases] * rounds)
    right = sum(
        (resolution.match.id if resolution.match else None) == expected
        for (_, expected), resolution in zip(cases, resolutions, strict=False)
    )
    return {
        "names": "shipped",
        "concepts": len(resolver),
        "indexed_names": resolver.name_count,
        "queries": len(cases),
        "build_s": round(build_seconds, 3),
        "resolve": _percentiles(resolve_ns),
        "suggest25": _percentiles(suggest_ns),
        "evaluation_right": right,
    }


def _brute_count(size: int) -> int:
    return 400 if size <= 10_000 else 100 if size <= 100_000 else 40


def main() -> None:
    """Run every size in its own process and print a table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="shipped,1000,100000,1000000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(run_size(arguments.worker, arguments.queries, _brute_count(arguments.worker))))
        return
    results: list[dict[str, object]] = []
    sizes = arguments.sizes.split(",")
    if "shipped" in sizes:
        shipped = run_shipped()
        results.append(shipped)
        print(
            f"  shipped: {shipped['concepts']} concepts, {shipped['indexed_names']} names | resolve p50 "
            f"{shipped['resolve']['p50_ms']:.3f} p99 {shipped['resolve']['p99_ms']:.3f} ms | suggest25 p50 "
            f"{shipped['suggest25']['p50_ms']:.3f} p99 {shipped['suggest25']['p99_ms']:.3f} ms | evaluation "
            f"{shipped['evaluation_right']}/{shipped['queries']} right",
            flush=True,
        )
    for size in (int(part) for part in sizes if part != "shipped"):
        output = subprocess.run(
            [sys.executable, __file__, "--worker", str(size), "--queries", str(arguments.queries)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(output.stdout.strip().splitlines()[-1])
        results.append(result)
        brute = result["brute_force"]
        print(
            f"{size:>9,} names | build {result['build_s']:6.2f} s, index {result['index_rss_mb']:7.1f} MB "
            f"(rss {result['rss_after_build_mb']:.0f} MB, peak {result['peak_rss_mb']:.0f} MB)\n"
            f"          ours  resolve p50 {result['resolve']['p50_ms']:.3f} p99 {result['resolve']['p99_ms']:.3f} "
            f"max {result['resolve']['max_ms']:.3f} ms | suggest25 p50 {result['suggest25']['p50_ms']:.3f} "
            f"p99 {result['suggest25']['p99_ms']:.3f} ms | top-1 {result['top1_accuracy']:.1%} "
            f"({result['queries']} queries)\n"
            f"          brute extractOne p50 {brute['extractOne']['p50_ms']:.1f}"
            f" p99 {brute['extractOne']['p99_ms']:.1f} ms | extract25 p50 {brute['extract25']['p50_ms']:.1f}"
            f" p99 {brute['extract25']['p99_ms']:.1f} ms"
            f" | top-1 {brute['top1_accuracy']:.1%} vs ours {brute['ours_top1_on_same_queries']:.1%}"
            f" on the same {brute['queries']} queries\n"
            f"          ours by kind: {result['top1_by_kind']}",
            flush=True,
        )
    if arguments.json:
        print(json.dumps({"benchmark": "resolve", "results": results}))


if __name__ == "__main__":
    main()
