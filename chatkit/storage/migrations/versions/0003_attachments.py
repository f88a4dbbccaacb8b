"""Attachments: images and PDFs sent in messages, their bytes kept in the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(32)),
        sa.Column("message_seq", sa.Integer),
        sa.Column("uploader_kind", sa.String(10), nullable=False),
        sa.Column("uploader_id", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id", "message_seq"],
                                ["messages.conversation_id", "messages.seq"],
                                name="fk_attachments_message"),
    )
    op.create_index("ix_attachments_message", "attachments", ["conversation_id", "message_seq"])
    op.create_index("ix_attachments_uploader", "attachments", ["uploader_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_attachments_uploader", table_name="attachments")
    op.drop_index("ix_attachments_message", table_name="attachments")
    op.drop_table("attachments")
