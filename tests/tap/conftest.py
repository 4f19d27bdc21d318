"""Fixtures for the tap tests: the real tap-asana against the simulator."""

from __future__ import annotations

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tests.tap.support import TOKEN

SPEC = WorkspaceSpec(projects=4, tasks_per_project=7, users=120, seed=11)


@pytest.fixture(scope="module")
def sim():
    """One simulated workspace per test module (a module may define its own)."""
    simulator = Simulator(SPEC, token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()
