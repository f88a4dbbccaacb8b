"""Console sign-ins: server-side agent sessions (only a hash of the cookie's token is kept)
and failed sign-ins per email, for the lockout.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.String(32), sa.ForeignKey("agents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_agent_sessions_agent", "agent_sessions", ["agent_id"])
    op.create_index("ix_agent_sessions_expires", "agent_sessions", ["expires_at"])
    op.create_table(
        "login_failures",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger()),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_index("ix_agent_sessions_expires", "agent_sessions")
    op.drop_index("ix_agent_sessions_agent", "agent_sessions")
    op.drop_table("agent_sessions")
