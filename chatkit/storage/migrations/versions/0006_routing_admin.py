"""Routing configuration in the store, editable by admins: one row per version.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_configs",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("file_digest", sa.String(64)),
        sa.Column("changed_by", sa.String(32)),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routing_configs")
