"""What every Asana stream shares: its generated schema and field list, the
run's client and directory, and the conversion of records to the schema."""

from __future__ import annotations

import json
import typing as t
from functools import cache
from importlib import resources

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

if t.TYPE_CHECKING:
    from tap_asana.directory import Directory
    from tap_asana.http.client import AsanaClient
    from tap_asana.tap import TapAsana


@cache
def _opt_fields() -> dict[str, list[str]]:
    return json.loads(resources.files("tap_asana.schemas").joinpath("opt_fields.json").read_text())


def load_schema(stream_name: str) -> dict:
    """The JSON schema generated from Asana's OpenAPI spec (tools/generate_from_oas.py)."""
    return json.loads(
        resources.files("tap_asana.schemas").joinpath(f"{stream_name}.json").read_text()
    )


class AsanaStream(Stream):
    """A full-table stream whose records come from `records()`."""

    primary_keys: t.ClassVar[list[str]] = ["gid"]
    # Asana's JSON already has the schema's types (the schema is generated
    # from Asana's spec), so walking every nested custom field and membership
    # to re-conform it costs most of the tap's CPU for nothing. Top-level
    # conformance still drops properties the schema doesn't declare.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, tap: TapAsana) -> None:
        super().__init__(tap, schema=load_schema(self.name), name=self.name)
        self._tap_asana = tap

    @property
    def directory(self) -> Directory:
        return self._tap_asana.directory

    @property
    def client(self) -> AsanaClient:
        return self._tap_asana.client

    @property
    def concurrency(self) -> int:
        return int(self.config["concurrency"])

    @property
    def opt_fields(self) -> list[str]:
        """Every documented field of the resource the catalog still selects.

        Deselecting a property in the catalog stops it being requested at all,
        which keeps Asana's cost limiter happy on big workspaces.
        """
        fields = _opt_fields()[self.name]
        return [f for f in fields if self._selected(f.split(".", 1)[0])]

    def _selected(self, top_level_property: str) -> bool:
        if top_level_property not in self.schema["properties"]:
            return True
        return self.mask.get(("properties", top_level_property), True)

    def get_records(self, context: dict | None) -> t.Iterable[dict]:
        progress = self._tap_asana.progress
        progress.start_stream(self.name)
        for record in self.records():
            progress.record()
            yield record

    def records(self) -> t.Iterable[dict]:
        raise NotImplementedError
