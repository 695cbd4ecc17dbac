"""FSRS flashcards, the review log, study settings, typed quiz answers and the daily pool (numbered migration 0006).

The SM-2 tables stay: at start-up the bot replays each SM-2 card through FSRS into `cards` and `card_reviews`
and then drops them (bot.flashcards.FlashcardRepository.upgrade_sm2), as for a database of the numbered files.

Revision ID: 0003_fsrs
Revises: 0002_daily_claims
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_fsrs"
down_revision: str | Sequence[str] | None = "0002_daily_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Str = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
Real = sa.Float().with_variant(sa.dialects.sqlite.REAL(), "sqlite")


def _add_checked_column(table: str, name: str, type_: sa.types.TypeEngine, default: str, check: str) -> None:
    """ADD COLUMN with its CHECK: inline on SQLite (which cannot add a constraint later), a named one elsewhere."""
    if op.get_bind().dialect.name == "sqlite":
        op.add_column(
            table, sa.Column(name, type_, sa.CheckConstraint(check, name=name), nullable=False, server_default=default)
        )
    else:
        op.add_column(table, sa.Column(name, type_, nullable=False, server_default=default))
        op.create_check_constraint(name, table, check)


def upgrade() -> None:
    """Create the FSRS tables and add the study, quiz and daily columns."""
    op.create_table(
        "cards",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("scope", Id, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer),
        sa.Column("stability", Real, nullable=False),
        sa.Column("difficulty", Real, nullable=False),
        sa.Column("due_at", Str, nullable=False),
        sa.Column("last_review_at", Str, nullable=False),
        sa.Column("reviews", sa.Integer, nullable=False),
        sa.Column("lapses", sa.Integer, nullable=False),
        sa.Column("first_reviewed_on", Str, nullable=False),
        sa.Column("last_reviewed_on", Str, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "scope", "concept_id"),
        sa.CheckConstraint("state IN (1, 2, 3)", name="state"),
        sqlite_with_rowid=False,
    )
    op.create_index("cards_first_seen", "cards", ["user_id", "first_reviewed_on"])
    op.create_table(
        "card_reviews",
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("scope", Id, nullable=False),
        sa.Column("concept_id", Str, nullable=False),
        sa.Column("review", sa.Integer, nullable=False),
        sa.Column("grade", Str, nullable=False),
        sa.Column("source", Str, nullable=False),
        sa.Column("reviewed_at", Str, nullable=False),
        sa.Column("local_date", Str, nullable=False),
        sa.Column("state_before", Str),
        sa.Column("state_after", Str, nullable=False),
        sa.CheckConstraint("grade IN ('again', 'hard', 'good', 'easy')", name="grade"),
        sa.CheckConstraint("source IN ('flashcard', 'quiz')", name="source"),
    )
    op.create_index("card_reviews_review", "card_reviews", ["user_id", "scope", "concept_id", "review"], unique=True)
    _add_checked_column("flashcard_users", "desired_retention", Real, "0.9", "desired_retention BETWEEN 0.8 AND 0.97")
    _add_checked_column("flashcard_users", "quiz_cards", sa.Integer(), "1", "quiz_cards IN (0, 1)")
    op.add_column("quiz_answers", sa.Column("typed", Str))
    op.create_index("quiz_rounds_by_concept", "quiz_rounds", ["concept_id"])
    _add_checked_column("daily_schedules", "pool", Str, "cycle", "pool IN ('cycle', 'weak')")
    op.add_column("daily_posts", sa.Column("reason", Str))


def downgrade() -> None:
    """Drop what the upgrade added (tests only)."""
    for table, column in (
        ("daily_posts", "reason"), ("daily_schedules", "pool"), ("quiz_answers", "typed"),
        ("flashcard_users", "quiz_cards"), ("flashcard_users", "desired_retention"),
    ):  # fmt: skip
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_index("quiz_rounds_by_concept", "quiz_rounds")
    op.drop_table("card_reviews")
    op.drop_table("cards")
