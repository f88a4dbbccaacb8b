"""Reports and QA: the per-conversation facts (a projection of the event log, which reports
read instead of the log) and supervisors' QA reviews. The facts of conversations logged
before this revision are filled by `chatkit reports rebuild`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_facts",
        sa.Column("conversation_id", sa.String(32), primary_key=True),
        sa.Column("contact_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(100)),
        sa.Column("team", sa.String(100)),
        sa.Column("agent_id", sa.String(32)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("handoff_at", sa.BigInteger),
        sa.Column("assigned_at", sa.BigInteger),
        sa.Column("first_response_at", sa.BigInteger),
        sa.Column("resolved_at", sa.BigInteger),
        sa.Column("handed_off", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("abandoned", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("wait_ms", sa.BigInteger),
        sa.Column("wait_open_ms", sa.BigInteger),
        sa.Column("first_response_ms", sa.BigInteger),
        sa.Column("first_response_open_ms", sa.BigInteger),
        sa.Column("handle_ms", sa.BigInteger),
        sa.Column("resolution_ms", sa.BigInteger),
        sa.Column("csat", sa.Integer),
        sa.Column("next_same_topic_at", sa.BigInteger),
    )
    op.create_index("ix_facts_created", "conversation_facts", ["created_at"])
    op.create_index("ix_facts_team_created", "conversation_facts", ["team", "created_at"])
    op.create_index("ix_facts_agent_created", "conversation_facts", ["agent_id", "created_at"])
    op.create_index("ix_facts_resolved", "conversation_facts", ["resolved_at"])
    op.create_index("ix_facts_contact_topic", "conversation_facts",
                    ["contact_id", "topic", "created_at"])
    for duration in ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
                     "handle_ms", "resolution_ms"):
        op.create_index(f"ix_facts_{duration}", "conversation_facts",
                        [duration, "created_at", "team", "agent_id"])
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"),
                  nullable=False),
        sa.Column("reviewer_id", sa.String(32), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("agent_id", sa.String(32)),
        sa.Column("team", sa.String(100)),
        sa.Column("scores", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("conversation_id", "reviewer_id", name="uq_qa_reviews_reviewer"),
    )
    op.create_index("ix_qa_reviews_agent", "qa_reviews", ["agent_id", "created_at"])
    op.create_index("ix_qa_reviews_created", "qa_reviews", ["created_at"])


def downgrade() -> None:
    op.drop_table("qa_reviews")
    op.drop_table("conversation_facts")
