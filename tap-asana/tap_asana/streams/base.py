"""What every Asana stream shares: its generated schema and field list, the
run's client and shared listings, and the conversion of records to the schema."""

from __future__ import annotations

import json
import typing as t
from functools import cache, cached_property
from importlib import resources

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import RemoveRecordTransform

from tap_asana.streams.record_messages import LeanRecordMessages, lean_path_applies

if t.TYPE_CHECKING:
    from singer_sdk import singerlib as singer

    from tap_asana.http.client import AsanaClient
    from tap_asana.shared_listings import SharedListings
    from tap_asana.tap import TapAsana


TOMBSTONE_PROPERTY = {"type": ["null", "string"], "format": "date-time"}


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
    # to re-conform each record would be pure cost. Top-level conformance
    # still drops properties the schema doesn't declare. (Only used when a
    # stream map or nested deselection needs the SDK's path.)
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    # Streams that may emit tombstones: a record of only the primary key (and
    # for stories, the task) with `_sdc_deleted_at` set, for a row Asana no
    # longer has. Targets with hard deletes (target-duckdb's `hard_delete`,
    # omniload) remove the row; the property is declared so they see it.
    emits_tombstones: t.ClassVar[bool] = False

    def __init__(self, tap: TapAsana) -> None:
        schema = load_schema(self.name)
        if self.emits_tombstones:
            schema["properties"]["_sdc_deleted_at"] = TOMBSTONE_PROPERTY
        super().__init__(tap, schema=schema, name=self.name)
        self._tap_asana = tap

    @property
    def listings(self) -> SharedListings:
        return self._tap_asana.listings

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

    def _generate_record_messages(self, record: dict) -> t.Generator[singer.RecordMessage, None, None]:
        # See record_messages.py: the same messages, without the SDK's
        # per-record walk when nothing needs it.
        if self._lean_messages is None:
            return super()._generate_record_messages(record)
        return self._lean_messages.messages(record)

    @cached_property  # decided at the first record, once catalog and maps are final
    def _lean_messages(self) -> LeanRecordMessages | None:
        return LeanRecordMessages(self, self.logger) if lean_path_applies(self) else None

    @property
    def mapped_away(self) -> bool:
        """Mapped away entirely (`"stories": null` or `__NULL__`): every
        record would be dropped, so spare Asana the requests."""
        return bool(self.stream_maps) and all(isinstance(m, RemoveRecordTransform) for m in self.stream_maps)

    def first_requests(self) -> list[tuple[str, dict]]:
        """The requests this stream starts with that need nothing but the
        config, so the run can send them all at once (first_pages.py)."""
        return []

    def first_request_for_task(self, workspace_gid: str, task_gid: str) -> tuple[str, dict] | None:
        """This stream's first request for a task that the run's task listing
        has just listed, if this run will make it (see SharedListings.read_ahead)."""
        return None

    def get_records(self, context: t.Mapping[str, t.Any] | None) -> t.Iterable[dict]:
        if self.mapped_away:
            self.logger.info("%s is mapped away by stream_maps: not extracted", self.name)
            return
        progress = self._tap_asana.progress
        progress.start_stream(self.name)
        for record in self.records():
            if record.get("_sdc_deleted_at") and not self._tombstones_declared:
                continue
            progress.record()
            yield record
        version = self._stream_version
        if version is not None and self.replication_method == "FULL_TABLE" \
                and self.emit_activate_version_messages:
            # singer-sdk sends ACTIVATE_VERSION before a full-table extract
            # only; the same version again after its last record tells a
            # target the extract is complete (a tap that died half-way never
            # sends it), so only then may it drop the rows not re-sent.
            self._write_activate_version_message(version)

    @cached_property
    def _tombstones_declared(self) -> bool:
        """A catalog from before tombstones (or one that deselects the marker)
        would strip `_sdc_deleted_at` and turn a tombstone into an upsert of an
        empty row: then removals are not sent at all."""
        declared = "_sdc_deleted_at" in self.effective_schema.get("properties", {})
        if not declared or not self.mask.get(("properties", "_sdc_deleted_at"), True):
            self.logger.warning(
                "the catalog of %s lacks _sdc_deleted_at: rows Asana no longer has are not "
                "removed; run --discover for a current catalog", self.name)
            return False
        return True

    def records(self) -> t.Iterable[dict]:
        raise NotImplementedError
