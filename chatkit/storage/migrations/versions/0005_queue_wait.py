"""The visitor's wait: queued conversations' abandon deadline, live widget connections of
waiting visitors, per-team queue change marks, and an index for recent handle times.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("abandon_deadline", sa.BigInteger))
    op.create_index("ix_conversations_abandon_deadline", "conversations", ["abandon_deadline"])
    op.create_index("ix_conversations_team_resolved", "conversations",
                    ["queue_team", "resolved_at"])
    op.create_table(
        "visitor_connections",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_visitor_connections_contact", "visitor_connections", ["contact_id"])
    op.create_index("ix_visitor_connections_expires", "visitor_connections", ["expires_at"])
    op.create_table(
        "queue_marks",
        sa.Column("team", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("queue_marks")
    op.drop_index("ix_visitor_connections_expires", "visitor_connections")
    op.drop_index("ix_visitor_connections_contact", "visitor_connections")
    op.drop_table("visitor_connections")
    op.drop_index("ix_conversations_team_resolved", "conversations")
    op.drop_index("ix_conversations_abandon_deadline", "conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("abandon_deadline")
