"""omniload: one command copies an Asana workspace into DuckDB or PostgreSQL.

The package is the orchestration layer around Singer programs (tap-asana, and
target-duckdb-omniload or target-postgres-omniload).  It owns everything they
cannot do on their own: URI parsing, per-table strategies, state kept inside
the destination database, atomic publishing, run locks, progress, and keeping
the token and the database password secret.
"""

__version__ = "0.1.0"
