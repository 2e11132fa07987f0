"""The store: the engine and sessions (with the lead lock and the find-or-insert helper
every once-per-key row uses), the tables (models), Alembic migrations, the event log,
and the relay that signals accepted events (the `deliveries` table) to their journeys.
"""
