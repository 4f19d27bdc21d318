"""The target class: upstream's, with our sink (and so our connector)."""

from __future__ import annotations

from target_postgres.target import TargetPostgres

from target_postgres_omniload.sink import OmniloadSink


class TargetPostgresOmniload(TargetPostgres):
    # Same name as upstream: settings keep reading TARGET_POSTGRES_* variables.
    name = "target-postgres"
    default_sink_class = OmniloadSink
