"""First contact: a fresh clone's `./omniload demo`, set-up included.

Clones the given revisions of this repository into temporary directories and
times `./omniload demo` in each, as a new user would run it: no environments,
and package caches either empty ("cold", a new machine) or shared with the
previous run ("warm", a machine that has installed these packages before).
Revisions run alternately, so the machine's noise falls on both alike.

    python3 bench/first_contact.py [--rounds 2] [REV ...]     (default: HEAD)

Prints one line per run and the median per revision and cache state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The package caches pip and uv read; "cold" points them at empty directories.
CACHE_VARIABLES = ("PIP_CACHE_DIR", "UV_CACHE_DIR")


def timed_demo(rev: str, work: Path, caches: Path | None) -> float:
    clone = work / f"clone-{rev}-{time.monotonic_ns()}"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", rev], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNILOAD_")}
    if caches is not None:
        for name in CACHE_VARIABLES:
            env[name] = str(caches / name.lower())
    started = time.monotonic()
    r = subprocess.run(["./omniload", "demo", "--progress", "log"], cwd=clone, env=env,
                       capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if r.returncode != 0:
        raise SystemExit(f"{rev}: ./omniload demo failed:\n{r.stderr[-2000:]}")
    shutil.rmtree(clone)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="*", default=["HEAD"])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="first-contact-") as tmp:
        work = Path(tmp)
        for round_no in range(args.rounds):
            for rev in args.revs:
                cold = work / f"caches-{rev}-{round_no}"
                for state, caches in (("cold", cold), ("warm", cold)):
                    # "warm" reuses the caches the cold run just filled.
                    seconds = timed_demo(rev, work, caches)
                    results.setdefault((rev, state), []).append(seconds)
                    print(f"round {round_no + 1}  {rev:<12} {state}  {seconds:6.1f} s", flush=True)
    print("\nmedian of ./omniload demo from a fresh clone, set-up included:")
    for (rev, state), runs in results.items():
        print(f"  {rev:<12} {state}  {statistics.median(runs):6.1f} s  ({len(runs)} runs)")


if __name__ == "__main__":
    main()
