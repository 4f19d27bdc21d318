"""PgBouncer in front of a test server (tests/postgres_server.py).

Many PostgreSQL users reach their server through this pooler, which may
know a database under a name of its own (an alias in its [databases]
section): what the client asks for is not what current_database() says.
Debian's pgbouncer (./run-tests installs it where it is missing) runs as
the server does, as an unprivileged user, on a free loopback port, in
session mode (the mode under which a session's advisory locks are its own),
with the tests' role and password in its user list.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.postgres_server import ROLE, ROLE_PASSWORD, RUN_AS, Server, _as_user, _free_port

PGBOUNCER = Path(os.environ.get("OMNILOAD_TEST_PGBOUNCER", "/usr/sbin/pgbouncer"))


@dataclass
class Bouncer:
    base: Path
    port: int
    proc: subprocess.Popen

    def uri(self, alias: str) -> str:
        return f"postgresql://{quote(ROLE, safe='')}:{quote(ROLE_PASSWORD, safe='')}@127.0.0.1:{self.port}/{alias}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


def start(server: Server, aliases: dict[str, str]) -> Bouncer:
    """PgBouncer with each alias naming a database of server."""
    if not PGBOUNCER.exists():
        raise RuntimeError(f"{PGBOUNCER} is missing (./run-tests installs pgbouncer)")
    base = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = _free_port()
    databases = "\n".join(f"{alias} = host=127.0.0.1 port={server.port} dbname={name}"
                          for alias, name in aliases.items())
    (base / "pgbouncer.ini").write_text(f"""[databases]
{databases}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {base}/users.txt
pool_mode = session
logfile = {base}/pgbouncer.log
""")
    (base / "users.txt").write_text(f'"{ROLE}" "{ROLE_PASSWORD.replace(chr(34), chr(34) * 2)}"\n')
    os.chmod(base / "users.txt", 0o600)
    if os.getuid() == 0:
        for path in (base, *base.iterdir()):
            shutil.chown(path, RUN_AS, None)
    proc = subprocess.Popen(_as_user([str(PGBOUNCER), str(base / "pgbouncer.ini")]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Bouncer(base, port, proc)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (base / "pgbouncer.log").read_text(errors="replace")[-1500:] \
                    if (base / "pgbouncer.log").exists() else ""
                proc.kill()
                shutil.rmtree(base, ignore_errors=True)
                raise RuntimeError(f"pgbouncer did not start: {log}") from None
            time.sleep(0.05)
