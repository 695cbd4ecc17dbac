"""The tables, as SQLAlchemy Core metadata: one description of the schema for SQLite and PostgreSQL.

This mirrors the schema the numbered SQL migrations (bot/migrations/0001-0004) built, column for column, so a
database they made is adopted as it is. Conventions that keep the one set of queries valid on both engines:
- Discord ids are BigInteger (64-bit on PostgreSQL); on SQLite every integer column is plain INTEGER, as before
  (`INTEGER PRIMARY KEY` stays SQLite's rowid alias).
- Times are ISO-8601 text (`bot.store.utc_now()`), dates YYYY-MM-DD text, JSON documents text: values compare
  and sort the same on both engines and the code passes the same Python values.
- Flags are INTEGER 0/1 with a CHECK, as before.
- Text sorts by code point on both (collation "C" on PostgreSQL), as SQLite always did.
The full-text index `concept_search` is not here: each engine builds its own (see `bot.db.search`).
Change the schema only through a new Alembic revision in bot/db/alembic/versions, and keep this file equal to
what the revisions build (tests/core/test_db.py compares them on both engines).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.sqlite import REAL

# Integers: 64-bit on PostgreSQL, SQLite's INTEGER (also 64-bit) spelled as before.
Id = BigInteger().with_variant(Integer(), "sqlite")
# Text compares and sorts by code point on both engines: SQLite's BINARY, PostgreSQL's "C" (whatever the
# database's locale), so `ORDER BY id` lists the same way everywhere.
Str = Text().with_variant(Text(collation="C"), "postgresql")
# Floats: double precision on PostgreSQL, REAL (also double) on SQLite as before.
Real = Float().with_variant(REAL(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

WITHOUT_ROWID = {"sqlite_with_rowid": False}

# --- shipped glossary and guild overlays (0001) -------------------------------------------------------------

source_documents = Table(
    "source_documents",
    metadata,
    Column("id", Str, primary_key=True),
    Column("data", Str, nullable=False),  # JSON of bot.models.SourceDocument
    Column("content_hash", Str, nullable=False),
)

shipped_concepts = Table(
    "shipped_concepts",
    metadata,
    Column("id", Str, primary_key=True),
    Column("data", Str, nullable=False),  # JSON of bot.models.Concept
    Column("origin", Str, nullable=False),
    Column("content_hash", Str, nullable=False),
    Column("loaded_at", Str, nullable=False),
)

guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", Id, primary_key=True, autoincrement=False),
    Column("settings", Str, nullable=False, server_default=text("'{}'")),
    Column("updated_at", Str, nullable=False),
)

concept_revisions = Table(
    "concept_revisions",
    metadata,
    Column("guild_id", Id, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("action", Str, nullable=False),
    Column("data", Str, nullable=False),
    Column("hidden", Integer, nullable=False, server_default=text("0")),
    Column("author_id", Id, nullable=False),
    Column("reason", Str),
    Column("created_at", Str, nullable=False),
    PrimaryKeyConstraint("guild_id", "concept_id", "revision"),
    CheckConstraint("revision >= 1", name="revision"),
    CheckConstraint("hidden IN (0, 1)", name="hidden"),
    **WITHOUT_ROWID,
)

bot_meta = Table(
    "bot_meta",
    metadata,
    Column("key", Str, primary_key=True),
    Column("value", Str, nullable=False),
)

# --- concept of the day (0003) ------------------------------------------------------------------------------

daily_schedules = Table(
    "daily_schedules",
    metadata,
    Column("guild_id", Id, primary_key=True, autoincrement=False),
    Column("channel_id", Id, nullable=False),
    Column("post_time", Str, nullable=False),
    Column("timezone", Str, nullable=False),
    Column("categories", Str, nullable=False, server_default=text("'[]'")),
    Column("state", Str, nullable=False),
    Column("stopped_reason", Str),
    Column("active_since", Str, nullable=False),
    Column("updated_at", Str, nullable=False),
    Column("pool", Str, nullable=False, server_default=text("'cycle'")),
    CheckConstraint("state IN ('active', 'paused', 'off', 'stopped')", name="state"),
    CheckConstraint("pool IN ('cycle', 'weak')", name="pool"),
)

daily_posts = Table(
    "daily_posts",
    metadata,
    Column("guild_id", Id, nullable=False),
    Column("local_date", Str, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("status", Str, nullable=False),
    Column("message_id", Id),
    Column("intent_at", Str, nullable=False),
    Column("posted_at", Str),
    Column("detail", Str),
    Column("claim_owner", Str),
    Column("claim_expires", Str),
    Column("reason", Str),
    PrimaryKeyConstraint("guild_id", "local_date"),
    CheckConstraint("status IN ('pending', 'posted', 'failed')", name="status"),
    **WITHOUT_ROWID,
)

daily_queue = Table(
    "daily_queue",
    metadata,
    Column("guild_id", Id, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("posted", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("guild_id", "cycle", "position"),
    CheckConstraint("posted IN (0, 1)", name="posted"),
    **WITHOUT_ROWID,
)

# --- study mode (0004) --------------------------------------------------------------------------------------

quiz_sessions = Table(
    "quiz_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guild_id", Id, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("starter_id", Id, nullable=False),
    Column("mode", Str, nullable=False),
    Column("category_id", Str),
    Column("questions", Integer, nullable=False),
    Column("round_seconds", Integer, nullable=False),
    Column("seed", Id, nullable=False),
    Column("status", Str, nullable=False),
    Column("started_at", Str, nullable=False),
    Column("ended_at", Str),
    Column("ended_by", Id),
    CheckConstraint("status IN ('running', 'finished', 'stopped', 'interrupted')", name="status"),
)

# One running quiz per channel, enforced by the database as well as in memory.
Index(
    "quiz_sessions_one_running_per_channel",
    quiz_sessions.c.channel_id,
    unique=True,
    sqlite_where=text("status = 'running'"),
    postgresql_where=text("status = 'running'"),
)

quiz_rounds = Table(
    "quiz_rounds",
    metadata,
    Column("session_id", Id, nullable=False),
    Column("round", Integer, nullable=False),
    Column("kind", Str, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("category_id", Str),
    Column("options", Str, nullable=False),  # JSON list of the option texts as shown
    Column("correct", Integer, nullable=False),
    Column("message_id", Id),
    Column("opened_at", Str, nullable=False),
    Column("closed_at", Str),
    Column("close_reason", Str),
    PrimaryKeyConstraint("session_id", "round"),
    ForeignKeyConstraint(["session_id"], ["quiz_sessions.id"]),
    CheckConstraint('"round" >= 1', name="round"),
    **WITHOUT_ROWID,
)

quiz_answers = Table(
    "quiz_answers",
    metadata,
    Column("session_id", Id, nullable=False),
    Column("round", Integer, nullable=False),
    Column("user_id", Id, nullable=False),
    Column("guild_id", Id, nullable=False),
    Column("choice", Integer, nullable=False),
    Column("correct", Integer, nullable=False),
    Column("answered_at", Str, nullable=False),
    Column("typed", Str),
    PrimaryKeyConstraint("session_id", "round", "user_id"),
    ForeignKeyConstraint(["session_id", "round"], ["quiz_rounds.session_id", "quiz_rounds.round"]),
    CheckConstraint("correct IN (0, 1)", name="correct"),
    **WITHOUT_ROWID,
)
Index("quiz_answers_by_guild", quiz_answers.c.guild_id, quiz_answers.c.answered_at)
Index("quiz_answers_by_member", quiz_answers.c.guild_id, quiz_answers.c.user_id, quiz_answers.c.answered_at)

quiz_players = Table(
    "quiz_players",
    metadata,
    Column("guild_id", Id, nullable=False),
    Column("user_id", Id, nullable=False),
    Column("display_name", Str, nullable=False),
    Column("updated_at", Str, nullable=False),
    PrimaryKeyConstraint("guild_id", "user_id"),
    **WITHOUT_ROWID,
)

flashcard_users = Table(
    "flashcard_users",
    metadata,
    Column("user_id", Id, primary_key=True, autoincrement=False),
    Column("timezone", Str, nullable=False, server_default=text("'UTC'")),
    Column("updated_at", Str, nullable=False),
    Column("desired_retention", Real, nullable=False, server_default=text("0.9")),
    Column("quiz_cards", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("desired_retention BETWEEN 0.8 AND 0.97", name="desired_retention"),
    CheckConstraint("quiz_cards IN (0, 1)", name="quiz_cards"),
)

flashcard_filters = Table(
    "flashcard_filters",
    metadata,
    Column("user_id", Id, nullable=False),
    Column("guild_id", Id, nullable=False),
    Column("category_id", Str),
    PrimaryKeyConstraint("user_id", "guild_id"),
    **WITHOUT_ROWID,
)

flashcards = Table(
    "flashcards",
    metadata,
    Column("user_id", Id, nullable=False),
    Column("scope", Id, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("repetitions", Integer, nullable=False),
    Column("ease", Real, nullable=False),
    Column("interval_days", Integer, nullable=False),
    Column("due_on", Str, nullable=False),
    Column("reviews", Integer, nullable=False),
    Column("lapses", Integer, nullable=False),
    Column("first_reviewed_on", Str, nullable=False),
    Column("last_reviewed_on", Str, nullable=False),
    Column("last_reviewed_at", Str, nullable=False),
    PrimaryKeyConstraint("user_id", "scope", "concept_id"),
    **WITHOUT_ROWID,
)

flashcard_reviews = Table(
    "flashcard_reviews",
    metadata,
    Column("user_id", Id, nullable=False),
    Column("scope", Id, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("review", Integer, nullable=False),
    Column("grade", Str, nullable=False),
    Column("reviewed_at", Str, nullable=False),
    Column("local_date", Str, nullable=False),
    Column("interval_days", Integer, nullable=False),
    Column("ease", Real, nullable=False),
    PrimaryKeyConstraint("user_id", "scope", "concept_id", "review"),
    **WITHOUT_ROWID,
)

concept_uses = Table(
    "concept_uses",
    metadata,
    Column("guild_id", Id, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("day", Str, nullable=False),
    Column("uses", Integer, nullable=False),
    PrimaryKeyConstraint("guild_id", "concept_id", "day"),
    CheckConstraint("uses > 0", name="uses"),
    **WITHOUT_ROWID,
)

cards = Table(
    "cards",
    metadata,
    Column("user_id", Id, nullable=False),
    Column("scope", Id, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("state", Integer, nullable=False),
    Column("step", Integer),
    Column("stability", Real, nullable=False),
    Column("difficulty", Real, nullable=False),
    Column("due_at", Str, nullable=False),
    Column("last_review_at", Str, nullable=False),
    Column("reviews", Integer, nullable=False),
    Column("lapses", Integer, nullable=False),
    Column("first_reviewed_on", Str, nullable=False),
    Column("last_reviewed_on", Str, nullable=False),
    PrimaryKeyConstraint("user_id", "scope", "concept_id"),
    CheckConstraint("state IN (1, 2, 3)", name="state"),
    **WITHOUT_ROWID,
)
Index("cards_first_seen", cards.c.user_id, cards.c.first_reviewed_on)

card_reviews = Table(
    "card_reviews",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, nullable=False),
    Column("scope", Id, nullable=False),
    Column("concept_id", Str, nullable=False),
    Column("review", Integer, nullable=False),
    Column("grade", Str, nullable=False),
    Column("source", Str, nullable=False),
    Column("reviewed_at", Str, nullable=False),
    Column("local_date", Str, nullable=False),
    Column("state_before", Str),
    Column("state_after", Str, nullable=False),
    CheckConstraint("grade IN ('again', 'hard', 'good', 'easy')", name="grade"),
    CheckConstraint("source IN ('flashcard', 'quiz')", name="source"),
)

Index(
    "card_reviews_review",
    card_reviews.c.user_id,
    card_reviews.c.scope,
    card_reviews.c.concept_id,
    card_reviews.c.review,
    unique=True,
)
Index("quiz_rounds_by_concept", quiz_rounds.c.concept_id)
