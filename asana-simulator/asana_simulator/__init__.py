"""A seeded, deterministic simulator of the Asana REST API (read endpoints)."""
from .faults import KINDS as FAULT_KINDS
from .generator import WorkspaceSpec
from .server import Simulator
from .store import Store

__all__ = ["Simulator", "WorkspaceSpec", "Store", "FAULT_KINDS"]
