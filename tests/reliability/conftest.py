"""Fixtures for the reliability tests: ./omniload end to end under faults,
kills, full disks, locks, hostile input (see the README's guarantees)."""

from tests.omniload.conftest import omniload_ready  # noqa: F401 - ./omniload setup once
