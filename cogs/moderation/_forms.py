"""The entry form (a modal), what comes back from it, and handing text back to its author when it is refused.

The form is only a layout. Its custom id carries everything a submission needs (the entry and the revision
the form was opened at), and submissions are answered from that id, so a form outlives a restart and two
moderators editing the same entry each get their own answer.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import discord

from bot.editing import EntryText, aliases_text
from bot.models import MAX_DEFINITION, MAX_NAME, MAX_SUMMARY, Concept
from cogs._render import clip

FORM_ID = re.compile(r"concept-form:(?:add:(?P<parent>[a-z0-9-]*)|edit:(?P<base>\d{1,9}):(?P<id>[a-z0-9-]+))")
REASON_LIMIT = 200
MESSAGE_LIMIT = 2000
TITLE_LIMIT = 45
ALIASES_HINT = "Other names it answers to: one per line, or separated by ;"


def add_form_id(parent: str | None) -> str:
    """The custom id of a new-entry form (with the category chosen in the command)."""
    return f"concept-form:add:{parent or ''}"


def edit_form_id(concept_id: str, base: int) -> str:
    """The custom id of an edit form opened at revision `base` of the entry."""
    return f"concept-form:edit:{base}:{concept_id}"


def _field(label: str, custom_id: str, default: str | None, *, limit: int, required: bool = True,
           paragraph: bool = False, description: str | None = None) -> discord.ui.Label[Any]:  # fmt: skip
    text_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=custom_id,
        default=default or None,
        max_length=limit,
        required=required,
        style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
    )
    return discord.ui.Label(text=label, component=text_input, description=description)


class EntryForm(discord.ui.Modal):
    """Name, aliases, summary, definition and the reason for the change; pre-filled when editing."""

    def __init__(self, *, title: str, custom_id: str, concept: Concept | None) -> None:
        super().__init__(title=clip(title, TITLE_LIMIT), custom_id=custom_id, timeout=None)
        aliases = aliases_text(concept) if concept else None
        for item in (
            _field("Name", "name", concept.name if concept else None, limit=MAX_NAME),
            _field("Aliases", "aliases", aliases, limit=4000, required=False, paragraph=True, description=ALIASES_HINT),
            _field("Summary", "summary", concept.summary if concept else None, limit=MAX_SUMMARY, paragraph=True),
            _field("Definition", "definition", concept.definition if concept else None, limit=MAX_DEFINITION,
                   paragraph=True),
            _field("Why (shown in the history)", "reason", None, limit=REASON_LIMIT, required=False,
                   description="Optional, e.g. the course uses this wording"),
        ):  # fmt: skip
            self.add_item(item)


async def open_form(interaction: discord.Interaction, form: EntryForm) -> None:
    """Show the form; stopped first, so discord.py keeps no copy and the submission reaches our handler."""
    form.stop()
    await interaction.response.send_modal(form)


def submitted_values(data: Mapping[str, Any]) -> dict[str, str]:
    """Read a form submission's text fields by custom id (inside labels or action rows)."""
    values: dict[str, str] = {}
    stack: list[Any] = list(data.get("components") or [])
    while stack:
        component = stack.pop()
        if not isinstance(component, Mapping):
            continue
        if "custom_id" in component and "value" in component:
            values[str(component["custom_id"])] = str(component.get("value") or "")
        stack.extend(component.get("components") or [])
        if isinstance(component.get("component"), Mapping):
            stack.append(component["component"])
    return values


def entry_text(values: Mapping[str, str]) -> EntryText:
    """The entry fields of a submission."""
    return EntryText(
        name=values.get("name", ""),
        aliases=values.get("aliases", ""),
        summary=values.get("summary", ""),
        definition=values.get("definition", ""),
    )


def _fenced(text: str) -> str:
    """Put text in a code block that its own backticks cannot close."""
    return "```\n" + text.replace("```", "`\u200b``") + "\n```"


def with_returned_text(message: str, fields: Mapping[str, str]) -> tuple[str, discord.File | None]:
    """Add the author's own text to a refusal: in code blocks when it fits one message, else as a file."""
    filled = {label: text for label, text in fields.items() if text.strip()}
    if not filled:
        return clip(message, MESSAGE_LIMIT), None
    inline = "\n".join(
        [message, "Your text, so nothing is lost:", *(f"{label}\n{_fenced(t)}" for label, t in filled.items())]
    )
    if len(inline) <= MESSAGE_LIMIT:
        return inline, None
    body = "\n\n".join(f"{label}:\n{text}" for label, text in filled.items())
    attached = discord.File(io.BytesIO(body.encode("utf-8")), filename="your-text.txt")
    return clip(message, MESSAGE_LIMIT - 60) + "\nYour text is attached, so nothing is lost.", attached
