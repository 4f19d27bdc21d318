"""tap-asana/README.md documents exactly the settings and streams the tap reports.

Every setting `tap-asana --about` lists has a row in a table of the README's
"Settings" section, with the type and default --about gives; every stream
`--discover` lists (--about lists none) has a row in "Streams", with its key
and replication. No row names a setting or stream the tap doesn't have.
"Layout" names every module of the package.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.tap.support import discovered_catalog

README = Path(__file__).resolve().parents[2] / "tap-asana" / "README.md"


def _about() -> dict:
    return json.loads(subprocess.run(
        [sys.executable, "-m", "tap_asana", "--about", "--format=json"],
        capture_output=True, text=True, check=True).stdout)


def _rows(section: str) -> dict[str, list[str]]:
    """The rows, whose first cell is one `name`, of the tables between
    `## section` and the next heading."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n") + 1
    end = re.compile(r"^#", re.M).search(text, start + 1)
    rows: dict[str, list[str]] = {}
    for line in text[start:end.start() if end else None].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        name = re.fullmatch(r"`(\w+)`", cells[0]) if line.startswith("| `") else None
        if name:
            assert name[1] not in rows, f"{name[1]} has two rows in {section}"
            rows[name[1]] = cells[1:]
    return rows


def _type(prop: dict) -> str:
    kind = next(t for t in prop["type"] if t != "null")
    if "format" in prop:
        kind += f" ({prop['format']})"
    if "minimum" in prop and "maximum" in prop:
        kind += f" {prop['minimum']}..{prop['maximum']}"
    elif "minimum" in prop:
        kind += f" ≥ {prop['minimum']}"
    if prop.get("secret"):
        kind += ", secret"
    return kind


def _default(name: str, prop: dict, required: list[str]) -> str:
    if name in required:
        return "required"
    if "default" not in prop:
        return "–"
    value = prop["default"]
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


def test_every_setting_has_its_row_with_type_and_default():
    settings = _about()["settings"]
    rows = _rows("Settings")
    assert set(rows) == set(settings["properties"])
    for name, prop in settings["properties"].items():
        type_cell, default_cell, what = rows[name][:3]
        assert (type_cell, default_cell) == (_type(prop), _default(name, prop, settings.get("required", []))), name
        assert what, f"{name} has no description"


def test_every_stream_has_its_row_with_key_and_replication():
    streams = json.loads(discovered_catalog())["streams"]
    rows = _rows("Streams")
    assert set(rows) == {s["tap_stream_id"] for s in streams}
    for stream in streams:
        key_cell, replication_cell = rows[stream["tap_stream_id"]][:2]
        assert key_cell == ", ".join(f"`{k}`" for k in stream["key_properties"])
        if stream["replication_method"] == "INCREMENTAL":
            assert replication_cell == f"incremental (`{stream['replication_key']}`)"
        else:
            assert replication_cell == "full table"


def test_the_layout_names_every_module():
    text = README.read_text()
    start = text.index("\n## Layout\n")
    layout = text[start:text.index("\n## ", start + 1)]
    streams = {s["tap_stream_id"] for s in json.loads(discovered_catalog())["streams"]}
    package = README.parent / "tap_asana"
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py" or (path.parent.name == "streams" and path.stem in streams):
            continue   # the stream modules have one row: `tap_asana/streams/<stream>.py`
        name = path.relative_to(README.parent).as_posix()
        assert f"`{name}`" in layout or f"`{path.name}`" in layout, f"{name} is not in the README's layout"
