"""Test-facing world building: guilds, members, roles, channels, permissions.

Changes made while a bot is connected are dispatched on the gateway (GUILD_CREATE,
CHANNEL_UPDATE, GUILD_ROLE_UPDATE, ...) so discord.py's cache stays in step, as on Discord.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .gateway import GUILD_MEMBERS, GUILDS
from .state import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    Channel,
    Guild,
    Member,
    Overwrite,
    Role,
    User,
    World,
    perm_value,
)

if TYPE_CHECKING:
    from .gateway import Gateway


class WorldAPI:
    """Mixin of StandIn: builds the Discord world tests run in."""

    world: World
    bot_user: User
    gateway: Gateway

    def add_user(
        self,
        username: str,
        *,
        bot: bool = False,
        global_name: str | None = None,
        locale: str = "en-US",
        user_id: int | None = None,
    ) -> User:
        """A user; `user_id` fixes the id (e.g. the offline console keeps the same person across runs)."""
        user = User(
            id=user_id or self.world.ids.next(), username=username, bot=bot, global_name=global_name, locale=locale
        )
        self.world.users[user.id] = user
        return user

    def _user(self, user: User | Member | str) -> User:
        if isinstance(user, Member):
            return user.user
        if isinstance(user, str):
            return self.add_user(user)
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: User | str | None = None,
        channels: tuple[str, ...] = ("general",),
        bot_permissions: Any = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: Any = DEFAULT_EVERYONE_PERMISSIONS,
        locale: str = "en-US",
        with_bot: bool = True,
        guild_id: int | None = None,
    ) -> Guild:
        """A guild with @everyone, an owner, the bot (own managed role) and text channels.

        A fixed `guild_id` also fixes its channels' ids (guild_id + 1 + position), so a guild can be the same
        one across runs (the offline console keeps its database)."""
        owner_user = self._user(owner or f"{name.lower().replace(' ', '-')}-owner")
        fixed = guild_id is not None
        guild_id = guild_id or self.world.ids.next()
        guild = Guild(id=guild_id, name=name, owner_id=owner_user.id, locale=locale)
        guild.roles[guild_id] = Role(
            id=guild_id, guild_id=guild_id, name="@everyone", permissions=perm_value(everyone_permissions)
        )
        guild.members[owner_user.id] = Member(user=owner_user, guild_id=guild_id)
        for position, channel_name in enumerate(channels):
            channel_id = guild_id + 1 + position if fixed else self.world.ids.next()
            channel = Channel(id=channel_id, name=channel_name, guild_id=guild_id, position=position)
            guild.channels[channel.id] = channel
        self.world.guilds[guild_id] = guild
        if with_bot:
            role = Role(
                id=self.world.ids.next(),
                guild_id=guild_id,
                name=self.bot_user.username,
                permissions=perm_value(bot_permissions),
                position=1,
                managed=True,
                bot_id=self.bot_user.id,
            )
            guild.roles[role.id] = role
            guild.members[self.bot_user.id] = Member(user=self.bot_user, guild_id=guild_id, roles=[role.id])
            self.gateway.dispatch("GUILD_CREATE", guild.to_gateway_dict(), intent=GUILDS)
        return guild

    def bot_member(self, guild: Guild) -> Member:
        return guild.members[self.bot_user.id]

    def bot_role(self, guild: Guild) -> Role:
        return next(r for r in guild.roles.values() if r.bot_id == self.bot_user.id)

    def add_bot_to_guild(self, guild: Guild, *, permissions: Any = DEFAULT_BOT_PERMISSIONS) -> None:
        """The bot joins an existing guild (GUILD_CREATE), like an invite being accepted."""
        role = self.add_role(guild, self.bot_user.username, permissions=permissions)
        role.managed, role.bot_id = True, self.bot_user.id
        guild.members[self.bot_user.id] = Member(user=self.bot_user, guild_id=guild.id, roles=[role.id])
        self.gateway.dispatch("GUILD_CREATE", guild.to_gateway_dict(), intent=GUILDS)

    def remove_guild(self, guild: Guild, *, unavailable: bool = False) -> None:
        """GUILD_DELETE: the bot was removed (or, with unavailable=True, an outage)."""
        data: dict[str, Any] = {"id": str(guild.id)}
        if unavailable:
            data["unavailable"] = True
        else:
            guild.members.pop(self.bot_user.id, None)
        self.gateway.dispatch("GUILD_DELETE", data, intent=GUILDS)

    def add_role(self, guild: Guild, name: str, *, permissions: Any = 0, mentionable: bool = False) -> Role:
        """New roles go just above @everyone (below the bot's role, as admins usually arrange)."""
        for role in guild.roles.values():
            if role.id != guild.id:
                role.position += 1
        role = Role(
            id=self.world.ids.next(),
            guild_id=guild.id,
            name=name,
            permissions=perm_value(permissions),
            position=1,
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        self.gateway.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_dict()}, intent=GUILDS)
        return role

    def set_role_permissions(self, role: Role, permissions: Any) -> None:
        role.permissions = perm_value(permissions)
        self.gateway.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(role.guild_id), "role": role.to_dict()}, intent=GUILDS
        )

    def set_bot_permissions(self, guild: Guild, permissions: Any) -> None:
        self.set_role_permissions(self.bot_role(guild), permissions)

    def add_member(
        self,
        guild: Guild,
        user: User | str,
        *,
        permissions: Any = None,
        roles: tuple[Role, ...] | list[Role] = (),
        nick: str | None = None,
    ) -> Member:
        """A plain member; ``permissions`` (e.g. Manage Server for a moderator) adds a role granting them."""
        user = self._user(user)
        role_ids = [r.id for r in roles]
        if permissions is not None:
            role_ids.append(self.add_role(guild, f"{user.username}-role", permissions=permissions).id)
        member = Member(user=user, guild_id=guild.id, roles=role_ids, nick=nick)
        guild.members[user.id] = member
        data = member.to_dict()
        data["guild_id"] = str(guild.id)
        self.gateway.dispatch("GUILD_MEMBER_ADD", data, intent=GUILD_MEMBERS)
        return member

    def member_updated(self, guild: Guild, member: Member) -> None:
        data = member.to_dict()
        data["guild_id"] = str(guild.id)
        self.gateway.dispatch("GUILD_MEMBER_UPDATE", data, intent=GUILD_MEMBERS)

    def remove_member(self, guild: Guild, member: Member) -> None:
        guild.members.pop(member.id, None)
        data = {"guild_id": str(guild.id), "user": member.user.to_dict()}
        self.gateway.dispatch("GUILD_MEMBER_REMOVE", data, intent=GUILD_MEMBERS)

    def add_channel(
        self, guild: Guild, name: str, *, kind: int = 0, topic: str | None = None, parent: Channel | None = None
    ) -> Channel:
        """kind: 0 text, 2 voice, 4 category, 5 announcement."""
        channel = Channel(
            id=self.world.ids.next(),
            name=name,
            guild_id=guild.id,
            type=kind,
            topic=topic,
            position=len(guild.channels),
            parent_id=parent.id if parent else None,
        )
        guild.channels[channel.id] = channel
        self.gateway.dispatch("CHANNEL_CREATE", channel.to_dict(), intent=GUILDS)
        return channel

    def remove_channel(self, channel: Channel) -> None:
        guild = self.world.guilds[channel.guild_id or 0]
        guild.channels.pop(channel.id, None)
        self.gateway.dispatch("CHANNEL_DELETE", channel.to_dict(), intent=GUILDS)

    def set_channel_permissions(
        self, channel: Channel, target: Role | Member | User | Guild, *, allow: Any = 0, deny: Any = 0
    ) -> None:
        """Set (or with allow=deny=0 remove) an overwrite; a Guild target means @everyone."""
        if isinstance(target, Guild | Role):
            target_id, kind = target.id, 0
        else:
            target_id, kind = (target.user.id if isinstance(target, Member) else target.id), 1
        allow_v, deny_v = perm_value(allow), perm_value(deny)
        if allow_v or deny_v:
            channel.overwrites[target_id] = Overwrite(target_id, kind, allow_v, deny_v)
        else:
            channel.overwrites.pop(target_id, None)
        self.gateway.dispatch("CHANNEL_UPDATE", channel.to_dict(), intent=GUILDS)

    def dm_channel(self, user: User | Member) -> Channel:
        user = self._user(user)
        channel = self.world.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(id=self.world.ids.next(), name=user.username, type=1, recipient=user)
            self.world.dm_channels[user.id] = channel
        return channel
