"""Glossary entries written as YAML in the `data/` format, so an export can be imported again or merged into data/."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from bot.models import Concept

WIDTH = 100


class _DataFileDumper(yaml.SafeDumper):
    """Lay YAML out like the hand-written data files: indented lists, paragraphs as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_DataFileDumper.add_representer(str, _text)


def concept_record(concept: Concept) -> dict[str, Any]:
    """The entry as a data file writes it: defaults left out, fields in the model's order."""
    return concept.model_dump(mode="json", exclude_defaults=True)


def concepts_yaml(concepts: Iterable[Concept], comments: Sequence[str] = ()) -> str:
    """Write entries as a `concepts:` file that `parse_yaml` reads back to the same entries."""
    header = "".join(f"# {' '.join(line.split())}\n" for line in comments)
    body = yaml.dump(
        {"concepts": [concept_record(concept) for concept in concepts]},
        Dumper=_DataFileDumper,
        sort_keys=False,
        allow_unicode=True,
        width=WIDTH,
    )
    return header + body
