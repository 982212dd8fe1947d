"""Alembic environment: runs on the connection `init_db` passes in (no alembic.ini).

`assistant db upgrade` and `init_db` build the Config in code (assistant/store/migrate.py)
and put the open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from assistant.store.migrate import target_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `assistant db upgrade` (or init_db), which passes a connection"
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE via table copies
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
