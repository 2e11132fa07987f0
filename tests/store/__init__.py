"""The store on real SQLite and PostgreSQL: leads, migrations, the event log, the relay."""
