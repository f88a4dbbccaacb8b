"""Routing: the queue's index in the queue's own order (priority DESC, queue_rank, id), so
the head of a team's queue is the first index entry instead of a sort of everyone waiting.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # It leads with the old index's columns (status, queue_team, priority), so it serves every
    # query the old one did; the old one goes.
    op.create_index("ix_conversations_queue_order", "conversations",
                    ["status", "queue_team", sa.text("priority DESC"), "queue_rank", "id"])
    op.drop_index("ix_conversations_queue", "conversations")


def downgrade() -> None:
    op.create_index("ix_conversations_queue", "conversations",
                    ["status", "queue_team", "priority", "queue_rank"])
    op.drop_index("ix_conversations_queue_order", "conversations")
