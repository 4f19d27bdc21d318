from tests.tap.support import sim  # noqa: F401 - a fixture for every tap test
