"""REST routes a bot uses: identity, commands, channels, messages, guilds and members.

Interaction callbacks and webhooks live in callbacks.py; routing and recording in server.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .callbacks import InteractionRoutes
from .limits import command_errors, field_error, form_error
from .messages import HTTPError, check_limits, check_not_empty, missing_access, missing_permissions, not_found
from .records import RecordedRequest
from .state import (
    ATTACH_FILES,
    BAN_MEMBERS,
    EMBED_LINKS,
    KICK_MEMBERS,
    MANAGE_MESSAGES,
    MANAGE_NICKNAMES,
    MANAGE_ROLES,
    MODERATE_MEMBERS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Member,
    Message,
)

if TYPE_CHECKING:
    from .server import StandIn

Reply = tuple[int, Any]
Handler = Callable[[RecordedRequest, dict[str, str]], Awaitable[Reply]]


class Rest:
    """Route table (method, path template) -> handler; handlers raise HTTPError for Discord errors."""

    def __init__(self, standin: StandIn) -> None:
        self.s = standin
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        r = self._add
        r("GET", "/users/@me", self.get_me)
        r("GET", "/users/{user_id}", self.get_user)
        r("POST", "/users/@me/channels", self.create_dm)
        r("GET", "/oauth2/applications/@me", self.app_info)
        r("GET", "/applications/@me", self.app_info)
        r("GET", "/gateway", self.gateway)
        r("GET", "/gateway/bot", self.gateway_bot)
        for prefix in ("/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"):
            r("GET", prefix, self.list_commands)
            r("PUT", prefix, self.put_commands)
            r("POST", prefix, self.post_command)
            r("GET", prefix + "/{command_id}", self.get_command)
            r("PATCH", prefix + "/{command_id}", self.patch_command)
            r("DELETE", prefix + "/{command_id}", self.delete_command)
        hooks = InteractionRoutes(standin)
        r("POST", "/interactions/{interaction_id}/{token}/callback", hooks.callback)
        r("POST", "/webhooks/{app_id}/{token}", hooks.followup)
        r("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", hooks.webhook_get)
        r("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", hooks.webhook_edit)
        r("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", hooks.webhook_delete)
        r("GET", "/channels/{channel_id}", self.get_channel)
        r("GET", "/channels/{channel_id}/messages", self.list_messages)
        r("POST", "/channels/{channel_id}/messages", self.send_message)
        r("POST", "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        r("POST", "/channels/{channel_id}/typing", self.typing)
        r("GET", "/guilds/{guild_id}", self.get_guild)
        r("GET", "/guilds/{guild_id}/channels", self.guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self.guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        r("PATCH", "/guilds/{guild_id}/members/{user_id}", self.edit_member)
        r("DELETE", "/guilds/{guild_id}/members/{user_id}", self.kick_member)
        r("PUT", "/guilds/{guild_id}/bans/{user_id}", self.ban_member)
        r("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_role)
        r("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.remove_role)

    def _add(self, method: str, template: str, handler: Handler) -> None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self.routes.append((method, re.compile(pattern + "$"), template, handler))

    def match(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        for route_method, pattern, template, handler in self.routes:
            if route_method == method:
                m = pattern.match(path)
                if m:
                    return template, handler, m.groupdict()
        return None

    # -- lookups -------------------------------------------------------------------------------
    def _guild(self, params: dict[str, str]) -> Guild:
        guild = self.s.world.guilds.get(_int(params["guild_id"]))
        if guild is None or self.s.bot_user.id not in guild.members:
            raise not_found(10004, "Guild")
        return guild

    def _channel(self, params: dict[str, str], needed: int = VIEW_CHANNEL) -> Channel:
        channel = self.s.world.channel(_int(params["channel_id"]))
        if channel is None:
            raise not_found(10003, "Channel")
        if channel.guild_id is not None:
            perms = self._bot_perms(channel)
            if not perms & VIEW_CHANNEL:
                raise missing_access()
            if perms & needed != needed:
                raise missing_permissions()
        return channel

    def _bot_perms(self, channel: Channel) -> int:
        guild = self.s.world.guilds[channel.guild_id or 0]
        me = guild.members.get(self.s.bot_user.id)
        return 0 if me is None else guild.channel_permissions(channel, me)

    def _member(self, guild: Guild, params: dict[str, str]) -> Member:
        member = guild.members.get(_int(params["user_id"]))
        if member is None:
            raise not_found(10007, "Member")
        return member

    def _can_moderate(self, guild: Guild, target: Member, perm: int) -> None:
        me = guild.members[self.s.bot_user.id]
        if not guild.base_permissions(me) & perm:
            raise missing_permissions()
        if target.id == guild.owner_id or guild.top_position(target) >= guild.top_position(me):
            raise missing_permissions()

    # -- identity ----------------------------------------------------------------------------
    async def get_me(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, self.s.bot_user_dict()

    async def get_user(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        user = self.s.world.users.get(_int(params["user_id"]))
        if user is None:
            raise not_found(10013, "User")
        return 200, user.to_dict()

    async def create_dm(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        user = self.s.world.users.get(_int(str((rec.json or {}).get("recipient_id"))))
        if user is None:
            raise not_found(10013, "User")
        return 200, self.s.dm_channel(user).to_dict()

    async def app_info(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, self.s.app_info_dict()

    async def gateway(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, {"url": self.s.gateway_url}

    async def gateway_bot(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        started = len(self.s.gateway.records)
        limit = {
            "total": 1000,
            "remaining": max(0, 1000 - started),
            "reset_after": 86_400_000,
            "max_concurrency": self.s.max_concurrency,
        }
        return 200, {"url": self.s.gateway_url, "shards": self.s.shards, "session_start_limit": limit}

    # -- application commands ----------------------------------------------------------------
    def _scope(self, params: dict[str, str]) -> int | None:
        if params.get("app_id") != str(self.s.application_id):
            raise not_found(10002, "Application")
        return self._guild(params).id if "guild_id" in params else None

    def _stored_command(self, cmd: dict[str, Any], scope: int | None, old: dict[str, Any] | None) -> dict[str, Any]:
        stored = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            "name_localizations": None,
            "description_localizations": None,
            **cmd,
        }
        # Discord answers its normalised form (application-commands.mdx): permissions as a string,
        # integration_types defaulting to guild install, no nulls where the object has values.
        perms = stored.get("default_member_permissions")
        stored["default_member_permissions"] = None if perms is None else str(perms)
        if stored.get("integration_types") is None:
            stored["integration_types"] = [0]
        if stored.get("description") is None:
            stored["description"] = ""
        stored["id"] = old["id"] if old else str(self.s.world.ids.next())
        stored["application_id"] = str(self.s.application_id)
        stored["version"] = str(self.s.world.ids.next())
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    def _validate_commands(self, commands: list[dict[str, Any]]) -> None:
        errors = command_errors(commands)
        if errors:
            raise HTTPError(400, form_error(errors))

    async def list_commands(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, self.s.world.commands.get(self._scope(params), [])

    async def put_commands(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        scope = self._scope(params)
        commands = rec.json or []
        self._validate_commands(commands)
        if len(commands) > 100:
            raise HTTPError(400, field_error([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
        old = {(c["name"], c.get("type", 1)): c for c in self.s.world.commands.get(scope, [])}
        stored = [self._stored_command(c, scope, old.get((c["name"], c.get("type", 1)))) for c in commands]
        self.s.world.commands[scope] = stored
        return 200, stored

    async def post_command(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        scope = self._scope(params)
        cmd = rec.json or {}
        self._validate_commands([cmd])
        existing = self.s.world.commands.setdefault(scope, [])
        old = next((c for c in existing if c["name"] == cmd.get("name") and c["type"] == cmd.get("type", 1)), None)
        stored = self._stored_command(cmd, scope, old)
        if old is not None:
            existing[existing.index(old)] = stored
            return 200, stored
        existing.append(stored)
        return 201, stored

    def _find_command(self, params: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        commands = self.s.world.commands.get(self._scope(params), [])
        for cmd in commands:
            if cmd["id"] == params["command_id"]:
                return commands, cmd
        raise not_found(10063, "application command")

    async def get_command(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, self._find_command(params)[1]

    async def patch_command(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        _, cmd = self._find_command(params)
        merged = {**cmd, **(rec.json or {})}
        self._validate_commands([merged])
        cmd.update(rec.json or {})
        return 200, cmd

    async def delete_command(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        commands, cmd = self._find_command(params)
        commands.remove(cmd)
        return 204, None

    # -- channels ----------------------------------------------------------------------------
    async def get_channel(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, self._channel(params).to_dict()

    async def list_messages(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        channel = self._channel(params, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        messages = self.s.world.channel_messages(channel.id)
        q = rec.query
        limit = max(1, min(100, int(q.get("limit", 50))))
        if "before" in q:
            messages = [m for m in messages if m.id < int(q["before"])]
        if "after" in q:
            newer = [m for m in messages if m.id > int(q["after"])][:limit]
            return 200, [m.to_dict() for m in reversed(newer)]
        if "around" in q:
            around = int(q["around"])
            older = [m for m in messages if m.id <= around][-(limit // 2 + limit % 2) :]
            newer = [m for m in messages if m.id > around][: limit // 2]
            messages = older + newer
        return 200, [m.to_dict() for m in reversed(messages[-limit:])]

    def _channel_message(self, channel: Channel, message_id: str) -> Message:
        message = self.s.world.messages.get(_int(message_id))
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral:
            raise not_found(10008, "Message")
        return message

    async def send_message(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        channel = self._channel(params, VIEW_CHANNEL | SEND_MESSAGES)
        payload = dict(rec.json or {})
        if channel.type == 1 and channel.recipient is not None and not channel.recipient.accepts_dms:
            raise HTTPError(403, {"code": 50007, "message": "Cannot send messages to this user"})
        if channel.guild_id is not None:
            perms = self._bot_perms(channel)
            if rec.files and not perms & ATTACH_FILES:
                raise missing_permissions()
            if not perms & EMBED_LINKS:
                payload.pop("embeds", None)  # Discord silently drops embeds without Embed Links
        check_limits(payload)
        check_not_empty(payload, rec.files)
        ref = payload.get("message_reference")
        unknown_ref = ref and _int(str(ref.get("message_id"))) not in self.s.world.messages
        if unknown_ref and ref.get("fail_if_not_exists", True):
            raise HTTPError(
                400, field_error(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            )
        message = self.s.messages.create(
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.s.bot_user,
            payload=payload,
            files=rec.files,
            kind=19 if ref else 0,
        )
        return 200, message.to_dict()

    async def get_message(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        channel = self._channel(params, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        return 200, self._channel_message(channel, params["message_id"]).to_dict()

    async def edit_message(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        channel = self._channel(params)
        message = self._channel_message(channel, params["message_id"])
        if message.author.id != self.s.bot_user.id:
            raise HTTPError(403, {"code": 50005, "message": "Cannot edit a message authored by another user"})
        payload = rec.json or {}
        check_limits(payload)
        self.s.messages.edit(message, payload, rec.files)
        return 200, message.to_dict()

    async def delete_message(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        channel = self._channel(params)
        message = self._channel_message(channel, params["message_id"])
        others = message.author.id != self.s.bot_user.id and channel.guild_id is not None
        if others and not self._bot_perms(channel) & MANAGE_MESSAGES:
            raise missing_permissions()
        self.s.messages.delete(message)
        return 204, None

    async def bulk_delete(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        channel = self._channel(params, VIEW_CHANNEL | MANAGE_MESSAGES)
        ids = [str(x) for x in (rec.json or {}).get("messages", [])]
        if not 2 <= len(ids) <= 100:
            raise HTTPError(
                400, field_error(["messages"], "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")
            )
        for mid in ids:
            self.s.messages.delete(self._channel_message(channel, mid))
        return 204, None

    async def typing(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        self._channel(params, VIEW_CHANNEL | SEND_MESSAGES)
        return 204, None

    # -- guilds and members ------------------------------------------------------------------
    async def get_guild(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, self._guild(params).to_dict()

    async def guild_channels(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, [c.to_dict() for c in self._guild(params).channels.values()]

    async def guild_roles(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return 200, [r.to_dict() for r in self._guild(params).roles.values()]

    async def get_member(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        guild = self._guild(params)
        return 200, self._member(guild, params).to_dict()

    async def edit_member(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        guild = self._guild(params)
        member = self._member(guild, params)
        body = rec.json or {}
        if "communication_disabled_until" in body:
            self._can_moderate(guild, member, MODERATE_MEMBERS)
            member.timed_out_until = body["communication_disabled_until"]
        if "nick" in body:
            self._can_moderate(guild, member, MANAGE_NICKNAMES)
            member.nick = body["nick"]
        if "roles" in body:
            self._can_moderate(guild, member, MANAGE_ROLES)
            member.roles = [int(r) for r in body["roles"]]
        self.s.member_updated(guild, member)
        return 200, member.to_dict()

    async def kick_member(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        guild = self._guild(params)
        member = self._member(guild, params)
        self._can_moderate(guild, member, KICK_MEMBERS)
        self.s.remove_member(guild, member)
        return 204, None

    async def ban_member(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        guild = self._guild(params)
        user_id = _int(params["user_id"])
        member = guild.members.get(user_id)
        if member is not None:
            self._can_moderate(guild, member, BAN_MEMBERS)
            self.s.remove_member(guild, member)
        elif not guild.base_permissions(guild.members[self.s.bot_user.id]) & BAN_MEMBERS:
            raise missing_permissions()
        guild.bans[user_id] = rec.headers.get("X-Audit-Log-Reason")
        return 204, None

    async def _role_change(self, params: dict[str, str], add: bool) -> Reply:
        guild = self._guild(params)
        member = self._member(guild, params)
        role = guild.roles.get(_int(params["role_id"]))
        if role is None:
            raise not_found(10011, "Role")
        me = guild.members[self.s.bot_user.id]
        if not guild.base_permissions(me) & MANAGE_ROLES or role.position >= guild.top_position(me):
            raise missing_permissions()
        if add and role.id not in member.roles:
            member.roles.append(role.id)
        elif not add and role.id in member.roles:
            member.roles.remove(role.id)
        self.s.member_updated(guild, member)
        return 204, None

    async def add_role(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return await self._role_change(params, add=True)

    async def remove_role(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        return await self._role_change(params, add=False)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1
