"""Command-line tools over the core: `lookup` (one query, or JSON lines) and `load` (data into the database)."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.config import DatabaseUrl, Settings
from bot.glossary import Glossary
from bot.loader import GlossaryError, load_glossary
from bot.models import Concept
from bot.resolver import Resolution
from bot.store import SchemaError, Store

WIDTH = 88


def command_name() -> str:
    """How the person ran Immunobot, for hints that work when pasted: the installed `immunobot` command, or
    `bash scripts/run.sh` from a source checkout (which creates .venv itself; a bare `python -m bot` would not
    find the dependencies outside it)."""
    if Path(sys.argv[0]).name == "immunobot":
        return "immunobot"
    if (Path(__file__).resolve().parents[1] / "scripts" / "run.sh").is_file():
        return "bash scripts/run.sh"
    return "immunobot"


def shipped_glossary() -> Glossary:
    """Build the glossary view of the shipped data files (no database needed)."""
    data = load_glossary()
    return Glossary((item.concept for item in data.concepts), data.documents)


def _wrap(text: str, indent: str = "  ") -> str:
    paragraphs = text.split("\n\n")
    return "\n\n".join(textwrap.fill(p, WIDTH, initial_indent=indent, subsequent_indent=indent) for p in paragraphs)


def _names(concepts: Iterable[Concept]) -> str:
    return ", ".join(concept.name for concept in concepts)


def format_concept(glossary: Glossary, concept: Concept) -> str:
    """Render one concept for a terminal: what a student wants first (name, summary), then the detail."""
    lines = [concept.name.upper(), _wrap(concept.summary), "", _wrap(concept.definition), ""]
    path = glossary.category_path(concept.id)
    if len(path) > 1:
        lines.append(f"Category:   {' › '.join(c.name for c in path)}")
    classes = glossary.lookup_many(list(concept.classification.values()))
    if classes:
        lines.append(f"Classes:    {_names(classes)}")
    if concept.stage is not None:
        protocol = glossary.get(concept.stage.protocol)
        total = len(glossary.stages(concept.stage.protocol))
        lines.append(f"Stage:      {concept.stage.order} of {total} in {protocol.name if protocol else '?'}")
    if concept.aliases:
        lines.append(f"Also:       {', '.join(concept.aliases)}")
    if concept.examples:
        lines.append(f"Examples:   {', '.join(concept.examples)}")
    related = glossary.related(concept.id)
    if related:
        lines.append(f"Related:    {_names(related)}")
    lines.append(f"Source:     {source_line(glossary, concept)}")
    for note in concept.notes:
        lines.append(textwrap.fill(f"Note: {note}", WIDTH, subsequent_indent="      "))
    return "\n".join(lines)


def source_line(glossary: Glossary, concept: Concept) -> str:
    """Say where an entry comes from, in one line."""
    document = glossary.documents.get(concept.source.document)
    where = document.title if document else concept.source.document
    if concept.source.section:
        where += f" — {concept.source.section}"
    if concept.source.editorial and document is not None:
        where += " (with editorial additions)"
    return where


def format_resolution(glossary: Glossary, resolution: Resolution) -> str:
    """Render a lookup: the concept when the match is clear, else honest suggestions."""
    if resolution.match is not None:
        concept = glossary.get(resolution.match.id)
        if concept is not None:
            header = ""
            match = resolution.match
            if match.example:
                header = f"({match.matched} — an example of: {match.name})\n\n"
            elif not match.exact:
                header = f"(best match for '{resolution.subject}': {match.matched}, score {match.score:g})\n\n"
            return header + format_concept(glossary, concept)
    close = resolution.suggestions[:5]
    if not close:
        return f"No entry matches '{resolution.query.strip()[:80]}'."
    return f"No clear match for '{resolution.query.strip()[:80]}'. Did you mean:\n" + "\n".join(
        f"  - {s.name}" + (f" (as '{s.matched}')" if s.matched != s.name else "") for s in close
    )


def lookup_json_lines(glossary: Glossary, source: TextIO, sink: TextIO) -> None:
    """Answer one query per input line with one JSON object per output line."""
    for line in source:
        query = line.rstrip("\r\n")
        resolution = glossary.resolver.resolve(query)
        match = resolution.match
        record = {
            "query": query,
            "match": None
            if match is None
            else {
                "id": match.id,
                "name": match.name,
                "score": match.score,
                "matched": match.matched,
                "example": match.example,
            },
            "suggestions": [{"id": s.id, "name": s.name, "score": s.score} for s in resolution.suggestions],
        }
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        sink.flush()


def run_lookup(query: str | None, as_json: bool) -> int:
    """Entry point of the `lookup` subcommand."""
    try:
        glossary = shipped_glossary()
    except GlossaryError as error:
        print(error, file=sys.stderr)
        return 1
    if as_json:
        try:
            lookup_json_lines(glossary, sys.stdin, sys.stdout)
        except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error worth a traceback
            sys.stderr.close()
        return 0
    if query is None:
        print(f"Give a term to look up, e.g.: {command_name()} lookup immunotherapy", file=sys.stderr)
        return 2
    resolution = glossary.resolver.resolve(query)
    print(format_resolution(glossary, resolution))
    return 0 if resolution.match is not None else 1


async def load_into_database(settings: Settings) -> str:
    """Validate the data files and mirror them into the database; return the report."""
    data = load_glossary()
    async with await Store.open(settings.database) as store:
        report = await store.sync_shipped(data)
    lines = [f"Loaded {len(data.concepts)} concepts into {settings.database}: {report.summary()}."]
    for label, ids in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        if ids:
            lines.append(f"  {label}: {', '.join(ids)}")
    return "\n".join(lines)


def run_load(settings: Settings) -> int:
    """Entry point of the `load` subcommand."""
    try:
        print(asyncio.run(load_into_database(settings)))
    except (GlossaryError, SchemaError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


HEALTHY_WITHIN_SECONDS = 90


def run_health(settings: Settings) -> int:
    """Entry point of the `health` subcommand: is the heartbeat file fresh, and is every shard connected?"""
    if settings.health_file is None:
        print("HEALTH_FILE is not set, so there is no heartbeat to check.", file=sys.stderr)
        return 2
    try:
        age = time.time() - settings.health_file.stat().st_mtime
        body = settings.health_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"unhealthy: {settings.health_file} does not exist (the bot has not connected yet)", file=sys.stderr)
        return 1
    shards, feed = _shard_report(body)
    if age > HEALTHY_WITHIN_SECONDS:
        print(f"unhealthy: last heartbeat {age:.0f} s ago", file=sys.stderr)
        return 1
    down = [line for line, connected in shards if not connected]
    for line, _ in shards:
        print(line)
    if feed is not None:
        print(f"change feed: {feed}")
    if down:
        print(f"unhealthy: {len(down)} of {len(shards)} shard(s) disconnected", file=sys.stderr)
        return 1
    print(f"healthy: last heartbeat {age:.0f} s ago")
    return 0


def _shard_report(body: str) -> tuple[list[tuple[str, bool]], str | None]:
    """One line per shard from the health file (a file from an older version has none), and the change feed."""
    try:
        report = json.loads(body)
        shards = report["shards"] if isinstance(report, dict) else []
    except (ValueError, KeyError):
        return [], None
    lines = []
    for shard in shards:
        if shard.get("connected"):
            latency = shard.get("latency_ms")
            lines.append(
                (f"shard {shard['id']}: connected, heartbeat {latency if latency is not None else '?'} ms", True)
            )
        else:
            lines.append((f"shard {shard['id']}: disconnected", False))
    return lines, report.get("change_feed")


async def migrate_to(settings: Settings, url: str) -> str:
    """Copy the SQLite store into the empty PostgreSQL database at `url`; return the report."""
    from bot.db import Database
    from bot.db.copy import CopyError, copy_database
    from bot.db.lock import hold_sqlite_lock

    try:
        target_url = DatabaseUrl.parse(url)
    except ValueError as error:
        raise CopyError(f"migrate-to: the URL {error}") from None
    source_url = DatabaseUrl.sqlite(settings.database_path)  # DATABASE_PATH follows an sqlite:/// DATABASE_URL
    if source_url.sqlite_path is None or not source_url.sqlite_path.exists():
        raise CopyError(f"migrate-to: there is no SQLite database at {source_url.sqlite_path} (set DATABASE_PATH)")
    if target_url.backend != "postgresql":
        raise CopyError("migrate-to copies into PostgreSQL: give a postgresql:// URL")
    hold_sqlite_lock(source_url.sqlite_path)  # the bot must not write meanwhile
    async with await Database.open(source_url) as source, await Database.open(target_url) as target:
        report = await copy_database(source, target)
    return f"Copied {source_url.sqlite_path} into {target_url}:\n{report.summary()}"


def run_migrate_to(settings: Settings, url: str) -> int:
    """Entry point of `python -m bot migrate-to URL`."""
    from bot.db.copy import CopyError
    from bot.db.lock import DatabaseInUseError

    try:
        print(asyncio.run(migrate_to(settings, url)))
    except (CopyError, DatabaseInUseError) as error:
        print(error, file=sys.stderr)
        return 1
    except OSError as error:  # PostgreSQL unreachable
        print(f"migrate-to: cannot reach the PostgreSQL database: {error}", file=sys.stderr)
        return 1
    return 0
