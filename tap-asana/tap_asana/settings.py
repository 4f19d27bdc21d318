"""The tap's settings (each also readable from TAP_ASANA_* environment variables)."""

from __future__ import annotations

from singer_sdk import typing as th

DEFAULT_API_URL = "https://app.asana.com/api/1.0"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "access_token",
        th.StringType,
        required=True,
        secret=True,
        description="Asana personal access token, sent as `Authorization: Bearer`.",
    ),
    th.Property(
        "workspace_gid",
        th.StringType,
        description="Extract only this workspace; without it, every workspace the token sees.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="The first run extracts tasks modified since then.",
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="Emit only tasks modified at or before this instant (a backfill window).",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        description="Asana API base URL; tests point it at the bundled simulator.",
    ),
    th.Property(
        "allow_insecure_api_url",
        th.BooleanType,
        default=False,
        description="Allow a plain-http api_url outside loopback (sends the token in clear text).",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=100),
        default=100,
        description="Records per page (`limit`), 1..100; Asana's maximum is the cheapest.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=120,
        description="Seconds to wait for one response before retrying it.",
    ),
    th.Property(
        "concurrency",
        th.IntegerType(minimum=1, maximum=50),
        default=25,
        description=(
            "Requests in flight at once. Asana allows 50 per token: half of it "
            "leaves room for a second job on the same token."
        ),
    ),
    th.Property(
        "requests_per_minute",
        th.IntegerType(minimum=1),
        default=1500,
        description=(
            "Per-minute quota to pace to: 1500 on paid plans, 150 on free ones. "
            "Lowered automatically when Asana answers 429."
        ),
    ),
    th.Property(
        "max_tries",
        th.IntegerType(minimum=1),
        default=8,
        description="Attempts per request before a transient failure stops the run.",
    ),
    th.Property(
        "stories_incremental",
        th.BooleanType,
        default=False,
        description=(
            "Fetch stories only for tasks whose modified_at moved since the previous "
            "run, with tombstones for removed stories (load with merge on gid and "
            "hard deletes); off: every task's stories, every run."
        ),
    ),
    th.Property(
        "subtasks_reconcile_hours",
        th.NumberType(minimum=0),
        default=24,
        description=(
            "Subtasks: hours between full walks of every task's subtasks, the safety net "
            "for the project events recurring runs follow (which Asana may drop); "
            "0 walks every run and reads no events."
        ),
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=False,
        description=(
            "Send ACTIVATE_VERSION before each full-table stream (every stream but "
            "tasks, and stories when incremental), so a target that honours it "
            "removes the rows Asana no longer has."
        ),
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType,
        default=0,
        description="When > 0, write a `PROGRESS {json}` line to stderr this often.",
    ),
).to_dict()
