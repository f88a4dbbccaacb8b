"""Identity: contacts gain the host site's user id (external_id), whether it was verified
(signed by the host site), and custom attributes; a verified external id names one contact.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("external_id", sa.String(200)))
    op.add_column("contacts", sa.Column("verified", sa.Boolean(), nullable=False,
                                        server_default="0"))
    op.add_column("contacts", sa.Column("attributes", sa.JSON(none_as_null=True)))
    op.create_index("uq_contacts_verified_external_id", "contacts", ["external_id"],
                    unique=True, sqlite_where=sa.text("verified"),
                    postgresql_where=sa.text("verified"))


def downgrade() -> None:
    op.drop_index("uq_contacts_verified_external_id", "contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("attributes")
        batch.drop_column("verified")
        batch.drop_column("external_id")
