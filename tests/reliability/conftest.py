"""Fixtures for the reliability tests: ./omniload end to end under faults,
kills, full disks, locks, hostile input (see the README's guarantees)."""

from __future__ import annotations

import pytest

from tests.omniload.support import make_sim


@pytest.fixture(scope="module")
def sim(request):
    """One simulator per test module, make_sim(**SIM_SPEC) with the module's
    SIM_SPEC (make_sim's defaults if it has none)."""
    simulator = make_sim(**getattr(request.module, "SIM_SPEC", {}))
    yield simulator
    simulator.stop()
