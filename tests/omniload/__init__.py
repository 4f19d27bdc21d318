"""The omniload tests.

Unit tests import omniload_cli directly (duckdb 2.0.1 in the test env, the
version the target writes with).  End-to-end tests run the real ./omniload
script as a subprocess against an in-process Asana simulator over real HTTP.
"""
