"""tap-asana: a Singer tap for Asana, built on singer-sdk."""

from tap_asana.tap import TapAsana

__all__ = ["TapAsana"]
