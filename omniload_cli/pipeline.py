"""Running ``tap-asana | <the loader>`` (target-duckdb-omniload, target-postgres-omniload)
with omniload in the middle.

omniload does not let the shell connect the two programs: it reads the tap's
stdout line by line so it can count RECORDs for progress and the summary,
remember the LAST STATE message (which becomes the stored bookmarks once the
rows are published), and refuse anything not addressed to one of this run's
staging streams (so nothing can ever be written outside a staging table).  Every line it
accepts is forwarded unchanged to the loader's stdin, but for tombstones: a
RECORD with `_sdc_deleted_at` set (a row Asana no longer has) is kept back
and its key handed to publish, which deletes the row in the same transaction
as the upserts, and the SCHEMA reaches the loader without that property, so
no stage (and no table) ever has the column.

Children run in their own sessions: a Ctrl-C at the terminal reaches only
omniload, which then stops both children (SIGTERM, then SIGKILL) before the
temp dir is removed and the destination is restored.  Child stderr is read by
threads (so a chatty child never blocks), scrubbed of the token, kept as a
short tail for error messages, and mined for the tap's PROGRESS lines.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from collections import deque
from dataclasses import dataclass, field

from omniload_cli.errors import LoadError, SourceError, with_disk_hint
from omniload_cli.secrets import TOKEN_VARIABLES, carries, fds_named

TAP_ERROR_PREFIX = "tap-asana: error:"
_FAST = re.compile(rb'^\{\s*"type"\s*:\s*"(RECORD)"\s*,\s*"stream"\s*:\s*"([^"\\]+)"')
_TERM_GRACE_S = 5.0
TOMBSTONE = "_sdc_deleted_at"
_TOMBSTONE_KEY = b'"' + TOMBSTONE.encode() + b'"'
_TOMBSTONE_SET = re.compile(re.escape(_TOMBSTONE_KEY) + rb'\s*:\s*"')   # a non-null value, however spaced


@dataclass
class StreamResult:
    """What went to the loader for one staging stream."""
    records: int = 0
    schema_sent: bool = False   # the loader got a SCHEMA for the stage (so created it)
    removed_keys: list[str] = field(default_factory=list)   # tombstones kept back from the loader
    key: str = "gid"


@dataclass
class PipeResult:
    streams: dict[str, StreamResult]   # per staging stream that had any message
    last_state: dict | None
    dropped_streams: set[str]


def _is_tombstone(msg: dict, sent: StreamResult) -> bool:
    """A tombstone's key goes to sent.removed_keys; whether msg was one."""
    record = msg.get("record") or {}
    if not record.get(TOMBSTONE):
        return False
    sent.removed_keys.append(str(record[sent.key]))
    return True


def _detach_and_tie_to_parent() -> None:
    """preexec_fn: a session of its own (the terminal's Ctrl-C reaches only
    omniload, which then stops the children in order), yet SIGTERM as soon as
    omniload dies, even by SIGKILL, so no orphan keeps calling the API."""
    os.setsid()
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux only; harmless elsewhere)
    except (OSError, AttributeError):
        pass


class Child:
    """A subprocess in its own session plus a scrubbed tail of its stderr."""

    def __init__(self, name: str, argv: list[str], env: dict, scrub, *, stdin=None,
                 stdout=subprocess.PIPE, on_stderr_line=None):
        self.name = name
        self.scrub = scrub
        self.tail: deque[str] = deque(maxlen=200)
        self._on_line = on_stderr_line
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                     env=env, preexec_fn=_detach_and_tie_to_parent, pass_fds=fds_named(argv))
        self._reader = threading.Thread(target=self._read_stderr, daemon=True,
                                        name=f"{name}-stderr")
        self._reader.start()

    def _read_stderr(self) -> None:
        debug = bool(os.environ.get("OMNILOAD_DEBUG"))
        assert self.proc.stderr is not None  # started with stderr=PIPE
        for raw in iter(self.proc.stderr.readline, b""):
            line = self.scrub(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if self._on_line is not None and line.startswith("PROGRESS "):
                try:
                    self._on_line(json.loads(line[len("PROGRESS "):]))
                except (ValueError, TypeError):
                    pass
                continue
            if line.strip():
                self.tail.append(line)
                if debug:
                    os.write(2, f"[{self.name}] {line}\n".encode())

    def finish_reading(self) -> None:
        self._reader.join(timeout=5)

    def stop(self) -> None:
        """SIGTERM the child's whole process group, SIGKILL if it lingers."""
        if self.proc.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, _TERM_GRACE_S), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def last_error_line(self, program: str | None = None) -> str:
        """The child's own account of its failure: the tap's error line, the
        loader's `<program> failed: …` line (its SQL and SQLAlchemy's link
        cut off), else the last line that sounds like an error."""
        for line in reversed(self.tail):
            if line.startswith(TAP_ERROR_PREFIX):
                return line[len(TAP_ERROR_PREFIX):].strip()
        own = f"{program} failed:"
        for line in reversed(self.tail if program else ()):
            if own in line:
                return _without_sqlalchemy_detail(line[line.index(own) + len(own):])
        for line in reversed(self.tail):
            if not line.lstrip().startswith(_SQLALCHEMY_LINK) and re.search(
                    r"error|exception|critical|fatal", line, re.I):
                return line.strip()
        return self.tail[-1].strip() if self.tail else "(no message)"


# SQLAlchemy ends each of its errors with this line (its "error" is no message).
_SQLALCHEMY_LINK = "(Background on this error at:"


def _without_sqlalchemy_detail(message: str) -> str:
    """A loader's error without what SQLAlchemy appends: the statement
    ([SQL: …], a page of column definitions), its parameters, its link."""
    return message.split(" [SQL: ", 1)[0].split(_SQLALCHEMY_LINK, 1)[0].strip()


def child_env(*secrets: str) -> dict:
    """The environment for the children: ours minus the variables that may
    carry the token or a database password (a URI), and any other that
    carries one (secrets.carries: a short password takes no PATH with it)."""
    return {k: v for k, v in os.environ.items()
            if k not in TOKEN_VARIABLES and not any(carries(v, secret) for secret in secrets if secret)}


def discover(tap_exe: str, config_path: str, env: dict, scrub, timeout: float = 300) -> dict:
    try:
        argv = [tap_exe, "--config", config_path, "--discover"]
        proc = subprocess.run(argv, env=env, capture_output=True, timeout=timeout,
                              preexec_fn=_detach_and_tie_to_parent, pass_fds=fds_named(argv))
    except subprocess.TimeoutExpired:
        raise SourceError(f"tap-asana --discover did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [scrub(line) for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith(TAP_ERROR_PREFIX):
                raise SourceError(_for_omniload(line[len(TAP_ERROR_PREFIX):].strip()))
        raise SourceError(f"tap-asana --discover failed (exit {proc.returncode}): "
                          f"{shorten(lines[-1]) if lines else '(no message)'}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise SourceError("tap-asana --discover printed no valid catalog") from None


def select_streams(catalog: dict, streams: list[str]) -> dict:
    """Mark exactly these streams selected.  (A stream map `null` would hide
    the others' output but the tap would still fetch them.)"""
    found = set()
    for entry in catalog.get("streams", []):
        name = entry.get("tap_stream_id", entry.get("stream"))
        selected = name in streams
        if selected:
            found.add(name)
        metadata = entry.setdefault("metadata", [])
        top = next((m for m in metadata if m.get("breadcrumb") in ([], None)), None)
        if top is None:
            top = {"breadcrumb": [], "metadata": {}}
            metadata.append(top)
        top.setdefault("metadata", {})["selected"] = selected
    missing = [name for name in streams if name not in found]
    if missing:
        raise SourceError(f"tap-asana does not offer a stream named {missing[0]!r}")
    return catalog


def run(tap_argv: list[str], target_argv: list[str], env: dict, *, stage_streams: set[str],
        scrub, progress, secret_files: tuple[str, ...] = (), into: str = "DuckDB",
        loader: str = "target-duckdb-omniload") -> PipeResult:
    """into names the destination's kind and loader the loader, for messages.

    A config named /dev/fd/N (secrets.PrivateDir.write_config) reaches its
    child as descriptor N.  secret_files (the tap's config, where it had to
    be a file) are deleted as soon as the tap has written its first line,
    i.e. has read its config: even a SIGKILL of omniload, which skips all
    cleanup, then leaves no token on disk."""
    tap = target = None
    last_state = None
    dropped: set[str] = set()
    streams: dict[str, StreamResult] = {}
    progress.count_per_stream(streams)
    try:
        target = Child("target", target_argv, env, scrub, stdin=subprocess.PIPE,
                       stdout=subprocess.DEVNULL)
        tap = Child("tap", tap_argv, env, scrub, on_stderr_line=progress.tap_progress)
        sink = target.proc.stdin
        assert sink is not None and tap.proc.stdout is not None  # both are pipes
        try:
            for line in iter(tap.proc.stdout.readline, b""):
                if secret_files:
                    for path in secret_files:
                        try:
                            os.unlink(path)
                        except OSError:
                            pass
                    secret_files = ()
                m = _FAST.match(line)
                if m is not None:            # the common case, without a JSON parse
                    stream = m.group(2).decode()
                    if stream not in stage_streams:
                        dropped.add(stream)
                        continue
                    sent = streams.setdefault(stream, StreamResult())
                    if (_TOMBSTONE_KEY in line and _TOMBSTONE_SET.search(line)
                            and _is_tombstone(json.loads(line), sent)):
                        continue
                    sent.records += 1
                    progress.record()
                else:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue             # not a Singer message: never forward
                    if not isinstance(msg, dict):
                        continue             # JSON, but no message either
                    kind = msg.get("type")
                    if kind == "STATE":
                        last_state = msg.get("value")
                    elif "stream" in msg and msg["stream"] not in stage_streams:
                        dropped.add(str(msg["stream"]))
                        continue
                    elif kind == "RECORD":
                        sent = streams.setdefault(msg["stream"], StreamResult())
                        if _is_tombstone(msg, sent):
                            continue
                        sent.records += 1
                        progress.record()
                    elif kind == "SCHEMA":
                        sent = streams.setdefault(msg["stream"], StreamResult())
                        sent.schema_sent = True
                        sent.key = (msg.get("key_properties") or [sent.key])[0]
                        if msg.get("schema", {}).get("properties", {}).pop(TOMBSTONE, None):
                            line = json.dumps(msg).encode()
                sink.write(line if line.endswith(b"\n") else line + b"\n")
            loader_gone = False
        except BrokenPipeError:
            # The loader died (its own error says why, below), or is dying:
            # nothing the tap sends can land, and a tap blocked writing to
            # the pipe nobody reads any more would never exit.
            loader_gone = True
            tap.stop()
        tap_rc = None if loader_gone else tap.proc.wait()
        if tap_rc is not None and tap_rc != 0:
            target.stop()
            tap.finish_reading()
            raise SourceError(_tap_message(tap, tap_rc))
        try:
            sink.close()
        except BrokenPipeError:
            pass
        target_rc = target.proc.wait()
        target.finish_reading()
        if loader_gone and target_rc == 0:
            raise LoadError(f"{loader} stopped reading before the tap had finished; nothing was changed")
        if target_rc != 0:
            tap.stop()
            if any("Could not set lock" in line for line in target.tail):
                # Someone opened the file after our pre-flight check.
                raise LoadError("the destination database was locked by another process while "
                                "loading; close it and retry (nothing was changed)")
            raise LoadError(with_disk_hint(
                f"loading into {into} failed ({loader} exit {target_rc}): "
                f"{shorten(target.last_error_line(loader))}; nothing was changed"))
        tap.finish_reading()
        return PipeResult(streams, last_state, dropped)
    finally:
        # Normal exit: both are already gone.  Error or Ctrl-C: stop them now.
        for child in (tap, target):
            if child is not None:
                child.stop()


def shorten(line: str, limit: int = 300) -> str:
    """A relayed child message, made fit for one line: URL query strings
    (Asana's opt_fields lists run to kilobytes) cut, length capped."""
    line = re.sub(r"(https?://[^\s?'\"]+|/[\w./-]+)\?[^\s'\")]*", r"\1?...", line)
    return line if len(line) <= limit else line[:limit] + "..."


def _tap_message(tap: Child, rc: int) -> str:
    line = shorten(tap.last_error_line())
    if any(line.startswith(TAP_ERROR_PREFIX) for line in tap.tail):
        return _for_omniload(line)
    return f"extracting from Asana failed (tap-asana exit {rc}): {line}"


def _for_omniload(message: str) -> str:
    """A tap message that names a tap setting: say how to set it through omniload."""
    if "allow_insecure_api_url" in message:
        message += (" -- with omniload: OMNILOAD_TAP_SETTINGS='{\"allow_insecure_api_url\": true}'"
                    " (only on a network you trust)")
    return message
