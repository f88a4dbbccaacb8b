"""The CRM panel: where each contact's widget was last opened (page URL, user agent), and each
conversation's panel as computed at handoff.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_pages",
        sa.Column("contact_id", sa.String(32), sa.ForeignKey("contacts.id"), primary_key=True),
        sa.Column("url", sa.String(2000)),
        sa.Column("user_agent", sa.String(500)),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "conversation_contexts",
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"),
                  primary_key=True),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("computed_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_contexts")
    op.drop_table("contact_pages")
