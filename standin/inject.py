"""Test-facing injection of interactions and user messages, as Discord would deliver them.

Every injector returns an InteractionResult; with ``wait=True`` (default) it returns once
the bot's callback was accepted, raising AssertionError after ``within`` seconds.
Reserved keywords: ``options``, ``in_channel``, ``wait``, ``within``. A command option
with one of those names must be passed through ``options={...}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES, MESSAGE_CONTENT
from .payloads import (
    SELECT_RESOLVE,
    Resolver,
    Upload,
    check_command_access,
    command_data,
    convert_option,
    find_command,
    interaction_payload,
    modal_submit_data,
)
from .records import InteractionResult, UploadedFile
from .state import Attachment, Channel, Guild, Member, Message, User

if TYPE_CHECKING:
    from .server import StandIn

MessageRef = Message | int | InteractionResult


class InjectAPI:
    """Mixin of StandIn: interactions and messages coming from users."""

    def _s(self) -> StandIn:
        return self  # type: ignore[return-value]

    # -- plumbing ----------------------------------------------------------------------------
    def _invoker(self, guild: Guild | None, user: User | Member) -> Member | User:
        if guild is None:
            return user.user if isinstance(user, Member) else user
        member = guild.members.get(user.id)
        if member is None:
            raise AssertionError(f"{getattr(user, 'user', user)!r} is not a member of guild {guild.name!r}")
        return member

    def _where(self, guild: Guild | None, user: User | Member, in_channel: Channel | None) -> Channel:
        if in_channel is not None:
            if in_channel.guild_id != (guild.id if guild else None) and in_channel.type != 1:
                raise AssertionError(f"channel {in_channel.name!r} is not in guild {guild.name if guild else None!r}")
            return in_channel
        if guild is None:
            return self._s().dm_channel(user)
        return guild.default_channel

    def _resolver(self, guild: Guild | None, channel: Channel, invoker: Member | User) -> Resolver:
        s = self._s()
        return Resolver(s.world, guild, channel, invoker, self._upload)

    def _upload(self, upload: Upload) -> Attachment:
        file = UploadedFile("files[0]", upload.filename, upload.content, upload.content_type)
        attachment = self._s().messages._attachment(file, None, ephemeral=True)
        if upload.url is not None:
            attachment.url = upload.url
        attachment.declared_size = upload.declared_size
        return attachment

    def _message(self, ref: MessageRef) -> Message:
        if isinstance(ref, InteractionResult):
            if ref.message is None:
                raise AssertionError(f"interaction {ref.id} produced no message")
            ref = ref.message
        message = ref if isinstance(ref, Message) else self._s().world.messages.get(ref)
        if message is None or message.deleted:
            raise AssertionError(f"message {ref!r} does not exist (or was deleted)")
        return message

    def interact(
        self,
        kind: int,
        guild: Guild | None,
        user: User | Member,
        channel: Channel,
        data: dict[str, Any] | None,
        *,
        message: Message | None = None,
        within: float | None = None,
        opener: InteractionResult | None = None,
    ) -> InteractionResult:
        """Low level: dispatch INTERACTION_CREATE of ``kind`` with ``data`` now."""
        s = self._s()
        if s.gateway.current is None:
            raise AssertionError("no bot is connected to the stand-in (start one with harness.run_bot)")
        invoker = self._invoker(guild, user)
        iid = s.world.ids.next()
        payload, token = interaction_payload(
            iid=iid,
            application_id=s.application_id,
            kind=kind,
            data=data,
            guild=guild,
            invoker=invoker,
            channel=channel,
            bot_member=guild.members.get(s.bot_user.id) if guild else None,
            message=message,
        )
        result = InteractionResult(
            id=iid,
            token=token,
            type=kind,
            payload=payload,
            guild=guild,
            user=invoker.user if isinstance(invoker, Member) else invoker,
            channel=channel,
            changes=s.changes,
            default_timeout=s.response_timeout if within is None else within,
            source_message=message,
            opener=opener,
            dispatched_at=s.now(),
        )
        s.register_interaction(result)
        s.gateway.dispatch("INTERACTION_CREATE", payload)
        return result

    def _check_access(
        self, guild: Guild | None, invoker: Member | User, channel: Channel, name: str, kind: int
    ) -> tuple[dict[str, Any], int | None]:
        cmd, scope = find_command(self._s().world, guild, name, kind=kind)
        if self._s().enforce_command_permissions:
            check_command_access(cmd, guild, invoker, channel)
        return cmd, scope

    async def _finish(self, result: InteractionResult, wait: bool) -> InteractionResult:
        if wait:
            await result.wait_response()
        return result

    # -- application commands ------------------------------------------------------------------
    async def slash(
        self,
        guild: Guild | None,
        user: User | Member,
        name: str | Sequence[str],
        *,
        options: dict[str, Any] | None = None,
        in_channel: Channel | None = None,
        wait: bool = True,
        within: float | None = None,
        **kw_options: Any,
    ) -> InteractionResult:
        """/name (or "group sub" / ("group", "sub")) with typed options from the synced schema."""
        path = name.split() if isinstance(name, str) else list(name)
        channel = self._where(guild, user, in_channel)
        invoker = self._invoker(guild, user)
        values = {**kw_options, **(options or {})}
        self._check_access(guild, invoker, channel, path[0], 1)
        data = command_data(self._s().world, guild, path, values, self._resolver(guild, channel, invoker))
        return await self._finish(self.interact(2, guild, user, channel, data, within=within), wait)

    async def autocomplete(
        self,
        guild: Guild | None,
        user: User | Member,
        name: str | Sequence[str],
        *,
        focused: str,
        options: dict[str, Any] | None = None,
        in_channel: Channel | None = None,
        wait: bool = True,
        within: float | None = None,
        **kw_options: Any,
    ) -> InteractionResult:
        """Type 4; the focused option's value is the raw text typed. Result: ``.choices``."""
        path = name.split() if isinstance(name, str) else list(name)
        channel = self._where(guild, user, in_channel)
        invoker = self._invoker(guild, user)
        values = {**kw_options, **(options or {})}
        resolver = self._resolver(guild, channel, invoker)
        self._check_access(guild, invoker, channel, path[0], 1)
        data = command_data(self._s().world, guild, path, values, resolver, focused=focused)
        return await self._finish(self.interact(4, guild, user, channel, data, within=within), wait)

    async def user_command(
        self,
        guild: Guild | None,
        user: User | Member,
        name: str,
        target: User | Member,
        *,
        in_channel: Channel | None = None,
        wait: bool = True,
        within: float | None = None,
    ) -> InteractionResult:
        """Context menu on a user (command type 2)."""
        channel = self._where(guild, user, in_channel)
        cmd, scope = self._check_access(guild, self._invoker(guild, user), channel, name, 2)
        resolver = self._resolver(guild, channel, self._invoker(guild, user))
        target_id = resolver.user(target)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": name,
            "type": 2,
            "target_id": target_id,
            "resolved": resolver.data,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._finish(self.interact(2, guild, user, channel, data, within=within), wait)

    async def message_command(
        self,
        guild: Guild | None,
        user: User | Member,
        name: str,
        target: MessageRef,
        *,
        wait: bool = True,
        within: float | None = None,
    ) -> InteractionResult:
        """Context menu on a message (command type 3)."""
        message = self._message(target)
        channel = self._s().world.channel(message.channel_id)
        assert channel is not None
        cmd, scope = self._check_access(guild, self._invoker(guild, user), channel, name, 3)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": name,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message.to_dict()}},
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._finish(self.interact(2, guild, user, channel, data, within=within), wait)

    # -- components and modals -----------------------------------------------------------------
    def _component_context(self, guild: Guild | None, message: Message) -> Channel:
        if (guild.id if guild else None) != message.guild_id:
            raise AssertionError(f"message {message.id} is not in guild {guild.name if guild else 'DM'!r}")
        channel = self._s().world.channel(message.channel_id)
        if channel is None:
            raise AssertionError(f"channel {message.channel_id} of message {message.id} no longer exists")
        return channel

    def _find_component(self, message: Message, custom_id: str, kinds: tuple[int, ...]) -> dict[str, Any]:
        comp = message.component(custom_id)
        if comp is None:
            raise AssertionError(f"message {message.id} has no component {custom_id!r} (has {message.custom_ids})")
        if comp.get("type") not in kinds:
            raise AssertionError(f"component {custom_id!r} has type {comp.get('type')}, expected one of {kinds}")
        if comp.get("disabled"):
            raise AssertionError(f"component {custom_id!r} is disabled; Discord would not let the user use it")
        return comp

    async def click(
        self,
        guild: Guild | None,
        user: User | Member,
        message: MessageRef,
        custom_id: str,
        *,
        wait: bool = True,
        within: float | None = None,
    ) -> InteractionResult:
        """Press a button (component_type 2) on a message the bot sent."""
        msg = self._message(message)
        channel = self._component_context(guild, msg)
        self._find_component(msg, custom_id, (2,))
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._finish(self.interact(3, guild, user, channel, data, message=msg, within=within), wait)

    async def select(
        self,
        guild: Guild | None,
        user: User | Member,
        message: MessageRef,
        custom_id: str,
        values: Sequence[Any],
        *,
        wait: bool = True,
        within: float | None = None,
    ) -> InteractionResult:
        """Choose values in a select menu (string select: option values; others: users/roles/channels)."""
        msg = self._message(message)
        channel = self._component_context(guild, msg)
        comp = self._find_component(msg, custom_id, (3, 5, 6, 7, 8))
        low, high = comp.get("min_values", 1), comp.get("max_values", 1)
        if not low <= len(values) <= high:
            raise AssertionError(f"select {custom_id!r} takes {low}..{high} values, got {len(values)}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] == 3:
            allowed = [o["value"] for o in comp.get("options") or []]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise AssertionError(f"select {custom_id!r} has no option(s) {bad} (options: {allowed})")
            data["values"] = list(values)
        else:
            resolver = self._resolver(guild, channel, self._invoker(guild, user))
            opt = {"name": custom_id, "type": SELECT_RESOLVE[comp["type"]]}
            data["values"] = [convert_option(opt, v, resolver) for v in values]
            data["resolved"] = resolver.data
        return await self._finish(self.interact(3, guild, user, channel, data, message=msg, within=within), wait)

    async def submit_modal(
        self,
        guild: Guild | None,
        user: User | Member,
        custom_id: str,
        values: dict[str, Any],
        *,
        wait: bool = True,
        within: float | None = None,
    ) -> InteractionResult:
        """Submit the most recently opened modal with ``custom_id`` ({field custom_id: text})."""
        s = self._s()
        opened = s.find_modal(custom_id, user)
        if opened is None:
            raise AssertionError(f"no modal {custom_id!r} was opened for this user (opened: {s.opened_modal_ids()})")
        modal, opener = opened
        data = modal_submit_data(modal, values)
        interaction = self.interact(
            5, guild, user, opener.channel, data, message=opener.source_message, within=within, opener=opener
        )
        return await self._finish(interaction, wait)

    # -- messages from users ---------------------------------------------------------------------
    def user_message(
        self, guild: Guild | None, user: User | Member, content: str, *, in_channel: Channel | None = None
    ) -> Message:
        """A user posts a message (MESSAGE_CREATE; content hidden without the message_content intent)."""
        s = self._s()
        channel = self._where(guild, user, in_channel)
        invoker = self._invoker(guild, user)
        author = invoker.user if isinstance(invoker, Member) else invoker
        return s.messages.create(
            channel_id=channel.id,
            guild_id=guild.id if guild else None,
            author=author,
            payload={"content": content},
            files=[],
        )

    def dispatch_message(self, event: str, message: Message, *, data: dict[str, Any] | None = None) -> None:
        """Send MESSAGE_* for a stored message, filtered by intents as Discord does."""
        s = self._s()
        session = s.gateway.session_for(message.guild_id)
        if session is None:
            return
        intent = GUILD_MESSAGES if message.guild_id is not None else DIRECT_MESSAGES
        if data is None:
            data = message.to_gateway_dict()
            mentioned = any(u.id == s.bot_user.id for u in message.mentions)
            # gateway.mdx (Message content intent): DMs, mentions and the bot's own messages are exempt.
            in_guild = message.guild_id is not None
            own = message.author.id == s.bot_user.id
            if in_guild and not own and not mentioned and not session.intents & MESSAGE_CONTENT:
                data.update(content="", embeds=[], attachments=[], components=[])
        s.gateway.dispatch(event, data, intent=intent)
