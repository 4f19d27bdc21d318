"""The run lock itself: one holder per database file, however it is named."""

from __future__ import annotations

import pytest

from omniload_cli.destinations.duckdb.run_lock import RunLock
from omniload_cli.errors import DestinationError


def test_a_symlink_to_the_file_shares_its_lock(tmp_path):
    real = tmp_path / "work.db"
    real.write_bytes(b"")
    link = tmp_path / "alias.db"
    link.symlink_to(real)
    with RunLock(str(real), "duckdb://./work.db"), \
            pytest.raises(DestinationError, match="is using duckdb://./alias.db"):
        RunLock(str(link), "duckdb://./alias.db", timeout_s=0).acquire()
    with RunLock(str(link), "duckdb://./alias.db", timeout_s=0):
        pass
