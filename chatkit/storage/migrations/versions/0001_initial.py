"""The initial schema: contacts, agents, conversations, messages, the event log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chatkit_kv",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(320)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("contact_id", sa.String(32), sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.String(32), sa.ForeignKey("agents.id")),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("visitor_read_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("agent_read_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("queued_at", sa.BigInteger),
        sa.Column("assigned_at", sa.BigInteger),
        sa.Column("resolved_at", sa.BigInteger),
    )
    op.create_index("ix_conversations_contact", "conversations", ["contact_id", "created_at"])
    op.create_index("uq_conversations_open_per_contact", "conversations", ["contact_id"],
                    unique=True, sqlite_where=sa.text("status != 'resolved'"),
                    postgresql_where=sa.text("status != 'resolved'"))
    op.create_index("ix_conversations_status", "conversations", ["status", "created_at"])
    op.create_table(
        "messages",
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(64)),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("author_id", sa.String(32)),
        sa.Column("author_name", sa.String(200)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("author_id", "client_id", name="uq_messages_author_client"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("conversation_id", sa.String(32)),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("actor_kind", sa.String(10)),
        sa.Column("actor_id", sa.String(32)),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_conversation", "events", ["conversation_id", "id"])
    op.create_index("ix_events_created", "events", ["created_at"])


def downgrade() -> None:
    for table in ("events", "messages", "conversations", "agents", "contacts", "chatkit_kv"):
        op.drop_table(table)
