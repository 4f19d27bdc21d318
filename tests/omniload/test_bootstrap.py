"""./omniload's environment check: ready environments need no python3 launch
(each through a pyenv-style shim was ~0.16 s of every run); anything else
goes through the python3 check and the (re)build."""

from __future__ import annotations

import os
from pathlib import Path

from tests.omniload.support import REPO, clean_env, run_omniload


def fake_python(tmp_path: Path, version: str) -> tuple[Path, Path]:
    """A python3 stand-in that records each launch and claims `version`."""
    marker = tmp_path / "python-launched"
    script = tmp_path / "python3"
    major, minor = version.split(".")[:2]
    script.write_text(
        "#!/bin/sh\n"
        f'echo launched >> "{marker}"\n'
        f'[ "$1" = "-V" ] && {{ echo "Python {version}"; exit 0; }}\n'
        f"exit {0 if (int(major), int(minor)) >= (3, 11) else 1}\n")
    script.chmod(0o755)
    return script, marker


def test_ready_environments_do_not_launch_python3(omniload_ready, tmp_path):
    script, marker = fake_python(tmp_path, "3.8.10")
    r = run_omniload("--help", env=clean_env(OMNILOAD_PYTHON=script))
    assert r.returncode == 0, r.stderr
    assert "ingest" in r.stdout
    assert not marker.exists()


def test_a_stale_environment_goes_through_the_python_check(omniload_ready, tmp_path):
    """A stamp that no longer matches the inputs means a rebuild, which needs
    python3 >= 3.11: with an old one, one clear line and nothing built."""
    script, marker = fake_python(tmp_path, "3.8.10")
    home = tmp_path / "home"
    for kind in ("tap", "target"):
        env = home / "envs" / kind
        (env / "bin").mkdir(parents=True)
        (env / "bin" / "python").symlink_to(REPO / ".omniload" / "envs" / kind / "bin" / "python")
        stamp = (REPO / ".omniload" / "envs" / kind / ".omniload-stamp").read_text()
        (env / ".omniload-stamp").write_text(stamp if kind == "tap" else "stale\n")
    r = run_omniload("--help", env=clean_env(OMNILOAD_PYTHON=script, OMNILOAD_HOME=home))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f"omniload: error: omniload needs Python >= 3.11 ({script} is Python 3.8.10)")
    assert marker.exists()
    assert sorted(os.listdir(home / "envs" / "target")) == [".omniload-stamp", "bin"]
