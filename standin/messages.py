"""Creating and editing stored messages from bot payloads (shared by REST routes)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .limits import form_error, message_errors
from .payloads import guess_type
from .records import InteractionResult, UploadedFile
from .state import EPHEMERAL, LOADING, Attachment, Message, User, iso_now, resolve_mentions

if TYPE_CHECKING:
    from .server import StandIn

KEPT_FLAGS = EPHEMERAL
SETTABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)  # suppress embeds, suppress notifications, components v2


# Defaults Discord fills in on the components it stores (the spec's component response objects require them).
COMPONENT_DEFAULTS: dict[int, dict[str, Any]] = {
    **{kind: {"min_values": 1, "max_values": 1} for kind in (3, 5, 6, 7, 8)},
    11: {"description": None, "spoiler": False},
    14: {"spacing": 1, "divider": True},
    17: {"accent_color": None, "spoiler": False},
}


def stored_embeds(embeds: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Embeds as Discord stores them: ``type`` "rich" and every field's ``inline`` set."""
    out = []
    for embed in embeds or []:
        embed = {"type": "rich", **embed}
        if isinstance(embed.get("fields"), list):
            embed["fields"] = [{"inline": False, **f} for f in embed["fields"]]
        out.append(embed)
    return out


def stored_components(components: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A copy with the ``id`` Discord assigns to every component the bot left unnumbered
    (reference.mdx: ids are generated sequentially, skipping ids the app chose) and Discord's defaults."""
    copied: list[dict[str, Any]] = copy.deepcopy(list(components or []))
    order: list[dict[str, Any]] = []
    stack = list(reversed(copied))
    while stack:
        comp = stack.pop()
        if not isinstance(comp, dict):
            continue
        order.append(comp)
        children = [comp[k] for k in ("component", "accessory") if isinstance(comp.get(k), dict)]
        stack.extend(reversed([*(comp.get("components") or []), *children]))
    used = {c["id"] for c in order if isinstance(c.get("id"), int)}
    next_id = 1
    for comp in order:
        for key, value in COMPONENT_DEFAULTS.get(comp.get("type"), {}).items():  # type: ignore[arg-type]
            comp.setdefault(key, value)
        if not isinstance(comp.get("id"), int):
            while next_id in used:
                next_id += 1
            comp["id"] = next_id
            used.add(next_id)
    return copied


class HTTPError(Exception):
    """Raised by route handlers; becomes a Discord-style JSON error response."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def not_found(code: int, what: str) -> HTTPError:
    return HTTPError(404, {"code": code, "message": f"Unknown {what}"})


def missing_permissions() -> HTTPError:
    return HTTPError(403, {"code": 50013, "message": "Missing Permissions"})


def missing_access() -> HTTPError:
    return HTTPError(403, {"code": 50001, "message": "Missing Access"})


def check_limits(payload: dict[str, Any], prefix: list[str | int] | None = None) -> None:
    errors = message_errors(payload, prefix=prefix)
    if errors:
        raise HTTPError(400, form_error(errors))


def check_not_empty(payload: dict[str, Any], files: list[UploadedFile]) -> None:
    if not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or files
        or payload.get("sticker_ids")
        or payload.get("poll")
    ):
        raise HTTPError(400, {"code": 50006, "message": "Cannot send an empty message"})


def interaction_metadata(result: InteractionResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(result.id),
        "type": result.type,
        "user": result.user.to_dict(),
        "authorizing_integration_owners": result.payload.get("authorizing_integration_owners", {}),
    }
    if result.type == 2:
        data["name"] = (result.payload.get("data") or {}).get("name")
    if result.source_message is not None and result.type == 3:
        data["interacted_message_id"] = str(result.source_message.id)
    if result.type == 5 and result.opener is not None:
        data["triggering_interaction_metadata"] = interaction_metadata(result.opener)
        if result.opener.message is not None:
            data["original_response_message_id"] = str(result.opener.message.id)
    return data


class MessageStore:
    """Turns bot payloads (JSON or payload_json + files[n]) into stored messages."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin

    def _attachment(self, upload: UploadedFile, description: str | None, ephemeral: bool) -> Attachment:
        standin = self.standin
        aid = standin.world.ids.next()
        attachment = Attachment(
            id=aid,
            filename=upload.filename,
            content=upload.content,
            content_type=guess_type(upload.filename, upload.content_type),
            url=f"{standin.base_url}/attachments/{aid}/{upload.filename}",
            description=description,
            ephemeral=ephemeral,
        )
        standin.world.attachments[aid] = attachment
        return attachment

    def attachments_for(
        self, payload: dict[str, Any], files: list[UploadedFile], existing: list[Attachment], ephemeral: bool
    ) -> list[Attachment]:
        """Discord semantics: ``attachments`` lists kept ids and describes new files[n] by index."""
        by_field = {f.field: f for f in files}
        kept: list[Attachment] = []
        described: dict[str, str | None] = {}
        if "attachments" in payload:
            existing_ids = {a.id: a for a in existing}
            for item in payload.get("attachments") or []:
                ident = int(item.get("id", -1))
                if ident in existing_ids:
                    kept.append(existing_ids[ident])
                else:
                    described[f"files[{ident}]"] = item.get("description")
        else:
            kept = list(existing)
        new = [self._attachment(f, described.get(name), ephemeral) for name, f in by_field.items()]
        return kept + new

    def create(
        self,
        *,
        channel_id: int,
        guild_id: int | None,
        author: User,
        payload: dict[str, Any],
        files: list[UploadedFile],
        flags: int = 0,
        kind: int = 0,
        interaction: InteractionResult | None = None,
    ) -> Message:
        """Store a new message (and dispatch MESSAGE_CREATE unless ephemeral).

        With ``interaction`` it is an interaction response/followup: authored by the app's
        webhook, type 20 for slash commands, carrying ``interaction_metadata``.
        """
        standin = self.standin
        world = standin.world
        ephemeral = bool(flags & EPHEMERAL)
        message = Message(
            id=world.ids.next(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=author,
            content=payload.get("content") or "",
            embeds=stored_embeds(payload.get("embeds")),
            components=stored_components(payload.get("components")),
            flags=flags | (int(payload.get("flags") or 0) & SETTABLE_FLAGS),
            type=kind,
            tts=bool(payload.get("tts")),
            allowed_mentions=payload.get("allowed_mentions"),
            message_reference=payload.get("message_reference"),
        )
        if interaction is not None:
            message.interaction_id = interaction.id
            message.type = 20 if interaction.type == 2 else 0
            message.webhook_id = message.application_id = standin.application_id
            message.interaction_metadata = interaction_metadata(interaction)
        message.attachments = self.attachments_for(payload, files, [], ephemeral)
        if guild_id is not None:
            guild = world.guilds.get(guild_id)
            if guild is not None:
                message.member = guild.members.get(author.id)
        self._mentions(message)
        world.messages[message.id] = message
        channel = world.channel(channel_id)
        if channel is not None and not ephemeral:
            channel.last_message_id = message.id
        if not ephemeral:
            standin.dispatch_message("MESSAGE_CREATE", message)
        return message

    def edit(self, message: Message, payload: dict[str, Any], files: list[UploadedFile]) -> None:
        was_loading = bool(message.flags & LOADING)
        for key in ("content", "embeds", "components"):
            if key in payload:
                value = payload[key]
                if key == "components":
                    value = stored_components(value)
                elif key == "embeds":
                    value = stored_embeds(value)
                setattr(message, key, ("" if key == "content" else []) if value is None else value)
        if "flags" in payload and payload["flags"] is not None:
            message.flags = (message.flags & KEPT_FLAGS) | (int(payload["flags"]) & SETTABLE_FLAGS)
        message.flags &= ~LOADING
        if "allowed_mentions" in payload:
            message.allowed_mentions = payload["allowed_mentions"]
        message.attachments = self.attachments_for(payload, files, message.attachments, message.ephemeral)
        self._mentions(message)
        if not was_loading:
            message.edited_timestamp = iso_now()
        message.edits.append(payload)
        if not message.ephemeral:
            self.standin.dispatch_message("MESSAGE_UPDATE", message)

    def delete(self, message: Message) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            self.standin.dispatch_message("MESSAGE_DELETE", message, data=data)

    def _mentions(self, message: Message) -> None:
        world = self.standin.world
        users, roles, everyone = resolve_mentions(message.content, message.allowed_mentions)
        message.mentions = [world.users[u] for u in sorted(users) if u in world.users]
        message.mention_roles = sorted(roles)
        message.mention_everyone = everyone
