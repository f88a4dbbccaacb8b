"""Alembic environment: chatkit always hands over an open connection (see ../migrate.py)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `chatkit migrate`, not the alembic command")

context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
