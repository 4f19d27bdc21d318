"""The tests' list of tables (tests/expected.TABLES) is the one omniload and
the tap offer, in the same order: the tests then cover every table."""

from __future__ import annotations

from omniload_cli.tables import TABLES as OMNILOAD_TABLES
from tap_asana.streams import ALL_STREAMS
from tests.expected import TABLES


def test_omniload_and_the_tap_offer_exactly_these_tables():
    assert tuple(OMNILOAD_TABLES) == TABLES
    assert tuple(stream.name for stream in ALL_STREAMS) == TABLES
