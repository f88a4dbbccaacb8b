"""The agent's desk: conversation tags and canned responses (shared and personal).

Private notes and whispers need no table: they are internal messages (only agents see them),
as a transfer's note already is.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_tags",
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"),
                  primary_key=True),
        sa.Column("tag", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(32)),
    )
    op.create_index("ix_conversation_tags_tag", "conversation_tags", ["tag", "conversation_id"])
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_id", sa.String(32), sa.ForeignKey("agents.id")),
        sa.Column("shortcut", sa.String(32), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("uq_canned_responses_shared_shortcut", "canned_responses", ["shortcut"],
                    unique=True, sqlite_where=sa.text("owner_id IS NULL"),
                    postgresql_where=sa.text("owner_id IS NULL"))
    op.create_index("uq_canned_responses_owner_shortcut", "canned_responses",
                    ["owner_id", "shortcut"], unique=True,
                    sqlite_where=sa.text("owner_id IS NOT NULL"),
                    postgresql_where=sa.text("owner_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("canned_responses")
    op.drop_table("conversation_tags")
