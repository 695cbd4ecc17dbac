"""/concept: moderators change this server's glossary (see `_cog.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.moderation._cog import Moderation
from cogs.moderation._history import HistoryPageButton

if TYPE_CHECKING:
    from bot.client import ImmunoBot


async def setup(bot: ImmunoBot) -> None:
    """Load the extension and its persistent history buttons."""
    bot.add_dynamic_items(HistoryPageButton)
    await bot.add_cog(Moderation(bot))
