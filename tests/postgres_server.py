"""A real PostgreSQL 15 server for the tests, started by the tests themselves.

`initdb` and `pg_ctl` from Debian's postgresql-15 (./run-tests installs it
where it is missing) run as an unprivileged user (`nobody`: the server
refuses to run as root), on a data directory in a temporary directory that
user owns.  The server listens on a unix socket in that directory and on a
free loopback TCP port, so both URI forms are tested, and every role
authenticates with a password (scram-sha-256, on the socket too), so a
wrong password is refused for real.

One server per test process: under pytest-xdist every worker starts its
own (a few seconds), and no two workers share a database or a port.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PG_BIN = Path(os.environ.get("OMNILOAD_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
RUN_AS = "nobody"
SUPERUSER = "postgres"
# The tests' own role: a password with every character a URI must encode.
ROLE = "omni"
ROLE_PASSWORD = "p@ss:w/rd?&#%+ é"
SECRET_PART = "w/rd?&#%+"   # what the tests look for wherever the password must not be


@dataclass
class Server:
    base: Path          # the temporary directory (socket, data dir, log)
    port: int
    admin_password: str

    @property
    def socket_dir(self) -> str:
        return str(self.base)

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    # --- URIs -----------------------------------------------------------------
    def uri(self, database: str, *, user: str = ROLE, password: str | None = ROLE_PASSWORD,
            via: str = "tcp", scheme: str = "postgresql", query: str = "") -> str:
        """A --dest-uri for database: over loopback TCP or the unix socket."""
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        if via == "tcp":
            base = f"{scheme}://{auth}@127.0.0.1:{self.port}/{database}"
            return base + (f"?{query}" if query else "")
        params = f"host={quote(self.socket_dir, safe='')}&port={self.port}"
        return f"{scheme}://{auth}@/{database}?{params}" + (f"&{query}" if query else "")

    # --- administration (as the superuser, over the socket) --------------------
    def connect(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None,
                autocommit: bool = True):
        import psycopg

        return psycopg.connect(host=self.socket_dir, port=self.port, dbname=database, user=user,
                               password=password if password is not None else self.admin_password,
                               autocommit=autocommit)

    def admin(self, sql: str, *params, database: str = "postgres") -> list[tuple]:
        with self.connect(database) as con:
            cur = con.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str | None = None, owner: str = ROLE, template: str | None = None) -> str:
        """A new database (owned by the tests' role), empty or a copy of
        template (which nobody may be connected to); its name."""
        name = name or f"db_{secrets.token_hex(5)}"
        copy = f' TEMPLATE "{template}"' if template else ""
        self.admin(f'CREATE DATABASE "{name}" OWNER "{owner}"{copy}')
        return name

    def create_role(self, name: str, password: str, *rights: str) -> None:
        self.admin(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' {' '.join(rights)}")

    def stop(self) -> None:
        subprocess.run(_as_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                                 "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def _as_user(argv: list[str]) -> list[str]:
    if os.getuid() != 0:
        return argv
    return ["setpriv", f"--reuid={RUN_AS}", f"--regid={RUN_AS if RUN_AS != 'nobody' else 'nogroup'}",
            "--clear-groups", "--", *argv]


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> str | None:
    """Why no server can be started here, or None."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} is missing (./run-tests installs postgresql-15)"
    return None


def start() -> Server:
    problem = available()
    if problem:
        raise RuntimeError(problem)
    base = Path(tempfile.mkdtemp(prefix="pgtest-"))
    if os.getuid() == 0:
        shutil.chown(base, RUN_AS, None)
    admin_password = secrets.token_hex(12)
    pwfile = base / "pw"
    pwfile.write_text(admin_password + "\n")
    if os.getuid() == 0:
        shutil.chown(pwfile, RUN_AS, None)
    os.chmod(pwfile, 0o600)
    r = subprocess.run(_as_user([str(PG_BIN / "initdb"), "-D", str(base / "data"), "-U", SUPERUSER,
                                 "--pwfile", str(pwfile), "--auth=scram-sha-256", "--encoding=UTF8",
                                 "--locale=C", "--no-sync"]),
                       capture_output=True, text=True, timeout=120)
    pwfile.unlink()
    if r.returncode != 0:
        raise RuntimeError(f"initdb failed: {r.stderr[-2000:]}")
    for attempt in range(5):
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
                   f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   f"-c max_connections=60 -c shared_buffers=32MB")
        r = subprocess.run(_as_user([str(PG_BIN / "pg_ctl"), "-D", str(base / "data"), "-l",
                                     str(base / "server.log"), "-o", options, "-w", "-t", "60", "start"]),
                           capture_output=True, text=True, timeout=90)
        if r.returncode == 0:
            server = Server(base, port, admin_password)
            server.create_role(ROLE, ROLE_PASSWORD.replace("'", "''"))
            return server
        time.sleep(0.2 * (attempt + 1))      # the port was taken meanwhile: another one
    log = (base / "server.log").read_text(errors="replace")[-2000:] if (base / "server.log").exists() else ""
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"pg_ctl start failed: {r.stderr[-1000:]} {log}")


@dataclass(frozen=True)
class Database:
    """One database of a test server: where a test loads (its --dest-uri)."""
    server: Server
    name: str

    @property
    def uri(self) -> str:
        return self.server.uri(self.name)

    def connect(self, **kw):
        return self.server.connect(self.name, **kw)

    def __str__(self) -> str:       # in a test id or an assertion message
        return f"postgres:{self.name}"
