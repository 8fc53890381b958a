"""Alembic environment: the connection is handed in by gateway.db.migrate."""

from __future__ import annotations

from alembic import context

from gateway.db.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `ld-gateway init` (gateway.db.migrate.upgrade)")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
