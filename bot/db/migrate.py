"""Schema migrations with Alembic, and the adoption of databases the numbered SQL migrations made.

A database is one of:
- managed: it has Alembic's `alembic_version` table; pending revisions are applied.
- legacy (SQLite only): made by bot/migrations/NNNN_*.sql, its version in PRAGMA user_version. The missing
  numbered files up to the nearest version in LEGACY_REVISIONS are applied, then the database is stamped with
  the Alembic revision that builds that same schema, then upgraded like any other. No row is copied or lost.
- empty: every revision is applied.
"""

from __future__ import annotations

import logging
import sqlite3
from functools import cache
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.engine import Database

log = logging.getLogger(__name__)
MIGRATION_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('immunobot.migrate:' || current_schema()))"

# PRAGMA user_version of the numbered SQL migrations → the Alembic revision that builds the same schema.
LEGACY_REVISIONS: dict[int, str] = {4: "0001_baseline", 5: "0002_daily_claims", 6: "0003_fsrs"}


def include_name(name: str | None, type_: str, *_: object) -> bool:
    """What Alembic compares with the metadata: not the full-text index (each engine's own) nor SQLite's."""
    if type_ == "table" and name is not None:
        return not (name.startswith("concept_search") or name.startswith("sqlite_"))
    return True


class SchemaError(RuntimeError):
    """The database cannot be used by this version of the bot."""


@cache
def alembic_config() -> Config:
    """Alembic's configuration, pointing at the revisions shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(Path(str(resources.files("bot.db") / "alembic"))))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None before Alembic managed it)."""
    return MigrationContext.configure(connection).get_current_revision()


def _statements(script: str) -> list[str]:
    """Split an SQL script into whole statements (semicolons inside quotes do not end one)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(part.strip().startswith("--") for part in pending.strip().splitlines()):
        statements.append(pending.strip())
    return statements


def _adopt_legacy(connection: Connection, config: Config) -> None:
    """Bring a database of the numbered SQL migrations to a mapped version and stamp it (SQLite only)."""
    if connection.dialect.name != "sqlite" or "alembic_version" in inspect(connection).get_table_names():
        return
    version = int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    if version == 0:
        return
    target = min((known for known in LEGACY_REVISIONS if known >= version), default=None)
    if target is None:
        raise SchemaError(
            f"the database has schema version {version}, newer than this bot knows; run a newer Immunobot"
        )
    from bot.store import bundled_migrations

    for migration in bundled_migrations():
        if version < migration.version <= target:
            log.info("Applying database migration %s before adopting the database", migration.name)
            for statement in _statements(migration.sql):
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(f"PRAGMA user_version = {migration.version}")
    log.info("Adopting the database of schema version %s as revision %s", target, LEGACY_REVISIONS[target])
    command.stamp(config, LEGACY_REVISIONS[target])


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    current = current_revision(connection)
    script = ScriptDirectory.from_config(config)
    if current is not None and script.get_revision(current) is None:
        raise SchemaError(f"the database is at schema revision {current}, unknown to this bot; run a newer Immunobot")
    _adopt_legacy(connection, config)
    command.upgrade(config, "head")


async def lock_schema(connection: AsyncConnection) -> None:
    """On PostgreSQL, wait for (and hold until the transaction ends) the lock under which schema and data
    upgrades run: several processes starting together upgrade one at a time. SQLite has one writer anyway."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text(MIGRATION_LOCK_SQL))


async def upgrade(database: Database) -> None:
    """Bring the database to the newest schema, in one transaction (nothing changes if any step fails)."""
    async with database.transaction() as connection:
        await lock_schema(connection)
        await connection.run_sync(_upgrade)
