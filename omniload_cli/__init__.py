"""omniload: one command copies an Asana workspace into DuckDB.

The package is the orchestration layer around two Singer programs (tap-asana
and target-duckdb-omniload).  It owns everything the two programs cannot do on
their own: URI parsing, per-table strategies, state kept inside the destination
database, atomic publishing, progress, and keeping the token secret.
"""

__version__ = "0.1.0"
