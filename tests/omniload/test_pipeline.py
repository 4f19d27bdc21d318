"""omniload_cli/pipeline.py, the relay between tap and loader, driven by real
child processes: small Python programs stand in for tap-asana (writing
Singer lines and stderr) and for target-duckdb-omniload (keeping what
reached its stdin), so pipes, sessions and signals are the real ones."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from omniload_cli import pipeline
from omniload_cli.errors import LoadError, SourceError
from omniload_cli.progress import Progress
from omniload_cli.secrets import PrivateDir, Scrubber
from tests.reliability.support import alive, wait_for

STAGE = "_omniload_stage_tasks_ab12"
SECRET = "2/1200:relaySECRET"

# The stand-in tap: records its pid, writes `stderr`, then `lines` as given
# (so a line may lack its newline), waits for the loader to have started
# (when told to: a test that looks at the loader's fate needs its pid), exits.
TAP = r"""
import json, os, sys, time
spec = json.load(open(sys.argv[1]))
open(spec["pid"], "w").write(str(os.getpid()))
sys.stderr.write(spec["stderr"])
sys.stderr.flush()
for line in spec["lines"]:
    sys.stdout.buffer.write(line.encode())
    sys.stdout.flush()
deadline = time.monotonic() + 30
while spec["wait_for"] and not os.path.exists(spec["wait_for"]) and time.monotonic() < deadline:
    time.sleep(0.01)
sys.exit(spec["exit"])
"""
# The stand-in loader: records its pid, keeps every byte of its stdin, then
# writes `stderr` and exits.
TARGET = r"""
import json, os, sys
spec = json.load(open(sys.argv[1]))
open(spec["pid"], "w").write(str(os.getpid()))
data = sys.stdin.buffer.read()
open(spec["received"], "wb").write(data)
sys.stderr.write(spec["stderr"])
sys.exit(spec["exit"])
"""


def msg(**fields) -> str:
    """A Singer message as the tap writes it: compact JSON, one line."""
    return json.dumps(fields, separators=(",", ":")) + "\n"


def schema(stream=STAGE, key=("gid",), tombstones=False) -> str:
    properties = {"gid": {"type": ["string"]}, "name": {"type": ["null", "string"]}}
    if tombstones:
        properties[pipeline.TOMBSTONE] = {"type": ["null", "string"], "format": "date-time"}
    return msg(type="SCHEMA", stream=stream, schema={"type": "object", "properties": properties},
               key_properties=list(key))


def record(stream=STAGE, **rec) -> str:
    return msg(type="RECORD", stream=stream, record=rec)


def state(value) -> str:
    return msg(type="STATE", value=value)


class Relay:
    """One pipeline.run between the stand-ins, and what came of it."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.progress = Progress("log", "tasks", io.StringIO())
        self.received_path = tmp_path / "received"

    def argv(self, program: str, name: str, **spec) -> list[str]:
        """`python -c program spec.json`: what program does, and where it writes its pid."""
        spec["pid"] = str(self.tmp_path / f"{name}.pid")
        path = self.tmp_path / f"{name}-spec.json"
        path.write_text(json.dumps(spec))
        return [sys.executable, "-c", program, str(path)]

    def pid(self, name: str) -> int:
        return int(wait_for(lambda: (self.tmp_path / f"{name}.pid").exists()
                            and (self.tmp_path / f"{name}.pid").read_text()))

    def run(self, lines=(), *, tap_stderr="", tap_exit=0, wait_for_target=False, target_stderr="",
            target_exit=0, tap_argv=None, target_argv=None, env=None, secret_files=(), stages=(STAGE,)):
        self.result = pipeline.run(
            tap_argv or self.argv(TAP, "tap", lines=list(lines), stderr=tap_stderr, exit=tap_exit,
                                  wait_for=str(self.tmp_path / "target.pid") if wait_for_target else None),
            target_argv or self.argv(TARGET, "target", received=str(self.received_path),
                                     stderr=target_stderr, exit=target_exit),
            dict(os.environ) if env is None else env, stage_streams=set(stages), scrub=Scrubber(SECRET),
            progress=self.progress, secret_files=secret_files)
        return StageView.of(self.result)

    @property
    def received(self) -> bytes:
        return self.received_path.read_bytes()


@dataclass
class StageView:
    """What the relay recorded, for the one stage most tests use."""
    records: int
    schema_sent: bool
    removed_keys: list[str]
    last_state: dict | None
    dropped_streams: set[str]

    @classmethod
    def of(cls, result: pipeline.PipeResult) -> StageView:
        sent = result.streams.get(STAGE, pipeline.StreamResult())
        return cls(sent.records, sent.schema_sent, sent.removed_keys, result.last_state,
                   result.dropped_streams)


@pytest.fixture
def relay(tmp_path):
    return Relay(tmp_path)


def gone(pid: int) -> bool:
    """Exited (and reaped, or a zombie nobody will run again)."""
    return not alive(pid)


# --- what reaches the loader ------------------------------------------------------


def test_the_stage_s_messages_reach_the_loader_byte_for_byte(relay):
    lines = [
        schema(),
        record(gid="1", name="a"),
        # Other key orders and spacing than the tap's: parsed, still relayed as written.
        f'{{"stream": "{STAGE}", "type": "RECORD", "record": {{"gid": "2", "name": "b é"}}}}\n',
        state({"bookmarks": {"tasks": {"replication_key_value": "t1"}}}),
        msg(type="ACTIVATE_VERSION", stream=STAGE, version=7),
        '{"type":   "STATE", "value": {"v": 2}}\n',
    ]
    result = relay.run(lines)
    assert relay.received == "".join(lines).encode()
    assert (result.records, result.schema_sent, result.last_state) == (2, True, {"v": 2})
    assert (result.dropped_streams, result.removed_keys) == (set(), [])


def test_a_last_line_without_its_newline_gets_one(relay):
    relay.run([schema(), record(gid="1").rstrip("\n")])
    assert relay.received == (schema() + record(gid="1")).encode()
    assert StageView.of(relay.result).records == 1


def test_what_is_not_a_singer_message_is_never_relayed(relay):
    relay.run(["starting up\n", schema(), "\n", "   \n", '{"type": "RECORD", "str\n', record(gid="1")])
    assert relay.received == (schema() + record(gid="1")).encode()
    assert StageView.of(relay.result).records == 1


@pytest.mark.parametrize("line", ["[1, 2]\n", "null\n", '"a string"\n', "42\n"])
def test_json_that_is_no_message_is_not_relayed_either(relay, line):
    relay.run([schema(), line, record(gid="1")])
    assert relay.received == (schema() + record(gid="1")).encode()


def test_several_stages_each_get_their_own_counts_keys_and_tombstones(relay):
    """One tap, several tables: every stage's messages reach the loader, and
    what publish needs is kept per stage."""
    other = "_omniload_stage_users_ab12"
    gone_now = {pipeline.TOMBSTONE: "2026-01-02T03:04:05Z"}
    lines = [schema(tombstones=True), schema(other, key=("id",), tombstones=True),
             record(gid="1"), record(other, id="u1"), record(other, id="u2"),
             record(gid="2", **gone_now), record(other, id="u3", **gone_now),
             record("_omniload_stage_tags_ab12", gid="t"), state({"v": 3})]
    relay.run(lines, stages=(STAGE, other))
    result = relay.result
    assert set(result.streams) == {STAGE, other}
    tasks, users = result.streams[STAGE], result.streams[other]
    assert (tasks.records, tasks.schema_sent, tasks.removed_keys, tasks.key) == (1, True, ["2"], "gid")
    assert (users.records, users.schema_sent, users.removed_keys, users.key) == (2, True, ["u3"], "id")
    assert result.last_state == {"v": 3}
    assert result.dropped_streams == {"_omniload_stage_tags_ab12"}
    assert b'"u2"' in relay.received and b'"u3"' not in relay.received and b'"t"' not in relay.received


def test_a_message_without_a_stream_is_relayed(relay):
    """Only messages naming another stream are held back: whatever names none
    (a type the loader may know and we don't) goes through."""
    relay.run([schema(), msg(type="BATCH_STARTED", note="x")])
    assert relay.received == (schema() + msg(type="BATCH_STARTED", note="x")).encode()


def test_nothing_at_all_reaches_the_loader_as_nothing(relay):
    result = relay.run([])
    assert relay.received == b""
    assert (result.records, result.schema_sent, result.last_state) == (0, False, None)


# --- other streams ------------------------------------------------------------------


def test_other_streams_are_held_back_and_named(relay):
    """Nothing may be written outside the stage: the alias-less stream name
    (a tap ignoring the stream map) or any other is dropped and reported."""
    result = relay.run([
        schema(stream="tasks"),
        record(stream="tasks", gid="1"),
        '{"stream": "users", "type": "RECORD", "record": {"gid": "u"}}\n',
        msg(type="ACTIVATE_VERSION", stream="projects", version=1),
        schema(),
        record(gid="2"),
        # STATE is the tap's, whatever stream it mentions.
        msg(type="STATE", stream="tasks", value={"v": 1}),
    ])
    assert relay.received == (schema() + record(gid="2")
                              + msg(type="STATE", stream="tasks", value={"v": 1})).encode()
    assert result.dropped_streams == {"tasks", "users", "projects"}
    assert (result.records, result.last_state) == (1, {"v": 1})


def test_a_schema_of_another_stream_is_not_the_stage_s(relay):
    result = relay.run([schema(stream="tasks"), record(stream="tasks", gid="1")])
    assert relay.received == b""
    assert (result.schema_sent, result.records, result.dropped_streams) == (False, 0, {"tasks"})


# --- tombstones ---------------------------------------------------------------------


def test_tombstones_are_kept_back_as_removed_keys(relay):
    deleted_at = "2026-01-02T03:04:05Z"
    result = relay.run([
        schema(tombstones=True),
        record(gid="1", name="a"),
        record(gid="2", **{pipeline.TOMBSTONE: deleted_at}),
        # the slow path's tombstone (the line is parsed)
        f'{{"stream": "{STAGE}", "type": "RECORD", "record": {{"gid": "3", "_sdc_deleted_at": "{deleted_at}"}}}}\n',
        record(gid="4", name="d", **{pipeline.TOMBSTONE: None}),   # not deleted: a row
        record(stream="tasks", gid="5", **{pipeline.TOMBSTONE: deleted_at}),  # another stream's
    ])
    assert result.removed_keys == ["2", "3"]
    assert result.records == 2
    assert result.dropped_streams == {"tasks"}
    relayed = [json.loads(line) for line in relay.received.splitlines()]
    assert [m["record"]["gid"] for m in relayed if m["type"] == "RECORD"] == ["1", "4"]


def test_a_tombstone_spaced_otherwise_is_kept_back_too(relay):
    line = f'{{"type": "RECORD", "stream": "{STAGE}", "record": {{"gid": "3", "_sdc_deleted_at": "2026-01-02"}}}}\n'
    result = relay.run([schema(tombstones=True), line])
    assert (result.removed_keys, result.records) == (["3"], 0)


def test_the_key_of_a_tombstone_is_the_schema_s_first_key_property(relay):
    gone_now = {pipeline.TOMBSTONE: "2026-01-02T03:04:05Z"}
    result = relay.run([
        record(gid="before any schema", **gone_now),        # gid until a SCHEMA says otherwise
        schema(key=("id", "gid"), tombstones=True),
        msg(type="RECORD", stream=STAGE, record={"id": 7, "gid": "x", **gone_now}),
        schema(key=(), tombstones=True),                    # no key: the last one stays
        msg(type="RECORD", stream=STAGE, record={"id": "8", **gone_now}),
        schema(stream="users", key=("email",)),             # another stream's: not ours
        msg(type="RECORD", stream=STAGE, record={"id": "9", "email": "e", **gone_now}),
    ])
    assert result.removed_keys == ["before any schema", "7", "8", "9"]


def test_the_schema_reaches_the_loader_without_the_tombstone_property(relay):
    """So no stage, and no table, ever has an _sdc_deleted_at column."""
    relay.run([schema(tombstones=True), record(gid="1")])
    first, second = relay.received.splitlines(keepends=True)
    assert first.endswith(b"\n") and second == record(gid="1").encode()
    want = json.loads(schema(tombstones=True))
    del want["schema"]["properties"][pipeline.TOMBSTONE]
    assert json.loads(first) == want
    assert StageView.of(relay.result).schema_sent


# --- counting, state, progress -----------------------------------------------------


def test_records_are_counted_for_the_summary_and_the_progress_line(relay):
    result = relay.run([schema(), *(record(gid=str(i)) for i in range(250)), state({"n": 1}),
                        record(gid="x"), state({"n": 2})])
    assert result.records == relay.progress.records == 251
    assert result.last_state == {"n": 2}


def test_a_run_of_several_tables_counts_each_on_the_progress_line(relay):
    other = "_omniload_stage_stories_x"
    relay.progress = Progress("log", "3 tables", io.StringIO(),
                              tables={STAGE: "tasks", "_omniload_stage_users_x": "users", other: "stories"})
    relay.run([schema(), schema(stream=other), *(record(gid=str(i)) for i in range(3)),
               *(record(stream=other, gid=f"s{i}") for i in range(1200))], stages=(STAGE, other))
    # users sent nothing (yet): not shown; the others in the run's table order
    assert relay.progress.text().startswith("3 tables: 1,203 records (tasks 3, stories 1,200), ")


def test_the_tap_s_progress_lines_feed_the_progress_line(relay):
    payload = {"stream": "tasks", "requests": 12, "rate_limit_waits": 1}
    relay.run([schema()], tap_stderr=f"PROGRESS {json.dumps(payload)}\nPROGRESS {{not json\n")
    assert relay.progress.tap == {"tasks": payload}
    assert "12 requests, 1 rate-limit waits" in relay.progress.text()


def test_requests_are_the_tap_s_totals_not_a_sum_over_its_streams(relay):
    # The tap reports its process's totals on every line, whichever stream
    # it is on: two streams' lines must not add up to twice the requests.
    lines = [{"stream": "tasks", "requests": 40, "rate_limit_waits": 1, "rate_limit_wait_seconds": 2.0},
             {"stream": "stories", "requests": 100, "rate_limit_waits": 1, "rate_limit_wait_seconds": 2.0}]
    relay.run([schema()], tap_stderr="".join(f"PROGRESS {json.dumps(p)}\n" for p in lines))
    assert "100 requests, 1 rate-limit waits (2.0 s)" in relay.progress.text()


# --- the token ----------------------------------------------------------------------


def test_the_tap_s_config_is_deleted_once_the_tap_has_written_a_line(relay, tmp_path):
    """The tap has read its config (with the token) when it writes: from then
    on, not even a SIGKILL of omniload can leave the token on disk."""
    config = tmp_path / "tap-config.json"
    config.write_text("{}")
    tap = r"""
import json, os, sys, time
path = sys.argv[1]
before = os.path.exists(path)
print(json.dumps({"type": "STATE", "value": {"before": before}}), flush=True)
deadline = time.monotonic() + 30
while os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.01)
print(json.dumps({"type": "STATE", "value": {"before": before, "gone": not os.path.exists(path)}}))
"""
    result = relay.run(tap_argv=[sys.executable, "-c", tap, str(config)], secret_files=(str(config),))
    assert result.last_state == {"before": True, "gone": True}


def test_the_children_get_the_environment_they_are_given(relay, monkeypatch):
    monkeypatch.setenv("OMNILOAD_TEST_ONLY_OURS", "x")
    tap = ("import json, os; print(json.dumps({'type': 'STATE', 'value': "
           "[os.environ.get('OMNILOAD_TEST_ONLY_OURS'), os.environ.get('GIVEN')]}))")
    result = relay.run(tap_argv=[sys.executable, "-c", tap], env={"GIVEN": "yes", "PATH": os.environ["PATH"]})
    assert result.last_state == [None, "yes"]


def test_child_env_leaves_out_whatever_carries_the_token(monkeypatch):
    monkeypatch.setenv("SOURCE_URI", "asana://1?access_token=elsewhere")
    monkeypatch.setenv("OMNILOAD_SOURCE_URI", "asana://1")
    monkeypatch.setenv("OMNILOAD_ARGV_FD", "5")
    monkeypatch.setenv("SOME_VAR", f"prefix {SECRET} suffix")
    monkeypatch.setenv("HARMLESS", "kept")
    env = pipeline.child_env(SECRET)
    assert not {"SOURCE_URI", "OMNILOAD_SOURCE_URI", "OMNILOAD_ARGV_FD", "SOME_VAR"} & set(env)
    assert env["HARMLESS"] == "kept" and env["PATH"] == os.environ["PATH"]


def test_a_config_in_memory_reaches_its_child_only_and_leaves_nothing_on_disk(relay, monkeypatch):
    private = PrivateDir()
    try:
        path = private.write_config("tap-config.json", {"access_token": SECRET})
        other = private.write_config("target-config.json", {"password": SECRET})
        assert path.startswith("/dev/fd/") and os.listdir(private.path) == [".alive"]
        # The tap reads its own (from the start, however often); the other is not open in it.
        tap = ("import json, os, sys\n"
               "first, again = json.load(open(sys.argv[1])), json.load(open(sys.argv[1]))\n"
               "held = []\n"
               "for n in os.listdir('/proc/self/fd'):\n"
               "    try: held.append(os.readlink(f'/proc/self/fd/{n}'))\n"
               "    except OSError: pass\n"
               "print(json.dumps({'type': 'STATE', 'value': [first, again, held]}))")
        relay.run(tap_argv=[sys.executable, "-c", tap, path])
        first, again, open_files = relay.result.last_state
        assert first == again == {"access_token": SECRET}
        assert not [f for f in open_files if "target-config" in f] and other != path
        monkeypatch.delattr(os, "memfd_create")      # a system without memfds: a private file
        fallback = private.write_config("fallback.json", {"k": 1})
        assert fallback == os.path.join(private.path, "fallback.json")
        assert oct(os.stat(fallback).st_mode & 0o777) == "0o600"
    finally:
        private.cleanup()


def test_child_log_lines_are_relayed_only_with_omniload_debug_and_scrubbed(relay, capfd, monkeypatch):
    lines = f"using {SECRET}\nPROGRESS {{\"stream\": \"tasks\"}}\n"
    relay.run([schema()], tap_stderr=lines, target_stderr="loaded\n")
    assert capfd.readouterr().err == ""
    monkeypatch.setenv("OMNILOAD_DEBUG", "1")
    relay.run([schema()], tap_stderr=lines, target_stderr="loaded\n")
    err = capfd.readouterr().err
    assert sorted(err.splitlines()) == ["[tap] using ***", "[target] loaded"]


# --- a failing tap -------------------------------------------------------------------


def test_a_failing_tap_is_reported_by_its_own_error_line_and_the_loader_stopped(relay):
    with pytest.raises(SourceError) as failure:
        relay.run([schema(), record(gid="1")], tap_exit=1, wait_for_target=True,
                  tap_stderr=f"INFO starting\ntap-asana: error: the access token {SECRET} was rejected\n"
                             "INFO cleaning up\n")
    assert failure.value.message == "the access token *** was rejected"
    assert failure.value.exit_code == 1
    # The loader, waiting for more input, was stopped; it never saw an end of input.
    assert wait_for(lambda: gone(relay.pid("target")), timeout=10)
    assert not relay.received_path.exists()


@pytest.mark.parametrize("stderr, shown", [
    ("INFO starting\nValueError: boom\nINFO bye\n", "ValueError: boom"),
    ("INFO starting\nINFO bye\n", "INFO bye"),
    ("INFO starting\nFatal: out of luck\nPROGRESS {\"stream\": \"tasks\"}\n", "Fatal: out of luck"),
    ("", "(no message)"),
])
def test_a_failing_tap_without_an_error_line_names_its_likeliest_line(relay, stderr, shown):
    with pytest.raises(SourceError) as failure:
        relay.run([], tap_stderr=stderr, tap_exit=3)
    assert failure.value.message == f"extracting from Asana failed (tap-asana exit 3): {shown}"


def test_a_tap_error_naming_allow_insecure_api_url_says_how_to_set_it(relay):
    line = "tap-asana: error: plain http to http://203.0.113.9 needs allow_insecure_api_url"
    with pytest.raises(SourceError) as failure:
        relay.run([], tap_stderr=line + "\n", tap_exit=1)
    assert failure.value.message == (
        "plain http to http://203.0.113.9 needs allow_insecure_api_url -- with omniload: "
        "OMNILOAD_TAP_SETTINGS='{\"allow_insecure_api_url\": true}' (only on a network you trust)")


def test_relayed_lines_lose_their_query_strings_and_their_length(relay):
    url = "https://app.asana.com/api/1.0/tasks?opt_fields=" + ",".join(["name"] * 400)
    with pytest.raises(SourceError) as failure:
        relay.run([], tap_stderr=f"something failed at {url} today\n", tap_exit=1)
    assert failure.value.message == (
        "extracting from Asana failed (tap-asana exit 1): something failed at "
        "https://app.asana.com/api/1.0/tasks?... today")
    assert pipeline.shorten("x" * 400) == "x" * 300 + "..."
    assert pipeline.shorten("GET /tasks/1/stories?limit=100&offset=abc failed") == "GET /tasks/1/stories?... failed"


# --- a failing loader ----------------------------------------------------------------


@pytest.mark.parametrize("stderr, message", [
    ("INFO loading\nCRITICAL cannot load batch\nINFO exiting\n",
     "loading into DuckDB failed (target-duckdb-omniload exit 1): CRITICAL cannot load batch; "
     "nothing was changed"),
    ("IOException: Could not set lock on file w.db\n",
     "the destination database was locked by another process while loading; close it and retry "
     "(nothing was changed)"),
    # The loader's own line, not SQLAlchemy's link after its traceback (nor the SQL).
    ("level=CRITICAL message=target-duckdb-omniload failed: InternalError: (psycopg.errors.ReadOnlySql"
     "Transaction) cannot execute CREATE TABLE in a read-only transaction [SQL: CREATE TABLE x (gid TEXT)] "
     "(Background on this error at: https://sqlalche.me/e/21/2j85)\nTraceback (most recent call last):\n"
     "sqlalchemy.exc.InternalError: (psycopg.errors.ReadOnlySqlTransaction) cannot execute CREATE TABLE\n"
     "(Background on this error at: https://sqlalche.me/e/21/2j85)\n",
     "loading into DuckDB failed (target-duckdb-omniload exit 1): InternalError: (psycopg.errors.ReadOnlySql"
     "Transaction) cannot execute CREATE TABLE in a read-only transaction; nothing was changed"),
    ("Traceback (most recent call last):\nValueError: no such column\n"
     "(Background on this error at: https://sqlalche.me/e/21/2j85)\n",
     "loading into DuckDB failed (target-duckdb-omniload exit 1): ValueError: no such column; nothing was changed"),
    ("OSError: [Errno 28] No space left on device\n",
     "loading into DuckDB failed (target-duckdb-omniload exit 1): OSError: [Errno 28] No space left on "
     "device; nothing was changed -- the disk is full (or a file size limit was hit): free space and retry"),
])
def test_a_failing_loader_is_reported(relay, stderr, message):
    with pytest.raises(LoadError) as failure:
        relay.run([schema(), record(gid="1")], target_stderr=stderr, target_exit=1)
    assert failure.value.message == message


# Sends records without end. With `after_the_loader`, a first burst of them
# first, then nothing until the loader is gone: the relay buffers what it
# forwards, so the burst is more than its buffer (the loader must see a whole
# line) and less than a pipe holds (the loader must not be gone before it all
# passed, or the relay would meet the broken pipe while the loader still exits).
ENDLESS_TAP = r"""
import json, os, sys, time
spec = json.load(open(sys.argv[1]))
open(spec["pid"], "w").write(str(os.getpid()))
line = json.dumps({"type": "RECORD", "stream": spec["stage"], "record": {"gid": "1"}}) + "\n"
if spec["after_the_loader"]:
    sys.stdout.write(line * (24_000 // len(line)))
    sys.stdout.flush()
    target = None
    while True:
        try:
            target = target or open(spec["target_pid"]).read()
            if target and "\nState:\tZ" in open(f"/proc/{target}/status").read():
                break
        except OSError:
            if target:
                break
        time.sleep(0.01)
while True:
    sys.stdout.write(line)
"""
# Reads one line, ends its input and, `linger` s later, exits.
SHORT_LIVED_TARGET = r"""
import json, os, sys, time
spec = json.load(open(sys.argv[1]))
open(spec["pid"], "w").write(str(os.getpid()))
sys.stdin.readline()
os.close(0)
time.sleep(spec["linger"])
sys.stderr.write("CRITICAL gave up\n")
sys.exit(2)
"""


def test_a_loader_that_dies_stops_the_tap(relay):
    """The loader is gone while the tap has more to send."""
    tap = relay.argv(ENDLESS_TAP, "tap", stage=STAGE, after_the_loader=True,
                     target_pid=str(relay.tmp_path / "target.pid"))
    with pytest.raises(LoadError, match=r"target-duckdb-omniload exit 2\): CRITICAL gave up; nothing was changed"):
        relay.run(tap_argv=tap, target_argv=relay.argv(SHORT_LIVED_TARGET, "target", linger=0))
    assert wait_for(lambda: gone(relay.pid("tap")), timeout=10)


@pytest.mark.slow
def test_a_loader_that_ends_its_input_before_it_exits_stops_the_tap_too(relay):
    """The loader closes its input, lingers, then fails: omniload must stop
    the tap (blocked writing to a pipe nobody reads) rather than wait for it.
    The watchdog only keeps a regression from hanging the suite: were it to
    fire, the tap's death would be reported instead of the loader's error."""
    done = threading.Event()

    def end_a_stuck_tap():
        wait_for(lambda: gone(relay.pid("target")), timeout=60)
        if not done.wait(2):
            os.kill(relay.pid("tap"), signal.SIGKILL)

    threading.Thread(target=end_a_stuck_tap, daemon=True).start()
    tap = relay.argv(ENDLESS_TAP, "tap", stage=STAGE, after_the_loader=False)
    try:
        with pytest.raises(LoadError, match=r"target-duckdb-omniload exit 2\): CRITICAL gave up"):
            relay.run(tap_argv=tap, target_argv=relay.argv(SHORT_LIVED_TARGET, "target", linger=3))
    finally:
        done.set()


# --- stopping the children ------------------------------------------------------------


def test_a_child_is_stopped_with_its_whole_process_group_sigkill_if_it_ignores_sigterm(relay, monkeypatch):
    """The tap fails; the loader ignores SIGTERM and has a child of its own:
    SIGTERM to the loader's group (its child goes), SIGKILL after the grace."""
    monkeypatch.setattr(pipeline, "_TERM_GRACE_S", 0.5)
    target = relay.argv(r"""
import json, os, signal, subprocess, sys
spec = json.load(open(sys.argv[1]))
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(spec["helper"], "w").write(str(helper.pid))
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(spec["pid"], "w").write(str(os.getpid()))
sys.stdin.buffer.read()
""", "target", helper=str(relay.tmp_path / "helper.pid"))
    started = time.monotonic()
    with pytest.raises(SourceError):
        relay.run([], tap_exit=1, wait_for_target=True, target_argv=target)
    assert time.monotonic() - started < 15
    assert gone(relay.pid("target"))
    assert wait_for(lambda: gone(int((relay.tmp_path / "helper.pid").read_text())), timeout=10)


def test_ctrl_c_during_the_relay_stops_both_children(relay):
    """A real SIGINT, sent by the tap to omniload (here: this process) while
    both children are busy: KeyboardInterrupt, and neither child outlives it."""
    tap = relay.argv(r"""
import json, os, signal, sys, time
spec = json.load(open(sys.argv[1]))
open(spec["pid"], "w").write(str(os.getpid()))
print(json.dumps({"type": "RECORD", "stream": spec["stage"], "record": {"gid": "1"}}), flush=True)
while not os.path.exists(spec["target_pid"]):
    time.sleep(0.01)
os.kill(os.getppid(), signal.SIGINT)
time.sleep(120)
""", "tap", stage=STAGE, target_pid=str(relay.tmp_path / "target.pid"))
    # Python's own handler, as omniload has: an in-process TapAsana of another
    # test may have left singer-sdk's in this process.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            relay.run(tap_argv=tap)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert wait_for(lambda: gone(relay.pid("tap")) and gone(relay.pid("target")), timeout=10)


def test_children_run_in_sessions_of_their_own_tied_to_omniload(relay, tmp_path):
    """Ctrl-C at the terminal reaches omniload alone (it then stops the
    children in order), and a child gets SIGTERM when omniload dies, even
    by SIGKILL."""
    report = r"""
import ctypes, json, os, sys
death_signal = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(death_signal))   # PR_GET_PDEATHSIG
about = {"own_session": os.getsid(0) == os.getpid(), "death_signal": death_signal.value}
open(sys.argv[1], "w").write(json.dumps(about))
if sys.argv[2:] == ["loader"]:
    sys.stdin.read()
"""
    tap_file, target_file = tmp_path / "tap.json", tmp_path / "target.json"
    relay.run(tap_argv=[sys.executable, "-c", report, str(tap_file)],
              target_argv=[sys.executable, "-c", report, str(target_file), "loader"])
    for about in (tap_file, target_file):
        assert json.loads(about.read_text()) == {"own_session": True, "death_signal": signal.SIGTERM}


def test_chatty_children_never_block_the_relay(relay):
    """Their stderr is read while the relay runs: megabytes of it hold nothing up."""
    noise = ("INFO " + "x" * 1000 + "\n") * 2000
    result = relay.run([schema(), record(gid="1")], tap_stderr=noise, target_stderr=noise)
    assert result.records == 1 and relay.received == (schema() + record(gid="1")).encode()


# --- discovery and the catalog ---------------------------------------------------------


def fake_tap(tmp_path, body: str) -> str:
    """An executable named like the tap whose --discover does what body says."""
    path = tmp_path / "tap-asana"
    path.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_discover_reads_the_catalog(tmp_path):
    tap = fake_tap(tmp_path, "assert sys.argv[1:] == ['--config', 'c.json', '--discover']\n"
                             "print('{\"streams\": [{\"tap_stream_id\": \"tasks\"}]}')")
    catalog = pipeline.discover(tap, "c.json", dict(os.environ), Scrubber(SECRET))
    assert catalog == {"streams": [{"tap_stream_id": "tasks"}]}


@pytest.mark.parametrize("body, message", [
    (f"sys.stderr.write('INFO x\\ntap-asana: error: token {SECRET} rejected\\nINFO y\\n'); sys.exit(1)",
     "token *** rejected"),
    ("sys.stderr.write('INFO x\\nsomething broke\\n'); sys.exit(4)",
     "tap-asana --discover failed (exit 4): something broke"),
    ("sys.exit(4)", "tap-asana --discover failed (exit 4): (no message)"),
    ("print('not a catalog')", "tap-asana --discover printed no valid catalog"),
    ("time.sleep(30)", "tap-asana --discover did not answer within 1 s"),
])
def test_a_failed_discovery_is_one_line(tmp_path, body, message):
    with pytest.raises(SourceError) as failure:
        pipeline.discover(fake_tap(tmp_path, body), "c.json", dict(os.environ), Scrubber(SECRET), timeout=1)
    assert failure.value.message == message


def test_select_streams_selects_exactly_those_streams():
    catalog = {"streams": [
        {"tap_stream_id": "tasks", "metadata": [{"breadcrumb": [], "metadata": {"selected": False}},
                                                {"breadcrumb": ["properties", "name"], "metadata": {}}]},
        {"tap_stream_id": "users"},                                    # no metadata at all
        {"stream": "stories", "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}]},
    ]}
    selected = pipeline.select_streams(catalog, ["tasks"])
    tops = {e.get("tap_stream_id", e.get("stream")): [m for m in e["metadata"] if m["breadcrumb"] == []]
            for e in selected["streams"]}
    assert tops == {"tasks": [{"breadcrumb": [], "metadata": {"selected": True}}],
                    "users": [{"breadcrumb": [], "metadata": {"selected": False}}],
                    "stories": [{"breadcrumb": [], "metadata": {"selected": False}}]}
    assert selected["streams"][0]["metadata"][1] == {"breadcrumb": ["properties", "name"], "metadata": {}}
    assert pipeline.select_streams(catalog, ["stories"])["streams"][2]["metadata"][0]["metadata"]["selected"]
    with pytest.raises(SourceError, match="tap-asana does not offer a stream named 'portfolios'"):
        pipeline.select_streams(catalog, ["tasks", "portfolios"])
