"""Interaction callbacks and interaction webhooks (followups, @original edits).

Answers with the body discord.py 2.7 expects: ``with_response=1`` callbacks get
``{"interaction": {...}, "resource": {"type": ..., "message": {...}}}``; autocomplete and
pong get 204. The first followup after a "thinking" defer replaces the loading message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .limits import autocomplete_errors, field_error, form_error, modal_errors
from .messages import HTTPError, check_limits, check_not_empty, not_found
from .records import DISCORD_DEADLINE, CallbackRecord, EditRecord, InteractionResult, RecordedRequest
from .state import EPHEMERAL, LOADING, Message

if TYPE_CHECKING:
    from .server import StandIn

Reply = tuple[int, Any]
TOKEN_LIFETIME = 15 * 60.0

# interaction type -> callback types Discord accepts for it
ALLOWED_CALLBACKS = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


class InteractionRoutes:
    """Handlers for the routes addressed by an interaction token."""

    def __init__(self, standin: StandIn) -> None:
        self.s = standin

    def _interaction(self, params: dict[str, str]) -> InteractionResult:
        result = self.s.interaction_by_token(params["token"])
        if "interaction_id" in params:
            if result is None or str(result.id) != params["interaction_id"]:
                raise HTTPError(404, {"code": 10062, "message": "Unknown interaction"})
        elif result is None or params["app_id"] != str(self.s.application_id):
            raise not_found(10015, "Webhook")
        elif self.s.now() - result.dispatched_at > TOKEN_LIFETIME:
            # receiving-and-responding.mdx: interaction tokens are valid for 15 minutes.
            raise HTTPError(401, {"code": 50027, "message": "Invalid Webhook Token"})
        return result

    # -- interaction callback ----------------------------------------------------------------
    async def callback(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        result = self._interaction(params)
        if result.response is not None:
            raise HTTPError(400, {"code": 40060, "message": "Interaction has already been acknowledged."})
        if self.s.enforce_deadline and rec.at - result.dispatched_at > DISCORD_DEADLINE:
            # receiving-and-responding.mdx: no initial response within 3 s invalidates the token.
            rec.late = True
            raise HTTPError(404, {"code": 10062, "message": "Unknown interaction"})
        body = rec.json or {}
        ctype = int(body.get("type", 0))
        data = body.get("data") or {}
        if ctype not in ALLOWED_CALLBACKS.get(result.type, set()) or (
            ctype in (6, 7) and result.source_message is None
        ):
            message = f"Invalid response type {ctype} for this interaction"
            raise HTTPError(400, field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", message))
        if ctype in (4, 7):
            check_limits(data, ["data"])
        if ctype == 4:
            check_not_empty(data, rec.files)
        errors = modal_errors(data) if ctype == 9 else autocomplete_errors(data) if ctype == 8 else {}
        if errors:
            raise HTTPError(400, form_error(errors))

        message: Message | None = None
        guild_id = result.guild.id if result.guild else None
        if ctype in (4, 5):
            flags = int(data.get("flags") or 0) & EPHEMERAL
            message = self.s.messages.create(
                channel_id=result.channel.id,
                guild_id=guild_id,
                author=self.s.bot_user,
                payload=data if ctype == 4 else {},
                files=rec.files if ctype == 4 else [],
                flags=flags | (LOADING if ctype == 5 else 0),
                interaction=result,
            )
        elif ctype in (6, 7):
            message = result.source_message
            if ctype == 7 and message is not None:
                self.s.messages.edit(message, data, rec.files)
                result.edits.append(EditRecord(message.id, data, "callback", rec.at))
        elif ctype == 9:
            self.s.open_modal(data, result)
        attachments = message.attachments if message is not None and ctype in (4, 7) else []
        result.message = message
        result.response = CallbackRecord(ctype, data, attachments, rec.at, rec)

        if ctype in (1, 8) or rec.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        interaction: dict[str, Any] = {"id": str(result.id), "type": result.type}
        if message is not None:
            interaction.update(
                response_message_id=str(message.id),
                response_message_loading=ctype == 5,
                response_message_ephemeral=message.ephemeral,
            )
        body: dict[str, Any] = {"interaction": interaction}
        if message is not None and ctype in (4, 7):
            # receiving-and-responding.mdx: resource.message only for CHANNEL_MESSAGE_WITH_SOURCE / UPDATE_MESSAGE;
            # the spec's resource is one of those (or an activity), so other types answer without one.
            body["resource"] = {"type": ctype, "message": message.to_dict()}
        return 200, body

    # -- interaction webhooks ----------------------------------------------------------------
    def _webhook_message(self, result: InteractionResult, message_id: str) -> Message:
        if message_id == "@original":
            message = result.message
        else:
            message = self.s.world.messages.get(_int(message_id))
            owned = [m.id for m in result.followups] + ([result.message.id] if result.message else [])
            if message is not None and message.id not in owned:
                message = None
        if message is None or message.deleted:
            raise not_found(10008, "Message")
        return message

    async def followup(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        result = self._interaction(params)
        if result.response is None or result.response.type in (1, 8, 9):
            raise not_found(10015, "Webhook")
        payload = rec.json or {}
        check_limits(payload)
        check_not_empty(payload, rec.files)
        original = result.message
        if result.response.type == 5 and original is not None and original.flags & LOADING:
            # The first followup after a "thinking" defer replaces the loading message.
            self.s.messages.edit(original, {**payload, "flags": None}, rec.files)
            message = original
        else:
            message = self.s.messages.create(
                channel_id=result.channel.id,
                guild_id=result.guild.id if result.guild else None,
                author=self.s.bot_user,
                payload=payload,
                files=rec.files,
                flags=int(payload.get("flags") or 0) & EPHEMERAL,
                interaction=result,
            )
        result.followups.append(message)
        if rec.query.get("wait") in ("1", "true", "True"):
            return 200, message.to_dict()
        return 204, None

    async def webhook_get(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        result = self._interaction(params)
        return 200, self._webhook_message(result, params["message_id"]).to_dict()

    async def webhook_edit(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        result = self._interaction(params)
        message = self._webhook_message(result, params["message_id"])
        payload = rec.json or {}
        check_limits(payload)
        self.s.messages.edit(message, payload, rec.files)
        result.edits.append(EditRecord(message.id, payload, "webhook", rec.at))
        return 200, message.to_dict()

    async def webhook_delete(self, rec: RecordedRequest, params: dict[str, str]) -> Reply:
        result = self._interaction(params)
        message = self._webhook_message(result, params["message_id"])
        self.s.messages.delete(message)
        result.deleted.append(message.id)
        return 204, None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1
