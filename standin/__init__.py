"""A local stand-in of Discord: REST + gateway on loopback for the unmodified discord.py client.

    async with StandIn() as discord_:
        guild = discord_.add_guild("Study group")             # @everyone, owner, bot (own role), #general
        alice = discord_.add_member(guild, "alice")           # permissions=... adds a role granting them
        async with run_bot(bot, discord_):                    # bot built with guild_ready_timeout=0.05
            result = await discord_.slash(guild, alice, "define", term="antibody")
            result.response.embeds                           # what the bot answered (CallbackRecord)
            click = await discord_.click(guild, alice, result, "more")

Modules: state (world model), spec (Discord's OpenAPI spec: requests and responses validated),
rules (documented cross-field rules), limits (Discord's payload limits where the docs are stricter),
ratelimits (X-RateLimit-* buckets, 429s), server (StandIn, routing, records, faults), rest /
callbacks (REST routes), gateway (websocket: heartbeats, close codes, intents, shards), world /
inject (test API), payloads (INTERACTION_CREATE builders), records (what tests assert on),
harness; ``python -m standin`` serves a world file on its own.
"""

from .gateway import GatewayRecord
from .harness import NoIdentifyDelay, preload_commands, run_bot
from .payloads import Upload
from .records import CallbackRecord, EditRecord, Fault, InteractionResult, RecordedRequest, UploadedFile
from .server import StandIn
from .state import Attachment, Channel, Guild, Member, Message, Role, User

__all__ = [
    "Attachment",
    "CallbackRecord",
    "Channel",
    "EditRecord",
    "Fault",
    "GatewayRecord",
    "Guild",
    "InteractionResult",
    "Member",
    "Message",
    "NoIdentifyDelay",
    "RecordedRequest",
    "Role",
    "StandIn",
    "Upload",
    "UploadedFile",
    "User",
    "preload_commands",
    "run_bot",
]
