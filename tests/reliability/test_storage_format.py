"""Files people can open: what omniload writes opens in older duckdb releases.

Users open work.db with whatever duckdb their CLI or notebook has. A new
file is written in storage format v1.2.0 unless the URI asks for
`?storage_version=latest`; an existing file keeps the format it has.
The old reader is a real duckdb 1.2.2 in its own environment (run-tests
builds it from tests/compat/duckdb-oldest-reader.lock).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.duckdb_reader import query
from tests.expected import expected_gids
from tests.omniload.support import clean_env, run_omniload, source_uri

OLD_PYTHON = os.environ.get("OLD_DUCKDB_PYTHON")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not OLD_PYTHON, reason="run through ./run-tests (builds the old duckdb)")]

_READ = """
import sys, duckdb
try:
    con = duckdb.connect(sys.argv[1], read_only=True)
except duckdb.Error as exc:
    print("refused:", exc)
else:
    print(duckdb.__version__, con.execute("SELECT count(*) FROM public.users").fetchone()[0])
"""


def old_duckdb_reads(db) -> str:
    r = subprocess.run([OLD_PYTHON, "-c", _READ, str(db)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def load_users(sim, dest_uri):
    r = run_omniload("ingest", "--source-uri", source_uri(sim), "--source-table", "users",
                     "--dest-uri", dest_uri, "--dest-table", "public.users", env=clean_env())
    assert r.returncode == 0, r.stderr
    return r


def test_a_new_file_opens_in_duckdb_1_2(sim, tmp_path):
    db = tmp_path / "w.db"
    load_users(sim, f"duckdb:///{db}")
    load_users(sim, f"duckdb:///{db}")   # rewritten by a second run: still readable
    assert old_duckdb_reads(db) == f"1.2.2 {len(expected_gids(sim, 'users'))}"


def test_latest_asks_for_the_newest_format_and_keeps_it(sim, tmp_path):
    db = tmp_path / "w.db"
    load_users(sim, f"duckdb:///{db}?storage_version=latest")
    assert old_duckdb_reads(db).startswith("refused:")
    load_users(sim, f"duckdb:///{db}")   # the default applies to new files only
    assert old_duckdb_reads(db).startswith("refused:")
    assert query(db, "SELECT count(*) FROM public.users")[0][0] == len(expected_gids(sim, "users"))


def test_a_file_made_by_an_old_duckdb_stays_readable_by_it(sim, tmp_path):
    db = tmp_path / "mine.db"
    subprocess.run([OLD_PYTHON, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])"
                    ".execute('CREATE TABLE notes (x INT)')", str(db)], check=True)
    load_users(sim, f"duckdb:///{db}")
    assert old_duckdb_reads(db) == f"1.2.2 {len(expected_gids(sim, 'users'))}"
