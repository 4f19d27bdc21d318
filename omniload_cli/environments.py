"""The tap's and the loaders' environments: built on first use, rebuilt when stale.

tap-asana (singer-sdk), target-duckdb-omniload (target-duckdb, which pins
old singer-python libraries) and target-postgres-omniload (target-postgres,
on another singer-sdk pin) cannot share one environment, and none shares
omniload's.  A run builds the tap's and its destination's loader's;
`omniload setup` builds them all.  Each gets a virtualenv under <home>/envs/, installed with its
lock file as constraints, so every machine runs the versions the tests ran.

An environment is ready when its stamp -- a hash of what decides its
contents, and the interpreter it was built on -- matches.  In a clone the tap
is installed editable (its code can change without a reinstall: only its
metadata and lock count); the loader is installed as a copy, so its whole
source tree counts.  A moved or replaced interpreter (python3.11 upgraded in
place) resolves elsewhere and rebuilds too.

uv builds an environment in about a second; pip, the fallback where uv is not
installed (or OMNILOAD_INSTALLER=pip), in ten or more.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from omniload_cli import sources
from omniload_cli.errors import OmniloadError
from omniload_cli.secrets import TOKEN_VARIABLES

# Bump to rebuild every environment after changing how they are built.
RECIPE = 4
_DEBRIS = ("build", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")


@dataclass(frozen=True)
class Program:
    env_name: str        # <home>/envs/<env_name>
    source: Path         # the project directory to install
    executable: str      # the console script the environment must provide
    editable: bool

    @property
    def lock(self) -> Path:
        return self.source / "requirements.lock"

    def inputs(self) -> list[Path]:
        if self.editable:
            return [self.source / "pyproject.toml", self.lock]
        return sorted(p for p in self.source.rglob("*")
                      if p.is_file() and not _is_debris(p.relative_to(self.source)))


def _is_debris(relative: Path) -> bool:
    return (any(part in _DEBRIS or part.endswith(".egg-info") for part in relative.parts)
            or relative.suffix == ".pyc")


# Each kind of destination's loader: (environment name, project = console script).
LOADERS = {"duckdb": ("target", "target-duckdb-omniload"),
           "postgres": ("target-postgres", "target-postgres-omniload")}


def loader_program(kind: str = "duckdb") -> Program:
    env_name, project = LOADERS[kind]
    return Program(env_name, sources.target_dir(project), project, editable=False)


def programs(loader: str = "duckdb") -> tuple[Program, Program]:
    """(tap, loader) as this omniload installs them."""
    return (Program("tap", sources.tap_dir(), "tap-asana", editable=sources.in_clone()), loader_program(loader))


def _uv() -> str | None:
    if os.environ.get("OMNILOAD_INSTALLER", "").strip().lower() == "pip":
        return None
    try:
        from uv import find_uv_bin
        return str(find_uv_bin())
    except (ImportError, OSError, TypeError):
        return shutil.which("uv")


class Environments:
    def __init__(self, home: Path, *, say: Callable[[str], None] | None = None,
                 python: str = sys.executable) -> None:
        self.home = home
        self._say = say or (lambda msg: sys.stderr.write(f"omniload: {msg}\n"))
        self._python = python

    def path(self, program: Program) -> Path:
        return self.home / "envs" / program.env_name

    def executable(self, program: Program) -> Path:
        return self.path(program) / "bin" / program.executable

    def stamp(self, program: Program) -> str:
        digest = hashlib.sha256(f"recipe={RECIPE} env={program.env_name} "
                                f"editable={program.editable}\n".encode())
        for path in program.inputs():
            digest.update(str(path.relative_to(program.source)).encode() + b"\0")
            digest.update(path.read_bytes() if path.exists() else b"(missing)")
            digest.update(b"\0")
        interpreter = os.path.realpath(self.path(program) / "bin" / "python")
        return f"{digest.hexdigest()} {interpreter}"

    def ready(self, program: Program) -> bool:
        env = self.path(program)
        try:
            stamp = (env / ".omniload-stamp").read_text().strip()
        except OSError:
            return False
        return (os.access(self.executable(program), os.X_OK)
                and (env / "bin" / "python").exists() and stamp == self.stamp(program))

    def ensure(self, *wanted: Program) -> None:
        """Build whichever of wanted is not ready: side by side (each build
        mostly waits on downloads and disk), one omniload process at a time."""
        if all(self.ready(p) for p in wanted):
            return
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".setup.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # parallel first runs would race on the venvs
            stale = [p for p in wanted if not self.ready(p)]   # maybe built while we waited
            # Found before the threads start: finding it reads sysconfig,
            # whose lazy set-up two threads at once can see half done.
            uv = _uv()
            with ThreadPoolExecutor(max_workers=max(1, len(stale))) as pool:
                for build in [pool.submit(self._build, p, uv) for p in stale]:
                    build.result()

    def _build(self, program: Program, uv: str | None) -> None:
        env = self.path(program)
        if env.exists():
            self._say(f"the {program.env_name} environment is out of date; rebuilding {env}")
            shutil.rmtree(env)
        else:
            self._say(f"first run: creating the {program.env_name} environment in {env}")
        env.parent.mkdir(parents=True, exist_ok=True)
        target = [*(["-e"] if program.editable else []), str(program.source)]
        constraints = ["-c", str(program.lock)] if program.lock.is_file() else []
        if uv:
            steps = [[uv, "venv", "--quiet", "--python", self._python, str(env)],
                     # Compiled now: where PYTHONDONTWRITEBYTECODE is set, nothing
                     # else would, and every run would compile singer-sdk anew.
                     [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(env / "bin" / "python"),
                      *constraints, *target]]
        else:
            steps = [[self._python, "-m", "venv", str(env)],
                     [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", *constraints, *target]]
        if program.editable:
            # Its sources too (in the clone), for the same reason.
            steps.append([str(env / "bin" / "python"), "-m", "compileall", "-q", str(program.source)])
        log_path = env.parent / f"{program.env_name}-install.log"
        # Installers run build backends fetched from PyPI: none of them gets
        # a variable that may carry the token.
        installer_env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARIABLES}
        with open(log_path, "w") as log:
            for step in steps:
                if subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, env=installer_env,
                                  stdin=subprocess.DEVNULL).returncode != 0:
                    log.flush()
                    tail = log_path.read_text(errors="replace").splitlines()[-20:]
                    sys.stderr.write("".join(line + "\n" for line in tail))
                    shutil.rmtree(env, ignore_errors=True)
                    raise OmniloadError(f"installing {program.source.name} failed "
                                        f"(the log above, in full: {log_path})")
        if not os.access(self.executable(program), os.X_OK):
            raise OmniloadError(f"installing {program.source.name} gave no {program.executable}")
        (env / ".omniload-stamp").write_text(self.stamp(program) + "\n")
        self._say(f"{program.env_name} environment ready")


def setup_all(home: Path | None = None) -> None:
    """`omniload setup`: the tap's and every loader's environment."""
    Environments(home or sources.home()).ensure(programs()[0], *(loader_program(k) for k in LOADERS))


def executables(home: Path | None = None, loader: str = "duckdb") -> tuple[str, str]:
    """(tap-asana, the loader of that kind of destination), built first if needed.

    OMNILOAD_TAP_EXECUTABLE / OMNILOAD_TARGET_EXECUTABLE name other builds
    (a development checkout of either, a benchmark's variant)."""
    envs = Environments(home or sources.home())
    chosen: list[str] = []
    to_build = []
    for program, variable in zip(programs(loader), ("OMNILOAD_TAP_EXECUTABLE", "OMNILOAD_TARGET_EXECUTABLE")):
        override = os.environ.get(variable)
        if override and not os.access(override, os.X_OK):
            raise OmniloadError(f"{variable}={override} is not an executable")
        if not override:
            to_build.append(program)
        chosen.append(override or str(envs.executable(program)))
    envs.ensure(*to_build)
    return chosen[0], chosen[1]
