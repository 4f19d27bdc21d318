"""The discovered catalog is reused until the tap's code or schemas change."""

from __future__ import annotations

import shutil

from omniload_cli import catalog_cache


def test_discovers_once_then_reuses(tmp_path):
    calls = []

    def discover():
        calls.append(1)
        return {"streams": [{"tap_stream_id": "tasks"}]}

    first = catalog_cache.cached_discover("/bin/tap-asana", str(tmp_path), discover)
    second = catalog_cache.cached_discover("/bin/tap-asana", str(tmp_path), discover)
    assert first == second == {"streams": [{"tap_stream_id": "tasks"}]}
    assert len(calls) == 1


def test_a_changed_schema_is_rediscovered(tmp_path, monkeypatch):
    package = tmp_path / "tap_asana"
    shutil.copytree(catalog_cache.TAP_PACKAGE / "schemas", package / "schemas")
    monkeypatch.setattr(catalog_cache, "TAP_PACKAGE", package)
    versions = iter(({"v": 1}, {"v": 2}))
    home = str(tmp_path / "home")
    assert catalog_cache.cached_discover("tap", home, lambda: next(versions)) == {"v": 1}
    schema = package / "schemas" / "tasks.json"
    schema.write_text(schema.read_text().replace('"gid"', '"gid" ', 1))
    assert catalog_cache.cached_discover("tap", home, lambda: next(versions)) == {"v": 2}


def test_an_unreadable_cache_costs_only_time(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalogs").write_text("not a directory")
    result = catalog_cache.cached_discover("tap", str(home), lambda: {"ok": True})
    assert result == {"ok": True}
