"""Build INTERACTION_CREATE payloads the way Discord does, typed from the synced schema.

The Discord client refuses malformed invocations (unknown options, missing required
ones, values outside choices), so these builders raise AssertionError for them too.
"""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .state import (
    ADD_REACTIONS,
    ATTACH_FILES,
    EMBED_LINKS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    USE_EXTERNAL_EMOJIS,
    VIEW_CHANNEL,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    User,
    World,
)

DM_APP_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
)
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
OPTION_TYPES = {
    1: "subcommand",
    2: "group",
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}
# select component type -> the option type whose resolved data it carries
SELECT_RESOLVE = {5: 6, 6: 8, 7: 9, 8: 7}


@dataclass
class Upload:
    """A file a user attaches to an attachment option."""

    filename: str
    content: bytes
    content_type: str | None = None
    url: str | None = None
    """A URL of the client's choosing instead of the stand-in's own (a forged payload)."""
    declared_size: int | None = None
    """The size the payload claims, instead of the content's length (a lying payload)."""


class Resolver:
    """Collects the ``resolved`` block discord.py needs for snowflake options."""

    def __init__(
        self,
        world: World,
        guild: Guild | None,
        channel: Channel,
        invoker: Member | User,
        new_attachment: Callable[[Upload], Attachment],
    ) -> None:
        self.world = world
        self.guild = guild
        self.channel = channel
        self.invoker = invoker
        self.new_attachment = new_attachment
        self.data: dict[str, dict[str, Any]] = {}

    def _put(self, kind: str, key: int, value: dict[str, Any]) -> None:
        self.data.setdefault(kind, {})[str(key)] = value

    def user(self, value: Any) -> str:
        user = value.user if isinstance(value, Member) else value
        if isinstance(user, int):
            user = self.world.users.get(user)
        if not isinstance(user, User):
            raise AssertionError(f"expected a user or member, got {value!r}")
        self._put("users", user.id, user.to_dict())
        if self.guild is not None and user.id in self.guild.members:
            member = self.guild.members[user.id]
            perms = self.guild.channel_permissions(self.channel, member)
            self._put("members", user.id, member.to_dict(with_user=False, permissions=perms))
        return str(user.id)

    def role(self, value: Any) -> str:
        role = value
        if isinstance(value, int) and self.guild is not None:
            role = self.guild.roles.get(value)
        if not isinstance(role, Role):
            raise AssertionError(f"expected a role, got {value!r}")
        self._put("roles", role.id, role.to_dict())
        return str(role.id)

    def channel_(self, value: Any, allowed_types: Sequence[int] | None = None) -> str:
        channel = self.world.channel(value) if isinstance(value, int) else value
        if not isinstance(channel, Channel):
            raise AssertionError(f"expected a channel, got {value!r}")
        if allowed_types and channel.type not in allowed_types:
            raise AssertionError(f"channel {channel.name!r} has type {channel.type}; allowed: {list(allowed_types)}")
        perms = 0
        if self.guild is not None and isinstance(self.invoker, Member):
            perms = self.guild.channel_permissions(channel, self.invoker)
        data = channel.to_dict()
        data["permissions"] = str(perms)
        self._put("channels", channel.id, data)
        return str(channel.id)

    def mentionable(self, value: Any) -> str:
        if isinstance(value, Role):
            return self.role(value)
        return self.user(value)

    def attachment(self, value: Any) -> str:
        if isinstance(value, tuple):
            value = Upload(*value)
        if isinstance(value, Upload):
            value = self.new_attachment(value)
        if not isinstance(value, Attachment):
            raise AssertionError(f"expected an Upload(filename, content) or (filename, bytes), got {value!r}")
        self._put("attachments", value.id, value.to_dict())
        return str(value.id)


def guess_type(filename: str, given: str | None) -> str | None:
    if given and given != "application/octet-stream":
        return given
    return mimetypes.guess_type(filename)[0] or given


def _check_value(opt: dict[str, Any], value: Any) -> None:
    name, kind = opt["name"], opt["type"]
    choices = opt.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise AssertionError(f"option {name!r}: {value!r} is not one of the choices {[c['value'] for c in choices]}")
    if kind == 3 and not opt.get("min_length", 0) <= len(value) <= opt.get("max_length", 6000):
        raise AssertionError(f"option {name!r}: length {len(value)} outside min_length/max_length")
    if kind in (4, 10):
        if "min_value" in opt and value < opt["min_value"]:
            raise AssertionError(f"option {name!r}: {value} < min_value {opt['min_value']}")
        if "max_value" in opt and value > opt["max_value"]:
            raise AssertionError(f"option {name!r}: {value} > max_value {opt['max_value']}")


def convert_option(opt: dict[str, Any], value: Any, resolver: Resolver) -> Any:
    kind = opt["type"]
    if kind == 3:
        value = str(value)
    elif kind == 4:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AssertionError(f"option {opt['name']!r} is an integer, got {value!r}")
    elif kind == 10:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AssertionError(f"option {opt['name']!r} is a number, got {value!r}")
    elif kind == 5:
        if not isinstance(value, bool):
            raise AssertionError(f"option {opt['name']!r} is a boolean, got {value!r}")
    elif kind == 6:
        return resolver.user(value)
    elif kind == 7:
        return resolver.channel_(value, opt.get("channel_types"))
    elif kind == 8:
        return resolver.role(value)
    elif kind == 9:
        return resolver.mentionable(value)
    elif kind == 11:
        return resolver.attachment(value)
    _check_value(opt, value)
    return value


def build_options(
    schema: list[dict[str, Any]], values: dict[str, Any], resolver: Resolver, focused: str | None
) -> list[dict[str, Any]]:
    by_name = {o["name"]: o for o in schema}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise AssertionError(f"unknown option(s) {unknown}; the command has {sorted(by_name)}")
    if focused is None:
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing:
            raise AssertionError(f"required option(s) {missing} missing")
    elif focused not in by_name:
        raise AssertionError(f"focused option {focused!r} is not an option of the command ({sorted(by_name)})")
    out: list[dict[str, Any]] = []
    for opt in schema:
        name = opt["name"]
        if name not in values and name != focused:
            continue
        if name == focused:
            out.append({"type": opt["type"], "name": name, "value": str(values.get(name, "")), "focused": True})
        else:
            out.append({"type": opt["type"], "name": name, "value": convert_option(opt, values[name], resolver)})
    return out


def find_command(world: World, guild: Guild | None, name: str, kind: int = 1) -> tuple[dict[str, Any], int | None]:
    scopes: list[int | None] = [guild.id] if guild is not None else []
    scopes.append(None)
    for scope in scopes:
        for cmd in world.commands.get(scope, []):
            if cmd["name"] == name and int(cmd.get("type", 1)) == kind:
                return cmd, scope
    known = sorted({c["name"] for scope in scopes for c in world.commands.get(scope, [])})
    raise AssertionError(
        f"command {name!r} (type {kind}) is not synced (known: {known}); "
        "sync the tree or call standin.register_commands(...) / harness.preload_commands(bot, standin)"
    )


def check_command_access(cmd: dict[str, Any], guild: Guild | None, invoker: Member | User, channel: Channel) -> None:
    """Discord only offers a command where its contexts and default_member_permissions allow it."""
    contexts = cmd.get("contexts")
    context = 0 if guild is not None else 1
    if contexts is not None and context not in contexts:
        raise AssertionError(f"Discord would not offer /{cmd['name']} in {'a guild' if guild else 'DMs'}")
    if guild is None and cmd.get("dm_permission") is False:
        raise AssertionError(f"Discord would not offer /{cmd['name']} in DMs (dm_permission false)")
    required = cmd.get("default_member_permissions")
    if guild is not None and required is not None and isinstance(invoker, Member):
        needed = int(required)
        if guild.channel_permissions(channel, invoker) & needed != needed:
            raise AssertionError(
                f"Discord would not offer /{cmd['name']} to {invoker.user.username!r}: "
                f"default_member_permissions {needed} not held (StandIn(enforce_command_permissions=False) to bypass)"
            )


def command_data(
    world: World,
    guild: Guild | None,
    path: Sequence[str],
    options: dict[str, Any],
    resolver: Resolver,
    focused: str | None = None,
) -> dict[str, Any]:
    """data for a CHAT_INPUT interaction: ``path`` is ("daily", "set") for /daily set."""
    cmd, scope = find_command(world, guild, path[0])
    schema = cmd.get("options") or []
    nested: list[dict[str, Any]] = []
    outer = nested
    for part in path[1:]:
        sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
        if sub is None:
            subs = [o["name"] for o in schema if o["type"] in (1, 2)]
            raise AssertionError(f"{part!r} is not a subcommand/group of /{' '.join(path)} (has {subs})")
        entry: dict[str, Any] = {"type": sub["type"], "name": part, "options": []}
        nested.append(entry)
        nested = entry["options"]
        schema = sub.get("options") or []
    if any(o["type"] in (1, 2) for o in schema):
        raise AssertionError(f"/{' '.join(path)} needs a subcommand: {[o['name'] for o in schema]}")
    nested.extend(build_options(schema, options, resolver, focused))
    data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": outer}
    if resolver.data:
        data["resolved"] = resolver.data
    if scope is not None:
        data["guild_id"] = str(scope)
    return data


def modal_submit_data(modal: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Mirror the modal's layout with the user's values (action rows or labels)."""
    fields: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for row in modal.get("components") or []:
        if row.get("type") == 18:
            inner = row.get("component") or {}
            fields[inner.get("custom_id", "")] = inner
            rows.append({"type": 18, "id": row.get("id", 0), "component": _submitted(inner, values)})
        elif row.get("type") == 1:
            comps = row.get("components") or []
            for comp in comps:
                fields[comp.get("custom_id", "")] = comp
            rows.append({"type": 1, "components": [_submitted(c, values) for c in comps]})
        else:
            rows.append({"type": row.get("type"), "id": row.get("id", 0)})
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise AssertionError(f"modal {modal.get('custom_id')!r} has no field(s) {unknown}; fields: {sorted(fields)}")
    for custom_id, comp in fields.items():
        value = values.get(custom_id)
        if comp.get("type") == 4:
            text = "" if value is None else str(value)
            if comp.get("required", True) and not text:
                raise AssertionError(f"modal field {custom_id!r} is required")
            if text and not comp.get("min_length", 0) <= len(text) <= comp.get("max_length", 4000):
                raise AssertionError(f"modal field {custom_id!r}: length {len(text)} outside min/max length")
    return {"custom_id": modal["custom_id"], "components": rows}


def _submitted(comp: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    custom_id = comp.get("custom_id")
    value = values.get(custom_id or "")
    if comp.get("type") == 4:
        text = "" if value is None else str(value)
        return {"type": 4, "id": comp.get("id", 0), "custom_id": custom_id, "value": text}
    selected = [] if value is None else [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
    return {"type": comp.get("type"), "id": comp.get("id", 0), "custom_id": custom_id, "values": selected}


def interaction_payload(
    *,
    iid: int,
    application_id: int,
    kind: int,
    data: dict[str, Any] | None,
    guild: Guild | None,
    invoker: Member | User,
    channel: Channel,
    bot_member: Member | None,
    message: Message | None = None,
) -> tuple[dict[str, Any], str]:
    """The full INTERACTION_CREATE ``d`` plus the interaction token."""
    token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
    user = invoker.user if isinstance(invoker, Member) else invoker
    channel_data = channel.to_dict()
    payload: dict[str, Any] = {
        "id": str(iid),
        "application_id": str(application_id),
        "type": kind,
        "token": token,
        "version": 1,
        "channel": channel_data,
        "channel_id": str(channel.id),
        "locale": user.locale,
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if guild is not None:
        if not isinstance(invoker, Member):
            raise AssertionError(f"{user.username!r} is not a member of {guild.name!r}")
        perms = guild.channel_permissions(channel, invoker)
        channel_data["permissions"] = str(perms)
        app_perms = guild.channel_permissions(channel, bot_member) if bot_member is not None else 0
        payload.update(
            {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
                "guild_locale": guild.locale,
                "member": invoker.to_dict(permissions=perms),
                "app_permissions": str(app_perms),
                "authorizing_integration_owners": {"0": str(guild.id)},
                "context": 0,
            }
        )
    else:
        payload.update(
            {
                "user": user.to_dict(),
                "app_permissions": str(DM_APP_PERMISSIONS),
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,
            }
        )
    if message is not None:
        payload["message"] = message.to_dict()
    return payload, token
