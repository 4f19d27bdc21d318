"""The sink: upstream's, with tombstones deleted under `hard_delete`, and
ACTIVATE_VERSION acted on only once the extract is complete.

A full-table extract is framed by ACTIVATE_VERSION: singer-sdk taps send one
before the first record, and tap-asana (like singer-io's taps) the same
version again after the last.  Upstream acts on every one: the opening
message already deletes (or marks deleted) every row of an older version,
so the table is empty while the extract loads batch by batch, and stays
partial if the run dies.  Here the first message of a version only opens
it; the next one with the same version -- the extract is complete -- does
what upstream does.  A run that dies before it changes nothing of what was
there; an extract that never closes its version deletes nothing.

A Singer tap says "this row is gone" with a record of only its key and
`_sdc_deleted_at` set (tap-asana does, for tasks Asana no longer has and,
with `stories_incremental`, for deleted stories).  Upstream upserts such a
record like any other: the row stays, every column NULL but the key and
`_sdc_deleted_at`.  With `hard_delete` on, the row is deleted instead, in
the batch's transaction; without it, upstream's soft delete stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy
from target_postgres.sinks import PostgresSink

from target_postgres_omniload.connector import OmniloadConnector

TOMBSTONE = "_sdc_deleted_at"


class OmniloadSink(PostgresSink):
    connector_class = OmniloadConnector

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened_version: int | None = None

    def activate_version(self, new_version: int) -> None:   # row p4
        if self._opened_version != new_version:
            self._opened_version = new_version      # the extract of this version starts
            return
        super().activate_version(new_version)       # ... and is complete

    def upsert(self, from_table: sqlalchemy.Table, to_table: sqlalchemy.Table, schema: dict[str, Any],
               join_keys: Sequence[str], connection: sqlalchemy.engine.Connection) -> int | None:   # row p6
        """The batch (from_table, keys unique) into the table: UPDATE the rows
        whose key is there already, then INSERT the others -- each row written
        once (upstream inserts first, then updates every row of the batch,
        the ones it has just inserted included)."""
        if self.append_only:
            return super().upsert(from_table, to_table, schema, join_keys, connection)
        matches = sqlalchemy.and_(*(from_table.c[k] == to_table.c[k] for k in join_keys))
        values = {to_table.c[c]: from_table.c[c] for c in self.schema["properties"] if c not in join_keys}
        if values:
            connection.execute(sqlalchemy.update(to_table).where(matches).values(values))
        new_rows = sqlalchemy.select(*from_table.columns).where(
            ~sqlalchemy.exists().where(matches))
        connection.execute(sqlalchemy.insert(to_table).from_select(list(from_table.columns.keys()), new_rows))
        return None

    def process_batch(self, context: dict[str, Any]) -> None:   # row p3
        if not (self.config.get("hard_delete") and self.key_properties):
            super().process_batch(context)
            return
        # The last record of a key decides (upstream keeps the last one too).
        last: dict[tuple, dict] = {}
        for record in context["records"]:
            last[tuple(record.get(k) for k in self.key_properties)] = record
        gone = [key for key, record in last.items() if record.get(TOMBSTONE)]
        live = [record for record in last.values() if not record.get(TOMBSTONE)]
        if live or not gone:
            super().process_batch({**context, "records": live})
        if gone and self.connector.table_exists(self.full_table_name):
            self._delete(gone)

    def _delete(self, keys: list[tuple]) -> None:
        columns = [sqlalchemy.Column(k) for k in self.key_properties]
        table = sqlalchemy.Table(self.table_name, sqlalchemy.MetaData(), *columns, schema=self.schema_name)
        with self.connector._connect() as connection, connection.begin():
            for chunk in range(0, len(keys), 1000):
                part = keys[chunk:chunk + 1000]
                if len(self.key_properties) == 1:
                    where = table.c[self.key_properties[0]].in_([k[0] for k in part])
                else:
                    where = sqlalchemy.tuple_(*table.c).in_(part)
                connection.execute(sqlalchemy.delete(table).where(where))
