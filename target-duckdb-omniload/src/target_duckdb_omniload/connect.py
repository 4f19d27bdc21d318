"""Connecting to the database file (rows f1, f2 of the registry, divergences.py).

0.8.0 calls duckdb.connect(path) with DuckDB's defaults.  Two of them reach
outside the destination: extensions are installed and loaded on demand (a
`path` that is an SQLite file makes DuckDB download its sqlite extension and
attach that file), and a new file is written in the newest storage format,
which every duckdb older than the loader's refuses to open.  We connect with
both downloads off and create a new file in the storage format of DuckDB
v1.2.0, readable by every duckdb since (the `storage_compatibility_version`
config key overrides it, e.g. "latest").  Not older: duckdb 2.0 writing the
v1.0/v1.1 formats corrupted a file when a write failed (disk full) mid-load.
An existing file keeps its format.  Validation, MotherDuck tokens and
`settings` are as in 0.8.0.
"""

from __future__ import annotations

import os
import sys

import duckdb
import target_duckdb

NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False,
                          "autoload_known_extensions": False}
DEFAULT_STORAGE_VERSION = "v1.2.0"


def connect_options(config, path_exists: bool) -> dict:
    options = dict(NO_EXTENSION_DOWNLOADS)
    if not path_exists and not config.get("token"):
        options["storage_compatibility_version"] = config.get(
            "storage_compatibility_version", DEFAULT_STORAGE_VERSION)
    return options


def duckdb_connect(config):
    """Replaces duckdb_connect: 0.8.0's body with connect_options()."""
    config_errors = target_duckdb.validate_config(config)
    if config_errors:
        target_duckdb.LOGGER.error("Invalid configuration:\n   * %s", "\n   * ".join(config_errors))
        sys.exit(1)
    path = config.get("path", config.get("filepath"))
    options = connect_options(config, os.path.exists(path))
    if config.get("token"):
        path = f"{path}?token={config['token']}"
    db = duckdb.connect(path, config=options)
    for setting, value in config.get("settings", {}).items():
        db.execute(f"SET {setting} = '{value}'")
    return db
