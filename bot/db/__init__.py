"""The store over SQLAlchemy Core: one schema and one set of queries for SQLite (default) and PostgreSQL.

- `Database` (bot.db.engine): open, migrate, transactions and reads.
- `bot.db.schema`: the tables; `bot.db.search`: full-text search on each engine's own index.
- `bot.db.migrate`: Alembic revisions in bot/db/alembic/versions, adopting databases of the SQL migrations.
- `bot.db.lock`: one process per SQLite file.
- `bot.db.changes`: PostgreSQL LISTEN/NOTIFY, so every process takes in a guild's change at once.
- `bot.db.pacing`: IDENTIFY turns per max_concurrency bucket, shared by every process.
"""

from bot.db.engine import Database, create_engine

__all__ = ["Database", "create_engine"]
