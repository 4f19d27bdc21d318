"""The tap's lean RECORD path (tap_asana/streams/record_messages.py) emits what
singer-sdk's own per-record path would, and hands over to it whenever a run
asks for more than the lean path does."""

from __future__ import annotations

import hashlib
import inspect
import logging

from singer_sdk import Stream
from singer_sdk.helpers import _typing
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.mapper import SameRecordTransform, StreamMap
from singer_sdk.singerlib import SelectionMask

from tap_asana.tap import TapAsana
from tests.expected import TABLES
from tests.tap.support import TOKEN, base_config, catalog_for, run_tap

# The singer-sdk 0.54.9 code the lean path stands in for. If singer-sdk
# changes it, re-read record_messages.py against the new code, then update.
SDK_SOURCES = {
    Stream._generate_record_messages:
        "9b5f9fbcdedb7a1aec5673a44f51fd9bd88840f19f0fb29cba9953b9d9095bfe",
    pop_deselected_record_properties:
        "e69d4428c03eced1b4cdc2d49a8201c2e1b13ec870b5cbea819c90e9307038d1",
    _typing.conform_record_data_types:
        "96b068101790b7de5de91c2427907fe9a027f696ae02c79b53f65f15f3404899",
    _typing._conform_record_data_types:
        "89eb2e7c81e8c3fcb0a3936d1d0aa04705cef250658af3a8991255cef73c86ee",
    _typing._conform_primitive_property:
        "3123b5e582dce2bf9ef86acf6c9d4cbd48974faa4a772f736b2026b16fe0b60a",
    SelectionMask.__missing__:
        "cb93479806bbcdf83791d534490596518df3efda99cb0c62cf79e6932d76957d",
    Stream.effective_schema.fget:
        "09877c311ef20b8be7662fd22d9976cc2261ab11dbda90118952dc02e7fc29e2",
    SameRecordTransform.transform:
        "db46d82cacfd5593cfc76f63521added9f53b974413f29ae0820f2cee718c7af",
    StreamMap.flatten_record:
        "ccb0ee05e2c2b8600293fe4af8668305249024c9b0aa115d1105594ed4c474e0",
}


def without_time_extracted(run):
    return [{k: v for k, v in m.items() if k != "time_extracted"}
            for m in run.messages if m["type"] == "RECORD"]


def by_stream_and_gid(messages):
    return sorted(messages, key=lambda m: (m["stream"], m["record"]["gid"]))


def test_sdk_code_the_lean_path_mirrors_is_unchanged():
    for obj, expected in SDK_SOURCES.items():
        actual = hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
        assert actual == expected, f"singer-sdk's {obj.__qualname__} changed: re-check record_messages.py"


def test_lean_and_sdk_paths_emit_the_same_records(sim, tmp_path):
    """An identity stream map on every stream sends the run down singer-sdk's
    own path: the records must be exactly those of the lean path."""
    for name in ("lean", "sdk"):
        (tmp_path / name).mkdir()
    lean = run_tap(tmp_path / "lean", base_config(sim), streams=TABLES)
    identity_maps = {stream: {} for stream in TABLES}
    sdk = run_tap(tmp_path / "sdk", base_config(sim, stream_maps=identity_maps), streams=TABLES)
    assert lean.returncode == 0 and sdk.returncode == 0, (lean.stderr[-2000:], sdk.stderr[-2000:])
    assert {m["stream"] for m in without_time_extracted(lean)} == set(TABLES)
    assert by_stream_and_gid(without_time_extracted(lean)) == \
        by_stream_and_gid(without_time_extracted(sdk))
    assert all("time_extracted" in m for m in lean.messages if m["type"] == "RECORD")


def test_a_catalog_schema_without_a_property_drops_it_on_both_paths(sim, tmp_path):
    """A user's catalog may narrow a stream's schema (Meltano `schema:`
    overrides): records must then match that schema, as on singer-sdk's path."""
    catalog = catalog_for(["tasks"])
    tasks = next(e for e in catalog["streams"] if e["tap_stream_id"] == "tasks")
    del tasks["schema"]["properties"]["notes"]
    runs = {}
    for name, extra in (("lean", {}), ("sdk", {"stream_maps": {"tasks": {}}})):
        (tmp_path / name).mkdir()
        runs[name] = run_tap(tmp_path / name, base_config(sim, **extra), catalog=catalog)
        assert runs[name].returncode == 0, runs[name].stderr[-2000:]
    lean, sdk = (without_time_extracted(runs[n]) for n in ("lean", "sdk"))
    assert lean and all("notes" not in m["record"] and "name" in m["record"] for m in lean)
    assert by_stream_and_gid(lean) == by_stream_and_gid(sdk)


def test_a_nested_property_deselected_in_the_catalog_is_removed(sim, tmp_path):
    catalog = catalog_for(["tasks"])
    tasks = next(e for e in catalog["streams"] if e["tap_stream_id"] == "tasks")
    tasks["metadata"].append({
        "breadcrumb": ["properties", "assignee", "properties", "name"],
        "metadata": {"selected": False},
    })
    tap = TapAsana(config=base_config(sim), catalog=catalog, setup_mapper=True)
    stream = tap.streams["tasks"]
    assert stream._lean_messages is None  # the SDK's path handles nested selection
    messages = list(stream._generate_record_messages(
        {"gid": "1", "name": "t", "assignee": {"gid": "2", "name": "someone"}}))
    assert [m.record for m in messages] == [{"gid": "1", "name": "t", "assignee": {"gid": "2"}}]


def test_undeclared_and_deselected_properties_are_dropped_with_one_warning(sim, caplog):
    catalog = catalog_for(["tasks"])
    tasks = next(e for e in catalog["streams"] if e["tap_stream_id"] == "tasks")
    tasks["metadata"].append({"breadcrumb": ["properties", "notes"], "metadata": {"selected": False}})
    tap = TapAsana(config=base_config(sim), catalog=catalog, setup_mapper=True)
    stream = tap.streams["tasks"]
    assert stream._lean_messages is not None
    with caplog.at_level(logging.WARNING):
        for gid in ("1", "2", "3"):
            (message,) = stream._generate_record_messages(
                {"gid": gid, "name": "t", "notes": "n", "brand_new_field": 1})
            assert message.record == {"gid": gid, "name": "t"}
            assert message.stream == "tasks" and message.time_extracted is not None
    warnings = [r for r in caplog.records if "brand_new_field" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert TOKEN not in caplog.text
