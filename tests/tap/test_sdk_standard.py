"""singer-sdk's own standard tap tests, against the simulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from asana_simulator import Simulator, WorkspaceSpec
from tap_asana.tap import TapAsana
from tests.tap.support import TOKEN

# The generated test class needs its config at import time.
_sim = Simulator(WorkspaceSpec(projects=2, tasks_per_project=4, seed=2), token=TOKEN)
_sim.start()
atexit.register(_sim.stop)

TestTapAsana = get_tap_test_class(
    TapAsana,
    config={
        "access_token": TOKEN,
        "api_url": _sim.api_url,
        "workspace_gid": _sim.org_workspace_gid,
    },
    suite_config=SuiteConfig(max_records_limit=500),
)
