"""Events: an index by kind and time, so that reading one kind of event (an article's votes,
a report's resolutions or ratings over a date range) reads those events only, not the whole
log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_kind_created", "events", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_events_kind_created", "events")
