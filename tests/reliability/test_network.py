"""omniload talks to the Asana API URL and nothing else.

DuckDB would otherwise download and load extensions on its own (pointed at
an SQLite file, it fetches `sqlite_scanner` and attaches the file), and a
data tool that phones home can't run where egress is audited. Every
`connect()` of omniload, the tap and the loader is traced (strace -f).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess

import pytest

from tests.duckdb_reader import query
from tests.omniload.support import OMNILOAD, clean_env, source_uri

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (run-tests installs it)")]

_INET = re.compile(r'connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), '
                   r'(?:sin6_flowinfo=[^,]*, )?(?:inet_pton\(AF_INET6?, |sin_addr=inet_addr\()"([^"]+)"')


def traced_ingest(sim, tmp_path, dest_uri, table="users"):
    """Run ./omniload under strace; (result, [(host, port)] of every inet connect)."""
    log = tmp_path / "connects.txt"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    r = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect", "-e", "signal=none", "-o", str(log),
         str(OMNILOAD), "ingest", "--source-uri", source_uri(sim), "--source-table", table,
         "--dest-uri", dest_uri, "--dest-table", f"public.{table}", "--progress", "log"],
        env=clean_env(HOME=str(home)), capture_output=True, text=True, timeout=300)
    text = log.read_text()
    targets = [(host, int(port)) for port, host in _INET.findall(text)]
    # Every inet connect was recognised (the pattern didn't miss a form).
    assert len(targets) == len(re.findall(r"AF_INET6?\b", text)), text[-3000:]
    return r, targets, home


def test_a_run_contacts_only_the_api_url(sim, tmp_path):
    db = tmp_path / "w.db"
    r, targets, home = traced_ingest(sim, tmp_path, f"duckdb:///{db}")
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT count(*) FROM public.users")[0][0] > 0
    assert targets, "the trace saw no connection at all"
    assert set(targets) == {("127.0.0.1", sim.port)}
    assert not (home / ".duckdb").exists()  # no extension directory was made


def test_an_sqlite_file_is_refused_before_any_connection(sim, tmp_path):
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    before = db.read_bytes()
    sim.reset_request_log()
    r, targets, home = traced_ingest(sim, tmp_path, f"duckdb:///{db}")
    assert r.returncode == 2, r.stderr
    assert "is an SQLite database, not a DuckDB database" in r.stderr, r.stderr
    assert targets == [] and len(sim.requests) == 0
    assert db.read_bytes() == before
    assert not (home / ".duckdb").exists()
