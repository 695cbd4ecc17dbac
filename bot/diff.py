"""What changed between two states of an entry, field by field: for history pages and replies."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Literal

from bot.models import Concept

TEXT_FIELDS = frozenset({"name", "summary", "definition"})
LIST_FIELDS = frozenset({"aliases", "examples", "notes", "related"})
CONTEXT_WORDS = 6
"""Unchanged words kept on each side of a change; longer unchanged runs are elided."""

Op = Literal["=", "-", "+", "…"]


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: a word diff for prose, added/removed items for lists, before/after otherwise."""

    field: str
    words: tuple[tuple[Op, str], ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None


def word_diff(old: str, new: str, context: int = CONTEXT_WORDS) -> tuple[tuple[Op, str], ...]:
    """Diff two texts word by word: ("=", kept), ("-", removed), ("+", added), ("…", "") for elided words."""
    a, b = old.split(), new.split()
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    segments: list[tuple[Op, str]] = []
    for position, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            if i2 > i1:
                segments.append(("-", " ".join(a[i1:i2])))
            if j2 > j1:
                segments.append(("+", " ".join(b[j1:j2])))
            continue
        kept = a[i1:i2]
        first, last = position == 0, position == len(opcodes) - 1
        head = [] if first else kept[:context]
        tail = [] if last else kept[-context:]
        if len(kept) <= len(head) + len(tail) or (first and last):
            segments.append(("=", " ".join(kept)))
            continue
        if head:
            segments.append(("=", " ".join(head)))
        segments.append(("…", ""))
        if tail:
            segments.append(("=", " ".join(tail)))
    return tuple(segments)


def _compact(value: Any) -> str:
    """One-line rendering of a structured value (classification, source, stage)."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def entry_changes(before: Concept, after: Concept) -> list[FieldChange]:
    """Return the fields that differ between two states of one entry, in the model's field order."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changes: list[FieldChange] = []
    for field in Concept.model_fields:
        if old[field] == new[field]:
            continue
        if field in TEXT_FIELDS:
            changes.append(FieldChange(field, words=word_diff(old[field], new[field])))
        elif field in LIST_FIELDS:
            added = tuple(item for item in new[field] if item not in old[field])
            removed = tuple(item for item in old[field] if item not in new[field])
            if not added and not removed:  # same items, new order
                changes.append(FieldChange(field, before=", ".join(old[field]), after=", ".join(new[field])))
            else:
                changes.append(FieldChange(field, added=added, removed=removed))
        else:
            changes.append(FieldChange(field, before=_compact(old[field]), after=_compact(new[field])))
    return changes
