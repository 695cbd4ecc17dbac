"""A local stand-in of Discord: REST + gateway on loopback for the unmodified discord.py client.

    async with StandIn() as discord_:
        guild = discord_.add_guild("Study group")
        alice = discord_.add_member(guild, "alice")
        async with run_bot(bot, discord_):
            result = await discord_.slash(guild, alice, "define", term="antibody")
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
