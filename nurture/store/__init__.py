"""The store: the engine and sessions, the tables (models), Alembic migrations, the
event log, and the relay that drains the event outbox into journeys.
"""
