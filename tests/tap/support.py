"""Run the real `tap-asana` against the bundled Asana simulator over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

TOKEN = "tap-test-token-5f2a"


def base_config(sim, **overrides) -> dict:
    config = {
        "access_token": TOKEN,
        "api_url": sim.api_url,
        "workspace_gid": sim.org_workspace_gid,
        "concurrency": 4,
        "max_tries": 6,
    }
    config.update(overrides)
    return config


@dataclass
class TapRun:
    returncode: int
    stderr: str
    messages: list[dict] = field(default_factory=list)

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def gids(self, stream: str) -> list[str]:
        return [r["gid"] for r in self.records(stream)]

    def schemas(self, stream: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream]

    @property
    def final_state(self) -> dict:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}


@cache
def discovered_catalog() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tap_asana", "--discover", "--config", "ENV"],
        env={"TAP_ASANA_ACCESS_TOKEN": "unused", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out


def catalog_for(streams: list[str]) -> dict:
    catalog = json.loads(discovered_catalog())
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def run_tap(tmp_path: Path, config: dict, streams=None, state=None, timeout=300,
            catalog: dict | None = None) -> TapRun:
    """One `tap-asana` process, as a user or orchestrator would run it
    (`catalog`: a hand-made catalog instead of the one selecting `streams`)."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    args = [sys.executable, "-m", "tap_asana", "--config", str(config_file)]
    if catalog is None and streams is not None:
        catalog = catalog_for(streams)
    if catalog is not None:
        catalog_file = tmp_path / "catalog.json"
        catalog_file.write_text(json.dumps(catalog))
        args += ["--catalog", str(catalog_file)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        args += ["--state", str(state_file)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return TapRun(done.returncode, done.stderr, messages)


def bookmark(state: dict) -> str | None:
    return state.get("bookmarks", {}).get("tasks", {}).get("replication_key_value")


SCHEMA_DIR = Path(__file__).resolve().parents[2] / "tap-asana" / "tap_asana" / "schemas"
