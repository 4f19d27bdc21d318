"""Listings over real HTTP: each record once, and every listing ends."""

from __future__ import annotations

import pytest

from asana_simulator import Simulator, WorkspaceSpec
from tap_asana.http.client import AsanaClient
from tap_asana.http.errors import EndlessListing
from tap_asana.http.pagination import paginate
from tap_asana.http.rate_limiter import RateLimiter
from tests.tap.support import TOKEN

SPEC = WorkspaceSpec(projects=1, tasks_per_project=2, users=120, seed=4)


@pytest.fixture
def listing():
    with Simulator(SPEC, token=TOKEN) as sim:
        client = AsanaClient(
            api_url=sim.api_url,
            access_token=TOKEN,
            limiter=RateLimiter(None, 1),
            request_timeout=10,
            max_tries=2,
            user_agent="test",
        )
        params = {"workspace": sim.org_workspace_gid}

        def users(**kwargs):
            return [u["gid"] for u in paginate(client, "/users", params=params, **kwargs)]

        yield sim, users
        client.close()


def test_a_restarted_listing_may_re_read_every_page_it_had_read(listing):
    """After an expired offset, the pages already read come back with nothing
    new: that is catching up, not going in circles."""
    sim, users = listing
    everyone = sorted(sim.store.gids("users", sim.org_workspace_gid))
    sim.expire_offsets_after(requests=20)  # 19 of 24 pages read, then a restart
    assert sorted(users(page_size=5)) == everyone
    assert sim.request_count(status=400) == 1


def test_a_listing_past_any_plausible_size_stops(listing):
    _, users = listing
    with pytest.raises(EndlessListing, match=r"/users kept listing past 50 records"):
        users(page_size=10, max_records=50)


def test_repeated_offsets_are_caught_on_the_first_repeat(listing):
    sim, users = listing
    sim.faults.break_pagination("/users", "repeat")
    with pytest.raises(EndlessListing, match="already given"):
        users(page_size=10)
    assert sim.request_count() == 2
