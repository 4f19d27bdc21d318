"""./omniload's environment check: ready environments need no python3 launch
(each through a pyenv-style shim was ~0.16 s of every run); a changed input
or a moved interpreter goes through the python3 check and the rebuild."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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


def test_ready_environments_do_not_launch_python3(omniload_ready, tmp_path):
    python3, marker = fake_old_python(tmp_path)
    r = run_omniload("--help", env=clean_env(OMNILOAD_PYTHON=python3))
    assert r.returncode == 0, r.stderr
    assert "ingest" in r.stdout
    assert not marker.exists()


@pytest.fixture
def launcher_copy(omniload_ready, tmp_path):
    """./omniload and the files its stamps hash, copied; environments whose
    `python` is a script recording that it ran; stamps as setup wrote them."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(REPO / "omniload", root / "omniload")
    (root / "tap-asana").mkdir()
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy2(REPO / "tap-asana" / name, root / "tap-asana" / name)
    shutil.copytree(REPO / "target-duckdb-omniload", root / "target-duckdb-omniload",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.pyc"))
    home = tmp_path / "home"
    ran = tmp_path / "env-python-ran"
    for kind in ("tap", "target"):
        python = script(home / "envs" / kind / "bin" / "python", f'echo "$@" >> "{ran}"\n')
        inputs_hash = (REPO / ".omniload" / "envs" / kind / ".omniload-stamp").read_text().split()[0]
        (home / "envs" / kind / ".omniload-stamp").write_text(f"{inputs_hash} {python}\n")
    return root, home, ran


def run_copy(root: Path, home: Path, python3: Path):
    return run_omniload("--help", omniload=root / "omniload", timeout=120,
                        env=clean_env(OMNILOAD_HOME=home, OMNILOAD_PYTHON=python3))


def test_unchanged_inputs_use_the_environments(launcher_copy, tmp_path):
    root, home, ran = launcher_copy
    python3, marker = fake_old_python(tmp_path)
    r = run_copy(root, home, python3)
    assert r.returncode == 0, r.stderr
    assert ran.read_text().split() == ["-m", "omniload_cli"] and not marker.exists()


def test_a_changed_input_goes_through_the_python_check(launcher_copy, tmp_path):
    """A rebuild needs python3 >= 3.11: with an old one, one clear line and
    nothing rebuilt."""
    root, home, ran = launcher_copy
    python3, marker = fake_old_python(tmp_path)
    with open(root / "target-duckdb-omniload" / "README.md", "a") as f:
        f.write("\nchanged\n")
    r = run_copy(root, home, python3)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == OLD_PYTHON_ERROR.format(python3)
    assert marker.exists() and not ran.exists()
    assert (home / "envs" / "target" / "bin" / "python").exists()  # not removed


def test_an_interpreter_that_moved_goes_through_the_python_check(launcher_copy, tmp_path):
    """The venv's python now resolves elsewhere (python3.11 replaced by 3.12
    at the same place): its site-packages are gone, so it must be rebuilt."""
    root, home, ran = launcher_copy
    python3, marker = fake_old_python(tmp_path)
    elsewhere = script(tmp_path / "elsewhere" / "python3.12", "exit 0\n")
    tap_python = home / "envs" / "tap" / "bin" / "python"
    tap_python.unlink()
    tap_python.symlink_to(elsewhere)
    r = run_copy(root, home, python3)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == OLD_PYTHON_ERROR.format(python3)
    assert marker.exists() and not ran.exists()
