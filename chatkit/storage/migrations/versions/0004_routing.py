"""Routing: agents' presence and connections, conversations' queue, priority and accept
deadline, and internal (agents-only) messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns are nullable or have a constant default: a plain ADD COLUMN on both engines.
    op.add_column("agents", sa.Column("presence", sa.String(10), nullable=False,
                                      server_default="offline"))
    op.add_column("agents", sa.Column("presence_at", sa.BigInteger, nullable=False,
                                      server_default="0"))
    op.add_column("agents", sa.Column("last_assigned_at", sa.BigInteger, nullable=False,
                                      server_default="0"))
    op.add_column("agents", sa.Column("offline_deadline", sa.BigInteger))
    op.create_table(
        "agent_connections",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.String(32), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_agent_connections_agent", "agent_connections", ["agent_id"])
    op.add_column("conversations", sa.Column("queue_team", sa.String(100)))
    op.add_column("conversations", sa.Column("priority", sa.Integer, nullable=False,
                                             server_default="0"))
    op.add_column("conversations", sa.Column("queue_rank", sa.BigInteger))
    op.add_column("conversations", sa.Column("accept_deadline", sa.BigInteger))
    # Conversations already waiting keep their place, in the queue of the team they asked for
    # (or `support`); routing moves those of a team routing.yaml lacks to its default team.
    op.execute("UPDATE conversations SET queue_rank = queued_at, "
               "queue_team = COALESCE(team, 'support') WHERE status = 'queued'")
    op.create_index("ix_conversations_queue", "conversations",
                    ["status", "queue_team", "priority", "queue_rank"])
    op.create_index("ix_conversations_agent", "conversations", ["agent_id", "status"])
    op.create_index("ix_conversations_accept_deadline", "conversations", ["accept_deadline"])
    op.add_column("messages", sa.Column("internal", sa.Boolean, nullable=False,
                                        server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("internal")
    op.drop_index("ix_conversations_accept_deadline", "conversations")
    op.drop_index("ix_conversations_agent", "conversations")
    op.drop_index("ix_conversations_queue", "conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("accept_deadline")
        batch.drop_column("queue_rank")
        batch.drop_column("priority")
        batch.drop_column("queue_team")
    op.drop_index("ix_agent_connections_agent", "agent_connections")
    op.drop_table("agent_connections")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("offline_deadline")
        batch.drop_column("last_assigned_at")
        batch.drop_column("presence_at")
        batch.drop_column("presence")
