"""Getting omniload and its programs installed.

./omniload (the shim) installs omniload itself and hands over; a ready
installation costs no python3 launch.  omniload_cli/environments.py builds
the tap's and the loader's environments, and tells a current one from a
stale one.  The builds here are real: uv (or pip) installing real projects.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from omniload_cli import environments
from omniload_cli.environments import Environments, Program
from omniload_cli.errors import OmniloadError
from tests.omniload.support import REPO, clean_env, run_omniload

OLD_PYTHON_ERROR = "omniload: error: omniload needs Python >= 3.11 ({} is Python 3.8.10)"


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def fake_old_python(tmp_path: Path) -> tuple[Path, Path]:
    """A python3 stand-in that records each launch and is too old."""
    marker = tmp_path / "python3-launched"
    return script(tmp_path / "python3", f'echo launched >> "{marker}"\n'
                  '[ "$1" = "-V" ] && { echo "Python 3.8.10"; exit 0; }\nexit 1\n'), marker


# --- the shim ----------------------------------------------------------------
def test_ready_installation_does_not_launch_python3(omniload_ready, tmp_path):
    python3, marker = fake_old_python(tmp_path)
    r = run_omniload("--help", env=clean_env(OMNILOAD_PYTHON=python3))
    assert r.returncode == 0, r.stderr
    assert "ingest" in r.stdout
    assert not marker.exists()


@pytest.fixture
def shim_copy(omniload_ready, tmp_path):
    """./omniload and the files its stamp hashes, beside the real omniload
    environment (linked in), so a change to the copy is seen as stale."""
    root = tmp_path / "root"
    root.mkdir()
    for name in ("omniload", "pyproject.toml", "requirements.lock"):
        shutil.copy2(REPO / name, root / name)
    home = tmp_path / "home"
    (home / "envs").mkdir(parents=True)
    (home / "envs" / "omniload").symlink_to(REPO / ".omniload" / "envs" / "omniload")
    return root, home


def test_a_changed_pyproject_goes_through_the_python_check(shim_copy, tmp_path):
    """A reinstall needs python3 >= 3.11: with an old one, one clear line and
    nothing removed."""
    root, home = shim_copy
    python3, marker = fake_old_python(tmp_path)
    with open(root / "pyproject.toml", "a") as f:
        f.write("\n# changed\n")
    r = run_omniload("--help", omniload=root / "omniload", timeout=120,
                     env=clean_env(OMNILOAD_HOME=home, OMNILOAD_PYTHON=python3))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == OLD_PYTHON_ERROR.format(python3)
    assert marker.exists()
    assert (REPO / ".omniload" / "envs" / "omniload" / "bin" / "omniload").exists()


def test_the_shim_installs_with_omniload_s_lock():
    shim = (REPO / "omniload").read_text()
    assert 'lock=(-c "$ROOT/requirements.lock")' in shim
    assert shim.count('"${lock[@]}"') == 4   # uv; pip for uv, then uv; plain pip


# --- the environments --------------------------------------------------------
def copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.pyc"))
    return dst


@pytest.fixture(scope="module")
def built_tap(tmp_path_factory):
    """The real tap, installed editable from a copy by omniload's installer."""
    base = tmp_path_factory.mktemp("envs")
    program = Program("tap", copy_project(REPO / "tap-asana", base / "tap-asana"), "tap-asana", editable=True)
    said: list[str] = []
    envs = Environments(base / "home", say=said.append)
    envs.ensure(program)
    return envs, program, said


def test_a_build_gives_a_working_program_and_a_stamp(built_tap):
    envs, program, said = built_tap
    assert said == [f"first run: creating the tap environment in {envs.path(program)}", "tap environment ready"]
    about = subprocess.run([str(envs.executable(program)), "--about", "--format=json"],
                           capture_output=True, text=True, timeout=120)
    assert about.returncode == 0 and '"name": "tap-asana"' in about.stdout
    assert envs.ready(program)
    envs.ensure(program)                      # ready: nothing rebuilt, nothing said
    assert len(said) == 2


def test_an_editable_program_s_code_changes_need_no_rebuild(built_tap):
    envs, program, _ = built_tap
    with open(program.source / "tap_asana" / "timestamps.py", "a") as f:
        f.write("\n# edited\n")
    assert envs.ready(program)


def test_a_changed_lock_or_pyproject_makes_it_stale(built_tap):
    envs, program, _ = built_tap
    for name in ("requirements.lock", "pyproject.toml"):
        path = program.source / name
        before = path.read_bytes()
        path.write_bytes(before + b"\n# changed\n")
        assert not envs.ready(program), name
        path.write_bytes(before)
        assert envs.ready(program), name


def test_an_interpreter_that_moved_makes_it_stale(built_tap, tmp_path):
    """The venv's python now resolves elsewhere (python3.11 replaced by 3.12
    at the same place): its site-packages are gone, so it must be rebuilt."""
    envs, program, _ = built_tap
    python = envs.path(program) / "bin" / "python"
    original = os.readlink(python)
    elsewhere = script(tmp_path / "elsewhere" / "python3.12", "exit 0\n")
    python.unlink()
    python.symlink_to(elsewhere)
    try:
        assert not envs.ready(program)
    finally:
        python.unlink()
        python.symlink_to(original)
    assert envs.ready(program)


def test_a_copied_program_counts_every_source_file(tmp_path):
    """The loader is installed as a copy: any file of its tree (not build
    debris) decides its environment."""
    source = copy_project(REPO / "target-duckdb-omniload", tmp_path / "target-duckdb-omniload")
    program = Program("target", source, "target-duckdb-omniload", editable=False)
    envs = Environments(tmp_path / "home")
    before = envs.stamp(program)
    (source / "src" / "target_duckdb_omniload" / "__pycache__").mkdir(exist_ok=True)
    (source / "src" / "target_duckdb_omniload" / "__pycache__" / "x.pyc").write_bytes(b"debris")
    (source / "build").mkdir()
    (source / "build" / "lib.py").write_text("debris")
    assert envs.stamp(program) == before
    with open(source / "README.md", "a") as f:
        f.write("\nchanged\n")
    assert envs.stamp(program) != before


def test_a_failed_build_says_so_in_one_error_and_leaves_nothing(tmp_path, capfd):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text('[project]\nname = "broken"\nversion = "1"\n'
                                           'dependencies = ["no-such-package-omniload-test==0.0.1"]\n')
    program = Program("broken", broken, "broken", editable=False)
    envs = Environments(tmp_path / "home", say=lambda msg: None)
    with pytest.raises(OmniloadError, match=r"installing broken failed \(the log above, in full: "):
        envs.ensure(program)
    assert not envs.path(program).exists()
    assert "no-such-package-omniload-test" in capfd.readouterr().err


@pytest.mark.slow
def test_pip_builds_where_uv_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNILOAD_INSTALLER", "pip")
    assert environments._uv() is None
    program = Program("tap", copy_project(REPO / "tap-asana", tmp_path / "tap-asana"), "tap-asana", editable=True)
    envs = Environments(tmp_path / "home", say=lambda msg: None)
    envs.ensure(program)
    assert (envs.path(program) / "bin" / "pip").exists()     # a venv of pip's own making
    assert envs.ready(program)


def test_uv_is_omniload_s_installer_by_default():
    assert environments._uv() is not None, "uv (a dependency of omniload) is not installed"


def test_parallel_first_runs_build_once(tmp_path):
    """Two omniload processes starting on a fresh home: one builds while the
    other waits for it, and finds the environment ready."""
    source = copy_project(REPO / "tap-asana", tmp_path / "tap-asana")
    code = ("import sys; from pathlib import Path; "
            "from omniload_cli.environments import Environments, Program; "
            f"p = Program('tap', Path({str(source)!r}), 'tap-asana', editable=True); "
            f"Environments(Path({str(tmp_path / 'home')!r}), say=lambda m: print(m, flush=True)).ensure(p)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert "".join(outputs).count("first run: creating the tap environment") == 1, outputs
