"""A local stand-in of Discord: REST + gateway on loopback for the unmodified discord.py client.

    async with StandIn() as discord_:
        guild = discord_.add_guild("Study group")             # @everyone, owner, bot (own role), #general
        alice = discord_.add_member(guild, "alice")           # permissions=... adds a role granting them
        async with run_bot(bot, discord_):                    # bot built with guild_ready_timeout=0.05
            result = await discord_.slash(guild, alice, "define", term="antibody")
            result.response.embeds                           # what the bot answered (CallbackRecord)
            click = await discord_.click(guild, alice, result, "more")

Modules: state (world model), limits (Discord's payload limits), server (StandIn, routing,
records, faults), rest / callbacks (REST routes), gateway (websocket), world / inject (test
API), payloads (INTERACTION_CREATE builders), records (what tests assert on), harness.
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
