"""Baseline: the schema of the numbered SQL migrations 0001-0004, on SQLite and PostgreSQL.

A database those migrations made (PRAGMA user_version 4) is stamped with this revision instead of running it
(see bot.db.migrate), so on SQLite this must build exactly what they built.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Str = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
Real = sa.Float().with_variant(sa.dialects.sqlite.REAL(), "sqlite")
WITHOUT_ROWID = {"sqlite_with_rowid": False}
LEGACY_SCHEMA_VERSION = 4  # PRAGMA user_version the numbered migrations would have left


def _glossary() -> None:
    op.create_table(
        "source_documents",
        sa.Column("id", Str, primary_key=True),
        sa.Column("data", Str, nullable=False),
        sa.Column("content_hash", Str, nullable=False),
    )
    op.create_table(
        "shipped_concepts",
        sa.Column("id", Str, primary_key=True),
        sa.Column("data", Str, nullable=False),
        sa.Column("origin", Str, nullable=False),
        sa.Column("content_hash", Str, nullable=False),
        sa.Column("loaded_at", Str, nullable=False),
    )
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", Id, primary_key=True, autoincrement=False),
        sa.Column("settings", Str, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("updated_at", Str, nullable=False),
    )
    op.create_table(
        "concept_revisions",
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("action", Str, nullable=False),
        sa.Column("data", Str, nullable=False),
        sa.Column("hidden", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("author_id", Id, nullable=False),
        sa.Column("reason", Str),
        sa.Column("created_at", Str, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "concept_id", "revision"),
        sa.CheckConstraint("revision >= 1", name="revision"),
        sa.CheckConstraint("hidden IN (0, 1)", name="hidden"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "bot_meta",
        sa.Column("key", Str, primary_key=True),
        sa.Column("value", Str, nullable=False),
    )


def _search() -> None:
    """Full-text index: FTS5 on SQLite; on PostgreSQL a weighted tsvector (bot.db.search fills both)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE concept_search USING fts5(concept_id UNINDEXED, guild_id UNINDEXED, name, "
            "aliases, summary, definition, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        return
    op.create_table(
        "concept_search",
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("name", Str, nullable=False),
        sa.Column("aliases", Str, nullable=False),
        sa.Column("summary", Str, nullable=False),
        sa.Column("definition", Str, nullable=False),
        sa.Column("document", postgresql.TSVECTOR, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "concept_id"),
    )
    op.create_index("concept_search_document", "concept_search", ["document"], postgresql_using="gin")


def _daily() -> None:
    op.create_table(
        "daily_schedules",
        sa.Column("guild_id", Id, primary_key=True, autoincrement=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("post_time", Str, nullable=False),
        sa.Column("timezone", Str, nullable=False),
        sa.Column("categories", Str, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("state", Str, nullable=False),
        sa.Column("stopped_reason", Str),
        sa.Column("active_since", Str, nullable=False),
        sa.Column("updated_at", Str, nullable=False),
        sa.CheckConstraint("state IN ('active', 'paused', 'off', 'stopped')", name="state"),
    )
    op.create_table(
        "daily_posts",
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("local_date", Str, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("status", Str, nullable=False),
        sa.Column("message_id", Id),
        sa.Column("intent_at", Str, nullable=False),
        sa.Column("posted_at", Str),
        sa.Column("detail", Str),
        sa.PrimaryKeyConstraint("guild_id", "local_date"),
        sa.CheckConstraint("status IN ('pending', 'posted', 'failed')", name="status"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "daily_queue",
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("posted", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("guild_id", "cycle", "position"),
        sa.CheckConstraint("posted IN (0, 1)", name="posted"),
        **WITHOUT_ROWID,
    )


def _study() -> None:
    op.create_table(
        "quiz_sessions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("starter_id", Id, nullable=False),
        sa.Column("mode", Str, nullable=False),
        sa.Column("category_id", Str),
        sa.Column("questions", sa.Integer, nullable=False),
        sa.Column("round_seconds", sa.Integer, nullable=False),
        sa.Column("seed", Id, nullable=False),
        sa.Column("status", Str, nullable=False),
        sa.Column("started_at", Str, nullable=False),
        sa.Column("ended_at", Str),
        sa.Column("ended_by", Id),
        sa.CheckConstraint("status IN ('running', 'finished', 'stopped', 'interrupted')", name="status"),
    )
    op.create_index(
        "quiz_sessions_one_running_per_channel",
        "quiz_sessions",
        ["channel_id"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "quiz_rounds",
        sa.Column("session_id", Id, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("kind", Str, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("category_id", Str),
        sa.Column("options", Str, nullable=False),
        sa.Column("correct", sa.Integer, nullable=False),
        sa.Column("message_id", Id),
        sa.Column("opened_at", Str, nullable=False),
        sa.Column("closed_at", Str),
        sa.Column("close_reason", Str),
        sa.PrimaryKeyConstraint("session_id", "round"),
        sa.ForeignKeyConstraint(["session_id"], ["quiz_sessions.id"]),
        sa.CheckConstraint('"round" >= 1', name="round"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "quiz_answers",
        sa.Column("session_id", Id, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("choice", sa.Integer, nullable=False),
        sa.Column("correct", sa.Integer, nullable=False),
        sa.Column("answered_at", Str, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "round", "user_id"),
        sa.ForeignKeyConstraint(["session_id", "round"], ["quiz_rounds.session_id", "quiz_rounds.round"]),
        sa.CheckConstraint("correct IN (0, 1)", name="correct"),
        **WITHOUT_ROWID,
    )
    op.create_index("quiz_answers_by_guild", "quiz_answers", ["guild_id", "answered_at"])
    op.create_index("quiz_answers_by_member", "quiz_answers", ["guild_id", "user_id", "answered_at"])
    op.create_table(
        "quiz_players",
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("display_name", Str, nullable=False),
        sa.Column("updated_at", Str, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "flashcard_users",
        sa.Column("user_id", Id, primary_key=True, autoincrement=False),
        sa.Column("timezone", Str, nullable=False, server_default=sa.text("'UTC'")),
        sa.Column("updated_at", Str, nullable=False),
    )
    op.create_table(
        "flashcard_filters",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("category_id", Str),
        sa.PrimaryKeyConstraint("user_id", "guild_id"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "flashcards",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("scope", Id, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("repetitions", sa.Integer, nullable=False),
        sa.Column("ease", Real, nullable=False),
        sa.Column("interval_days", sa.Integer, nullable=False),
        sa.Column("due_on", Str, nullable=False),
        sa.Column("reviews", sa.Integer, nullable=False),
        sa.Column("lapses", sa.Integer, nullable=False),
        sa.Column("first_reviewed_on", Str, nullable=False),
        sa.Column("last_reviewed_on", Str, nullable=False),
        sa.Column("last_reviewed_at", Str, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "scope", "concept_id"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "flashcard_reviews",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("scope", Id, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("review", sa.Integer, nullable=False),
        sa.Column("grade", Str, nullable=False),
        sa.Column("reviewed_at", Str, nullable=False),
        sa.Column("local_date", Str, nullable=False),
        sa.Column("interval_days", sa.Integer, nullable=False),
        sa.Column("ease", Real, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "scope", "concept_id", "review"),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "concept_uses",
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("day", Str, nullable=False),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "concept_id", "day"),
        sa.CheckConstraint("uses > 0", name="uses"),
        **WITHOUT_ROWID,
    )


def upgrade() -> None:
    """Create the whole schema of user_version 4."""
    _glossary()
    _search()
    _daily()
    _study()
    if op.get_bind().dialect.name == "sqlite":  # a bot of before Alembic then sees a database it knows
        op.execute(f"PRAGMA user_version = {LEGACY_SCHEMA_VERSION}")


def downgrade() -> None:
    """Drop everything (tests only: there is no schema before the baseline)."""
    for table in (
        "concept_uses", "flashcard_reviews", "flashcards", "flashcard_filters", "flashcard_users", "quiz_players",
        "quiz_answers", "quiz_rounds", "quiz_sessions", "daily_queue", "daily_posts", "daily_schedules",
        "concept_search", "bot_meta", "concept_revisions", "guild_settings", "shipped_concepts", "source_documents",
    ):  # fmt: skip
        op.drop_table(table)
