"""The bot flow: structured messages (meta), and the handoff and bot state of a conversation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without defaults: a plain ADD COLUMN on both engines, no table rewrite.
    op.add_column("messages", sa.Column("meta", sa.JSON(none_as_null=True)))
    op.add_column("conversations", sa.Column("team", sa.String(100)))
    op.add_column("conversations", sa.Column("handoff_reason", sa.String(50)))
    op.add_column("conversations", sa.Column("bot_state", sa.JSON(none_as_null=True)))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("bot_state")
        batch.drop_column("handoff_reason")
        batch.drop_column("team")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("meta")
