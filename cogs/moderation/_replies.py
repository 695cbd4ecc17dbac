"""What moderation replies and audit lines say: refusals with every problem, saved changes, import summaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import discord

from bot.editing import Change, Refused, Saved, referrers
from bot.glossary import Glossary
from bot.overlay import Action
from cogs._render import clip, plain

PROBLEMS_SHOWN = 12
MESSAGE_LIMIT = 2000


def refusal_text(outcome: Refused) -> str:
    """Why nothing was saved: the reason, who got in first, and each problem with its entry and field."""
    lines = [plain(outcome.message)]
    if outcome.conflict is not None:
        revision = outcome.conflict
        lines.append(
            f"Revision {revision.number} was saved by <@{revision.author_id}> at "
            f"{revision.created_at:%H:%M} UTC. Open `/concept edit` again to start from it."
        )
    for problem in outcome.problems[:PROBLEMS_SHOWN]:
        lines.append(f"• {plain(clip(str(problem), 300))}")
    if len(outcome.problems) > PROBLEMS_SHOWN:
        lines.append(f"(and {len(outcome.problems) - PROBLEMS_SHOWN} more)")
    return clip("\n".join(lines), 1500)


def count_entries(count: int) -> str:
    """Say "1 entry" or "n entries"."""
    return f"{count} entry" if count == 1 else f"{count} entries"


def _name_list(changes: Iterable[Change]) -> str:
    return clip(", ".join(f"“{plain(c.revision.concept.name)}”" for c in changes), 400)


def import_summary(saved: Saved) -> str:
    """What an import changed, entry by entry."""
    added = [c for c in saved.changes if c.before is None]
    unhidden = [c for c in saved.changes if c.before is not None and c.was_hidden]
    changed = [c for c in saved.changes if c.before is not None and not c.was_hidden]
    lines = [f"Imported: {count_entries(len(saved.changes))} saved as new revisions, all at once."]
    for label, group in (("Added", added), ("Changed", changed), ("Shown again (were hidden)", unhidden)):
        if group:
            lines.append(f"• {label} ({len(group)}): {_name_list(group)}")
    if saved.unchanged:
        lines.append(f"• Already the same ({len(saved.unchanged)}): nothing written for them.")
    return "\n".join(lines)


def saved_text(saved: Saved, view: Glossary) -> str:
    """A sentence for a saved change (or a summary for an import)."""
    if any(change.revision.action is Action.IMPORT for change in saved.changes):
        return import_summary(saved)
    revision = saved.changes[0].revision
    name = f"“{plain(revision.concept.name)}”"
    if revision.action is Action.ADD:
        return f"Added {name} to this server's glossary (revision 1): members find it with /define now."
    if revision.action is Action.HIDE:
        text = f"{name} is now hidden in this server (revision {revision.number}). `/concept unhide` brings it back."
        linking = referrers(view, revision.concept_id)
        if linking:
            text += f"\nEntries that link to it ({len(linking)}) no longer show that link: " + clip(
                ", ".join(plain(c.name) for c in linking), 600
            )
        return text
    if revision.action is Action.UNHIDE:
        return f"{name} is shown again in this server (revision {revision.number})."
    if revision.action is Action.REVERT:
        return f"Reverted {name} ({plain(revision.reason or '')}), saved as revision {revision.number}."
    hidden = " It stays hidden until `/concept unhide`." if revision.hidden else ""
    if revision.action is Action.ALIAS:
        before = saved.changes[0].before
        old = set(before.aliases) if before is not None else set()
        added = [f"“{plain(a)}”" for a in revision.concept.aliases if a not in old]
        removed = [f"“{plain(a)}”" for a in sorted(old - set(revision.concept.aliases))]
        parts = [f"Added {', '.join(added)} to {name}"] if added else []
        parts += [f"Removed {', '.join(removed)} from {name}"] if removed else []
        return f"{'; '.join(parts) or f'Saved {name}'} (revision {revision.number}).{hidden}"
    return f"Saved {name} as revision {revision.number}.{hidden}"


def audit_line(change: Change, author: discord.abc.User) -> str:
    """One line per change for the audit channel: what, which entry, who, which revision, why."""
    revision = change.revision
    line = (
        f"📝 **{plain(clip(revision.concept.name, 100))}** (`{revision.concept_id}`) {revision.action.past_tense} "
        f"by {author.mention} · revision {revision.number}"
    )
    if revision.reason:
        line += f" · “{plain(clip(' '.join(revision.reason.split()), 200))}”"
    return line


def chunks(lines: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into as few messages as Discord's length limit allows."""
    messages: list[str] = []
    for line in lines:
        if messages and len(messages[-1]) + 1 + len(line) <= limit:
            messages[-1] += "\n" + line
        else:
            messages.append(clip(line, limit))
    return messages


async def working(interaction: discord.Interaction) -> None:
    """Acknowledge now, privately, before a write that may wait on the database: the answer then comes when the
    write is done (or failed), however long that takes, and says which it was."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)


async def reply(
    interaction: discord.Interaction,
    content: str,
    *,
    embed: discord.Embed | None = None,
    file: discord.File | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Answer privately, as the first response or after a deferral."""
    extra: dict[str, Any] = {}
    if embed is not None:
        extra["embed"] = embed
    if file is not None:
        extra["file"] = file
    if view is not None:
        extra["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **extra)
    else:
        await interaction.response.send_message(content, ephemeral=True, **extra)
