"""The glossary's data model: what one concept entry is, checked field by field by pydantic.

The same models validate the shipped `data/` files, moderator edits and imported YAML, so every path
into the glossary applies one set of rules.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

MAX_NAME = 100
MAX_ALIAS = 100
MAX_SUMMARY = 200
MAX_DEFINITION = 1500
MAX_NOTE = 600
MAX_EXAMPLE = 120
MAX_ALIASES = 40


def without_invisible(text: str) -> str:
    """Drop control and format characters (bidi overrides such as U+202E, zero-width spaces, soft hyphens).

    They are invisible, so a name holding them looks like another or shows reversed; line breaks and tabs stay.
    """
    if text.isascii() and text.isprintable():
        return text
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs"))


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=64)]
Name = Annotated[
    str, AfterValidator(without_invisible), StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)
]
Alias = Annotated[
    str, AfterValidator(without_invisible), StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ALIAS)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE)]
Example = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_EXAMPLE)]

EDITORIAL = "editorial"


class Kind(StrEnum):
    """What role an entry plays, so commands can present it (axes and classes list members, stages order)."""

    CONCEPT = "concept"
    AXIS = "axis"
    CLASS = "class"
    PROTOCOL = "protocol"
    STAGE = "stage"


class Frozen(BaseModel):
    """Immutable and strict about unknown keys: a typo in a data file is an error, not a silently ignored field."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(Frozen):
    """Where an entry's content comes from: a source document and its section, or `editorial`."""

    document: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
    section: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    editorial: Note | None = Field(
        default=None, description="What in the entry goes beyond the document, said plainly."
    )


class Stage(Frozen):
    """Position of an entry in an ordered protocol (the kidney-disease regime of the first document)."""

    protocol: Slug
    order: Annotated[int, Field(ge=1, le=50)]


class Concept(Frozen):
    """One glossary entry."""

    id: Slug
    name: Name
    kind: Kind = Kind.CONCEPT
    aliases: Annotated[tuple[Alias, ...], Field(max_length=MAX_ALIASES)] = ()
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUMMARY)]
    definition: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DEFINITION)]
    axis: Slug | None = Field(default=None, description="For a class entry: the axis it belongs to.")
    classification: dict[Slug, Slug] = Field(
        default_factory=dict, description="Axis id -> class id, where the source places the entry."
    )
    parent: Slug | None = Field(default=None, description="Parent in the preparation tree.")
    related: tuple[Slug, ...] = ()
    examples: tuple[Example, ...] = ()
    stage: Stage | None = None
    source: Source
    notes: tuple[Note, ...] = Field(default=(), description="Visible corrections of the source, and caveats.")

    @field_validator("summary", "definition")
    @classmethod
    def _single_spaced(cls, text: str) -> str:
        """Fold YAML line breaks inside paragraphs so lengths and rendering match what users see."""
        paragraphs = [" ".join(part.split()) for part in without_invisible(text).split("\n\n")]
        return "\n\n".join(p for p in paragraphs if p)

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by every alias."""
        return (self.name, *self.aliases)


class SourceDocument(Frozen):
    """A source document the glossary cites."""

    id: Slug
    title: Name
    file: str
    description: Note
    caveat: Note | None = None


class GlossaryFile(Frozen):
    """The shape of one YAML file under `data/`: either source documents or concepts (or both)."""

    documents: tuple[SourceDocument, ...] = ()
    concepts: tuple[Concept, ...] = ()
