"""Alembic migrations (SQLite and PostgreSQL). Run with ``qtlens db upgrade``."""
