"""Alembic environment: runs the revisions on the connection `bot.db.migrate` hands over.

Run by hand too (`alembic -c bot/db/alembic.ini revision --autogenerate -m "..."`): it then connects to
DATABASE_URL / DATABASE_PATH like the bot.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.migrate import include_name
from bot.db.schema import metadata


def run_on(connection: Connection) -> None:
    """Run the pending revisions in the connection's transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from bot.config import load_settings
    from bot.db.engine import create_engine

    engine = create_engine(load_settings().database)
    async with engine.connect() as connection:
        await connection.run_sync(run_on)
        await connection.commit()
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(_run_from_settings())
