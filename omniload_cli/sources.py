"""Where omniload finds the programs it runs, and where it keeps its files.

omniload drives programs that live in environments of their own: the tap
(tap-asana/), a loader per kind of destination (target-duckdb-omniload/,
target-postgres-omniload/) and, for `demo`, the Asana simulator
(asana-simulator/).  Run from a clone (./omniload, or an
editable install) their sources are the clone's own directories beside
omniload_cli/; an installed wheel carries copies of them under
omniload_cli/_bundled/.
"""

from __future__ import annotations

import os
from pathlib import Path

from omniload_cli.errors import OmniloadError

_PACKAGE = Path(__file__).resolve().parent
_PROJECTS = ("tap-asana", "target-duckdb-omniload", "target-postgres-omniload", "asana-simulator")


def _holds_projects(root: Path) -> bool:
    return all((root / name / "pyproject.toml").is_file() for name in _PROJECTS)


def in_clone() -> bool:
    """omniload runs from a clone of its repository (not an installed copy)."""
    return _holds_projects(_PACKAGE.parent)


def root() -> Path:
    """The directory holding tap-asana/, the loaders and asana-simulator/."""
    for candidate in (_PACKAGE.parent, _PACKAGE / "_bundled"):
        if _holds_projects(candidate):
            return candidate
    raise OmniloadError(f"omniload's bundled programs are missing (looked beside {_PACKAGE}); "
                        f"reinstall omniload")


def tap_dir() -> Path:
    return root() / "tap-asana"


def target_dir(project: str = "target-duckdb-omniload") -> Path:
    """A loader's project directory."""
    return root() / project


def simulator_dir() -> Path:
    return root() / "asana-simulator"


def home() -> Path:
    """omniload's own files: environments, the catalog cache, run scratch.

    OMNILOAD_HOME if set; in a clone its .omniload/ (what README's commands
    create); otherwise the user's data directory.
    """
    configured = os.environ.get("OMNILOAD_HOME")
    if configured:
        return Path(configured)
    if in_clone():
        return _PACKAGE.parent / ".omniload"
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "omniload"
