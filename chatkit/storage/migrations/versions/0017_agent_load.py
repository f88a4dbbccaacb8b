"""Routing: each agent's load (their open assigned conversations) kept on their row, by
triggers on conversations, so that assignment reads it instead of counting chats per
candidate. The load of existing data is counted here; `SqlStore.check_loads` compares (and
can repair) it against a count at any time.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# An assigned conversation counts for its agent: a trigger adds it when a conversation
# becomes that (and the agent was last given a chat then: round robin's order) and takes it
# off when it stops being that (resolved, back in the queue, another agent's), in the
# statement's own transaction.
_SQLITE = [
    """CREATE TRIGGER tr_conversations_load_insert AFTER INSERT ON conversations
       WHEN NEW.status = 'assigned' AND NEW.agent_id IS NOT NULL
       BEGIN
         UPDATE agents SET load = load + 1,
           last_assigned_at = max(last_assigned_at, coalesce(NEW.assigned_at, 0))
           WHERE id = NEW.agent_id;
       END""",
    """CREATE TRIGGER tr_conversations_load_update AFTER UPDATE OF status, agent_id
       ON conversations
       WHEN OLD.status IS NOT NEW.status OR OLD.agent_id IS NOT NEW.agent_id
       BEGIN
         UPDATE agents SET load = load - 1
           WHERE OLD.status = 'assigned' AND id = OLD.agent_id;
         UPDATE agents SET load = load + 1,
           last_assigned_at = max(last_assigned_at, coalesce(NEW.assigned_at, 0))
           WHERE NEW.status = 'assigned' AND id = NEW.agent_id;
       END""",
    """CREATE TRIGGER tr_conversations_load_delete AFTER DELETE ON conversations
       WHEN OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL
       BEGIN
         UPDATE agents SET load = load - 1 WHERE id = OLD.agent_id;
       END""",
]
_POSTGRES = [
    """CREATE FUNCTION chatkit_agent_load() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP <> 'INSERT' THEN
           IF OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL THEN
             UPDATE agents SET load = load - 1 WHERE id = OLD.agent_id;
           END IF;
         END IF;
         IF TG_OP <> 'DELETE' THEN
           IF NEW.status = 'assigned' AND NEW.agent_id IS NOT NULL THEN
             UPDATE agents SET load = load + 1,
               last_assigned_at = GREATEST(last_assigned_at, coalesce(NEW.assigned_at, 0))
               WHERE id = NEW.agent_id;
           END IF;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER tr_conversations_load_insert AFTER INSERT ON conversations
       FOR EACH ROW WHEN (NEW.status = 'assigned' AND NEW.agent_id IS NOT NULL)
       EXECUTE FUNCTION chatkit_agent_load()""",
    """CREATE TRIGGER tr_conversations_load_update AFTER UPDATE OF status, agent_id
       ON conversations FOR EACH ROW
       WHEN (OLD.status IS DISTINCT FROM NEW.status
             OR OLD.agent_id IS DISTINCT FROM NEW.agent_id)
       EXECUTE FUNCTION chatkit_agent_load()""",
    """CREATE TRIGGER tr_conversations_load_delete AFTER DELETE ON conversations
       FOR EACH ROW WHEN (OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL)
       EXECUTE FUNCTION chatkit_agent_load()""",
]


def upgrade() -> None:
    op.add_column("agents", sa.Column("load", sa.Integer, nullable=False, server_default="0"))
    # The load of what is assigned now (in this migration's transaction, so nothing is
    # assigned between the count and the triggers).
    op.execute("UPDATE agents SET load = (SELECT count(*) FROM conversations "
               "WHERE conversations.agent_id = agents.id "
               "AND conversations.status = 'assigned')")
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for trigger in ("insert", "update", "delete"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER tr_conversations_load_{trigger}")
        else:
            op.execute(f"DROP TRIGGER tr_conversations_load_{trigger} ON conversations")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION chatkit_agent_load()")
    # A plain ALTER (SQLite 3.35+): a batch copy would drop the agents table, which the
    # conversations' foreign keys refuse once there are any.
    op.drop_column("agents", "load")
