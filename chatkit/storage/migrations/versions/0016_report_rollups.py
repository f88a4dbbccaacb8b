"""The reports' monthly and yearly roll-ups (report_rollups, report_histograms:
storage/rollups.py) and an index per duration for an agent's percentiles; then the facts
that 0015 left to
`chatkit reports rebuild` and the roll-ups are filled here, so an upgrade needs no manual
step.

The filling calls the rebuild code itself (storage/facts.py `rebuild_sync`, synchronous so
that it runs on Alembic's connection, in the migration's transaction): it folds the event
log of every conversation that has no fact row yet, in the business hours of the routing
configuration stored in the database (as `chatkit reports rebuild` does), works out again
those contacts' next-conversation-on-the-topic links, and sums the roll-ups from all the
facts. It uses the code's current table definitions: when a later revision changes
conversation_facts, it must also make this step use the columns as of 0016.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

DURATIONS = ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
             "handle_ms", "resolution_ms")
COUNTS = ("conversations", "inbound", "handed_off", "resolved", "inbound_resolved",
          "bot_resolved", "abandoned", "fcr_eligible", "csat_ratings", "csat_satisfied",
          "csat_total", *(f"{name}_{part}" for name in DURATIONS for part in ("n", "sum")))


def _key() -> list[sa.Column[Any]]:
    return [sa.Column("scope", sa.String(2), nullable=False),
            sa.Column("span", sa.String(1), nullable=False),
            sa.Column("start", sa.BigInteger, nullable=False),
            sa.Column("team", sa.String(100), nullable=False),
            sa.Column("agent", sa.String(32), nullable=False),
            sa.Column("channel", sa.String(20), nullable=False)]


def upgrade() -> None:
    for duration in DURATIONS:
        op.create_index(f"ix_facts_agent_{duration}", "conversation_facts",
                        ["agent_id", duration, "created_at", "team"])
    op.create_table(
        "report_rollups", *_key(),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
          for name in COUNTS),
        sa.PrimaryKeyConstraint("scope", "span", "start", "team", "agent", "channel",
                                name="pk_report_rollups"),
    )
    op.create_table(
        "report_histograms", *_key(),
        sa.Column("measure", sa.String(30), nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("scope", "span", "start", "team", "agent", "channel",
                                "measure", "bucket", name="pk_report_histograms"),
    )
    from chatkit.storage.facts import rebuild_sync

    conn = op.get_bind()
    rebuild_sync(conn, _stored_open_hours(conn), only_missing=True)


def _stored_open_hours(conn: sa.Connection) -> Any:
    """The business hours of the routing configuration stored in the database (what
    `chatkit reports rebuild` counts in); every team always open without one."""
    from chatkit.routing.config import RoutingConfig

    document = conn.execute(sa.text(
        "SELECT document FROM routing_configs ORDER BY version DESC LIMIT 1")).scalar()
    config = (RoutingConfig() if document is None
              else RoutingConfig.model_validate(orjson.loads(document)))
    hours = {team.id: team.hours for team in config.teams}

    def open_ms(team: str | None, start_ms: int, end_ms: int) -> int:
        found = hours.get(team) if team is not None else None
        return end_ms - start_ms if found is None else found.open_ms_between(start_ms, end_ms)

    return open_ms


def downgrade() -> None:
    op.drop_table("report_histograms")
    op.drop_table("report_rollups")
    for duration in DURATIONS:
        op.drop_index(f"ix_facts_agent_{duration}", "conversation_facts")
