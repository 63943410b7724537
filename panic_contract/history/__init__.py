"""The history store: every run and its findings, kept in SQLite or PostgreSQL, so a report knows the past."""
