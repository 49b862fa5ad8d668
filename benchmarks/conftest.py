"""Benchmarks use the tests' database fixtures: SQLite (file, WAL) and PostgreSQL."""

from tests.conftest import db_url, engine, pg_database  # noqa: F401
