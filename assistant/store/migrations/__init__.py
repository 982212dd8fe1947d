"""Alembic migrations of the service's database; `init_db` runs them to head."""
