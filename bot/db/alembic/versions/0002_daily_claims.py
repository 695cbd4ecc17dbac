"""A pending concept-of-the-day post is owned: the claimer's token and its lease expiry (numbered migration 0005).

Revision ID: 0002_daily_claims
Revises: 0001_baseline
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_daily_claims"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Str = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    """Add the claim owner and lease expiry (plain ADD COLUMN on both engines, as 0005_daily_claims.sql does)."""
    op.add_column("daily_posts", sa.Column("claim_owner", Str))
    op.add_column("daily_posts", sa.Column("claim_expires", Str))


def downgrade() -> None:
    """Drop the claim columns."""
    with op.batch_alter_table("daily_posts") as batch:
        batch.drop_column("claim_expires")
        batch.drop_column("claim_owner")
