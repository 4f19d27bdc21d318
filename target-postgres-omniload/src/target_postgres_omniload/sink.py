"""The sink: upstream's, with tombstones deleted under `hard_delete`.

A Singer tap says "this row is gone" with a record of only its key and
`_sdc_deleted_at` set (tap-asana does, for tasks Asana no longer has and,
with `stories_incremental`, for deleted stories).  Upstream upserts such a
record like any other: the row stays, every column NULL but the key and
`_sdc_deleted_at`.  With `hard_delete` on, the row is deleted instead, in
the batch's transaction; without it, upstream's soft delete stands.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from target_postgres.sinks import PostgresSink

from target_postgres_omniload.connector import OmniloadConnector

TOMBSTONE = "_sdc_deleted_at"


class OmniloadSink(PostgresSink):
    connector_class = OmniloadConnector

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
