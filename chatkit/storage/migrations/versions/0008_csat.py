"""CSAT: a visitor's satisfaction rating of a conversation an agent resolved, one per
conversation, with its agent and team for reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "csat_ratings",
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"),
                  primary_key=True),
        sa.Column("contact_id", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("team", sa.String(100)),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("rated_at", sa.BigInteger, nullable=False),
        sa.Column("resolved_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_csat_ratings_agent", "csat_ratings", ["agent_id", "resolved_at"])
    op.create_index("ix_csat_ratings_team", "csat_ratings", ["team", "resolved_at"])
    op.create_index("ix_csat_ratings_resolved", "csat_ratings", ["resolved_at"])


def downgrade() -> None:
    op.drop_table("csat_ratings")
