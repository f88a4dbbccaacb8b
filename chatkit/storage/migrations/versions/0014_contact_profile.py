"""The visitor's self-service profile: contacts gain a phone number and preferences, and a
history of every change to a contact's details (contact_changes).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("phone", sa.String(32)))
    op.add_column("contacts", sa.Column("preferences", sa.JSON(none_as_null=True)))
    op.create_table(
        "contact_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("contact_id", sa.String(32), nullable=False),
        sa.Column("field", sa.String(80), nullable=False),
        sa.Column("old_value", sa.Text()),
        sa.Column("new_value", sa.Text()),
        sa.Column("actor_kind", sa.String(10), nullable=False),
        sa.Column("actor_id", sa.String(200)),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_contact_changes_contact", "contact_changes", ["contact_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_contact_changes_contact", "contact_changes")
    op.drop_table("contact_changes")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("preferences")
        batch.drop_column("phone")
