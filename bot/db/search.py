"""Full-text search over names, aliases, summaries and definitions, on each engine's own index.

SQLite: the FTS5 table `concept_search` (Porter stemming, diacritics folded), ranked by BM25.
PostgreSQL: `concept_search` rows with a `document` tsvector (English stemming; diacritics folded here, as
the server may lack `unaccent`) under a GIN index, ranked by ts_rank_cd. Both weight name : aliases : summary :
definition as 10 : 6 : 2 : 1 and give the same top hits on the shipped glossary (tests/core/test_db.py).

One row per concept and audience: guild 0 for the shipped glossary, a guild's own rows for its overlay.
This is the only dialect-specific SQL of the store; everything else is SQLAlchemy Core shared by both.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Text, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.markup import EMPHASIS_END, EMPHASIS_START
from bot.models import Concept

_SEARCH_WORD = re.compile(r"\w+")
MAX_WORDS = 12
SEARCH_COLUMNS = ("guild_id", "concept_id", "name", "aliases", "summary", "definition")


@dataclass(frozen=True)
class SearchHit:
    """One full-text search result: which concept, the matching passage, and its relevance (higher is better)."""

    concept_id: str
    snippet: str
    relevance: float


def fold(value: str) -> str:
    """Drop diacritics ("Müller" → "Muller"), as FTS5's remove_diacritics does on SQLite."""
    decomposed = unicodedata.normalize("NFKD", value)
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not unicodedata.combining(char)))


def _fields(concept: Concept) -> dict[str, str]:
    return {
        "concept_id": concept.id,
        "name": concept.name,
        "aliases": " ; ".join(concept.aliases),
        "summary": concept.summary,
        "definition": concept.definition,
    }


_DELETE = text("DELETE FROM concept_search WHERE guild_id = :guild_id AND concept_id = :concept_id")

_INSERT_SQLITE = text(
    "INSERT INTO concept_search (concept_id, guild_id, name, aliases, summary, definition) "
    "VALUES (:concept_id, :guild_id, :name, :aliases, :summary, :definition)"
)

_INSERT_POSTGRESQL = text(
    "INSERT INTO concept_search (guild_id, concept_id, name, aliases, summary, definition, document) "
    "VALUES (:guild_id, :concept_id, :name, :aliases, :summary, :definition, "
    "setweight(to_tsvector('english', :name_folded), 'A') || "
    "setweight(to_tsvector('english', :aliases_folded), 'B') || "
    "setweight(to_tsvector('english', :summary_folded), 'C') || "
    "setweight(to_tsvector('english', :definition_folded), 'D')) "
    "ON CONFLICT (guild_id, concept_id) DO UPDATE SET name = excluded.name, aliases = excluded.aliases, "
    "summary = excluded.summary, definition = excluded.definition, document = excluded.document"
)

_SEARCH_SQLITE = text(
    "SELECT concept_id, snippet(concept_search, -1, :start, :end, '…', 14), "
    "bm25(concept_search, 0.0, 0.0, 10.0, 6.0, 2.0, 1.0) AS score "
    "FROM concept_search WHERE concept_search MATCH :expression "
    "AND (guild_id = :guild_id OR (guild_id = 0 AND concept_id NOT IN :overridden)) "
    "ORDER BY score, concept_id LIMIT :limit OFFSET :offset"
).bindparams(bindparam("overridden", expanding=True, type_=Text))

_COUNT_SQLITE = text(
    "SELECT count(*) FROM concept_search WHERE concept_search MATCH :expression "
    "AND (guild_id = :guild_id OR (guild_id = 0 AND concept_id NOT IN :overridden))"
).bindparams(bindparam("overridden", expanding=True, type_=Text))

_COUNT_POSTGRESQL = text(
    "SELECT count(*) FROM concept_search WHERE document @@ to_tsquery('english', :expression) "
    "AND (guild_id = :guild_id OR (guild_id = 0 AND concept_id NOT IN :overridden))"
).bindparams(bindparam("overridden", expanding=True, type_=Text))

# The weights are {D, C, B, A}: definition, summary, aliases, name, in the ratio FTS5's BM25 uses. Cover density
# normalised by 1 + log(length) agreed best with BM25 on the shipped glossary (top hit 23 of 30 queries, top
# three 70 of 90, against 21 and 64 for ts_rank), so a short entry naming the term outranks a long one.
_SEARCH_POSTGRESQL = text(
    "SELECT concept_id, ts_headline('english', summary || ' ' || definition, query, :headline), score "
    "FROM (SELECT concept_id, summary, definition, query, "
    "ts_rank_cd('{0.1, 0.2, 0.6, 1.0}', document, query, 1) AS score "
    "FROM concept_search, to_tsquery('english', :expression) AS query WHERE document @@ query "
    "AND (guild_id = :guild_id OR (guild_id = 0 AND concept_id NOT IN :overridden)) "
    "ORDER BY score DESC, concept_id LIMIT :limit OFFSET :offset) AS best ORDER BY score DESC, concept_id"
).bindparams(bindparam("overridden", expanding=True, type_=Text))


# Matches marked as bot.markup emphasis, like FTS5's snippet() on SQLite.
_HEADLINE = (
    f'StartSel="{EMPHASIS_START}", StopSel="{EMPHASIS_END}", MaxWords=14, MinWords=6, FragmentDelimiter=…, '
    "MaxFragments=1"
)


async def replace_search_rows(
    connection: AsyncConnection, guild_id: int, stale: Iterable[str], fresh: Iterable[Concept]
) -> None:
    """Keep the index in step with concept rows: drop `stale` ids, (re)index `fresh` concepts.

    Call inside the transaction that writes the concept rows.
    """
    stale_rows = [{"guild_id": guild_id, "concept_id": concept_id} for concept_id in stale]
    if stale_rows:
        await connection.execute(_DELETE, stale_rows)
    await insert_search_rows(connection, [{"guild_id": guild_id, **_fields(concept)} for concept in fresh])


async def insert_search_rows(connection: AsyncConnection, rows: list[dict[str, object]]) -> None:
    """Index rows given as SEARCH_COLUMNS (replacing a guild's row for the same concept on PostgreSQL)."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        await connection.execute(_INSERT_SQLITE, rows)
        return
    folded = [{**row, **{f"{key}_folded": fold(str(row[key])) for key in SEARCH_COLUMNS[2:]}} for row in rows]
    await connection.execute(_INSERT_POSTGRESQL, folded)


async def all_search_rows(connection: AsyncConnection) -> list[dict[str, object]]:
    """Every indexed row as SEARCH_COLUMNS (to copy an index between engines)."""
    result = await connection.execute(text(f"SELECT {', '.join(SEARCH_COLUMNS)} FROM concept_search"))  # noqa: S608
    return [dict(row._mapping) for row in result]


async def search(
    connection: AsyncConnection, text_: str, guild_id: int = 0, limit: int = 10, *, overridden: Iterable[str] = ()
) -> list[SearchHit]:
    """Search; every word must match, else any word; the last word may be unfinished (a prefix).

    A guild searches its own rows and the shipped rows, except shipped entries it has `overridden` (edited or
    hidden), whose shipped text it no longer sees.
    """
    words = _SEARCH_WORD.findall(fold(text_).casefold())[:MAX_WORDS]
    if not words:
        return []
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        terms = [f'"{word}"' for word in words]
        terms[-1] += "*"
        expressions = (" ".join(terms), " OR ".join(terms))
    else:
        terms = [f"'{word}'" for word in words]
        terms[-1] += ":*"
        expressions = (" & ".join(terms), " | ".join(terms))
    parameters: dict[str, object] = {
        "guild_id": guild_id, "overridden": sorted(set(overridden)), "limit": limit, "offset": 0,
    }  # fmt: skip
    if sqlite:
        parameters |= {"start": EMPHASIS_START, "end": EMPHASIS_END}
    else:
        parameters["headline"] = _HEADLINE
    for expression in expressions:
        result = await connection.execute(_SEARCH_SQLITE if sqlite else _SEARCH_POSTGRESQL,
                                          {**parameters, "expression": expression})  # fmt: skip
        rows = result.all()
        if rows:
            return [SearchHit(row[0], row[1], -float(row[2]) if sqlite else float(row[2])) for row in rows]
    return []


MAX_PHRASE_FORMS = 8
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchTerm:
    """One searched word or phrase, independent of the engine: each position's alternative spellings (a
    phrase has several positions), and whether the last word may be unfinished (a prefix)."""

    words: tuple[tuple[str, ...], ...]
    prefix: bool = False


def _clean(word: str) -> str:
    return "".join(_WORD.findall(fold(word).casefold()))


def _fts5(term: SearchTerm) -> str:
    """FTS5: alternatives joined by OR, phrases in double quotes, a prefix as "word"*."""
    if len(term.words) == 1:
        forms = [f'"{_clean(form)}"' for form in term.words[0]]
        if term.prefix:
            forms.append(f'"{_clean(term.words[0][0])}"*')
    else:
        combos = itertools.islice(itertools.product(*term.words), MAX_PHRASE_FORMS)
        forms = ['"' + " ".join(_clean(word) for word in combo) + '"' for combo in combos]
    return forms[0] if len(forms) == 1 else "(" + " OR ".join(forms) + ")"


def _tsquery(term: SearchTerm) -> str:
    """tsquery: alternatives joined by |, a phrase's positions by <->, a prefix as 'word':*."""
    positions = []
    for index, forms in enumerate(term.words):
        options = [f"'{_clean(form)}'" for form in forms]
        if term.prefix and index == len(term.words) - 1:
            options.append(f"'{_clean(forms[0])}':*")
        positions.append(options[0] if len(options) == 1 else "(" + " | ".join(options) + ")")
    return positions[0] if len(positions) == 1 else "(" + " <-> ".join(positions) + ")"


async def search_terms(
    connection: AsyncConnection, terms: Iterable[SearchTerm], guild_id: int = 0, limit: int = 10, offset: int = 0,
    *, overridden: Iterable[str] = (),
) -> tuple[list[SearchHit], int]:  # fmt: skip
    """One page of hits where every term matches, else (several terms) any term, and how many match in all.

    The terms are rendered in each engine's own query language (FTS5 MATCH, tsquery); the scope is `search`'s.
    """
    kept = [term for term in terms if term.words and all(_clean(form) for forms in term.words for form in forms)]
    if not kept:
        return [], 0
    sqlite = connection.dialect.name == "sqlite"
    parts = [_fts5(term) if sqlite else _tsquery(term) for term in kept]
    every, any_ = (" AND ", " OR ") if sqlite else (" & ", " | ")
    expressions = [every.join(parts)] + ([any_.join(parts)] if len(parts) > 1 else [])
    scope: dict[str, object] = {"guild_id": guild_id, "overridden": sorted(set(overridden))}
    page: dict[str, object] = {"limit": limit, "offset": offset}
    page |= {"start": EMPHASIS_START, "end": EMPHASIS_END} if sqlite else {"headline": _HEADLINE}
    for expression in expressions:
        count = _COUNT_SQLITE if sqlite else _COUNT_POSTGRESQL
        total = int((await connection.execute(count, {**scope, "expression": expression})).scalar_one())
        if not total:
            continue
        result = await connection.execute(_SEARCH_SQLITE if sqlite else _SEARCH_POSTGRESQL,
                                          {**scope, **page, "expression": expression})  # fmt: skip
        hits = [SearchHit(row[0], row[1], -float(row[2]) if sqlite else float(row[2])) for row in result]
        return hits, total
    return [], 0
