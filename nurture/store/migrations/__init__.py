"""Alembic migrations of the store (`nurture db upgrade`)."""
