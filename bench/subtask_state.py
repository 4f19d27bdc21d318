"""What the subtasks bookmark costs on a big workspace: the encoded subtask
tree's size per subtask, the time to encode and decode it, and the memory a
run holds for it (the decoded tree and what a run derives from it).

Gids as Asana's are: 16 digits, not sequential (sequential gids compress
far better and would flatter the figures). A third as many project tasks
with subtasks as subtasks, each subtask under a random earlier task or
subtask (so a few levels deep), as in round 7's workspace.

    .omniload/envs/dev/bin/python bench/subtask_state.py [--subtasks 100000 1000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from types import SimpleNamespace

from tap_asana.__main__ import GC_THRESHOLD
from tap_asana.streams.subtasks import _Run
from tap_asana.subtask_tree import ROOT, Node, SubtaskTree
from tap_asana.task_index import children_digest, fingerprint


def workspace_tree(subtasks: int, seed: int = 1) -> SubtaskTree:
    rng = random.Random(seed)

    def gid() -> str:
        return str(1200000000000000 + rng.randrange(10**14))

    roots = [gid() for _ in range(max(1, subtasks // 3))]
    nodes = {r: Node(ROOT, "-", children_digest({"name": str(rng.random()), "num_subtasks": 2})) for r in roots}
    pool = list(roots)
    for _ in range(subtasks):
        g = gid()
        nodes[g] = Node(rng.choice(pool), fingerprint({"modified_at": str(rng.random())}),
                        children_digest({"name": str(rng.random())}))
        pool.append(g)
    return SubtaskTree(nodes)


def measure(subtasks: int) -> None:
    tree = workspace_tree(subtasks)
    nodes = len(tree.nodes)
    started = time.perf_counter()
    encoded = tree.encode()
    encode_s = time.perf_counter() - started
    del tree
    gc.collect()
    started = time.perf_counter()
    SubtaskTree.decode(encoded)
    decode_s = time.perf_counter() - started
    gc.collect()

    tracemalloc.start()
    decoded = SubtaskTree.decode(encoded)
    tree_mb = tracemalloc.get_traced_memory()[0] / 1e6
    decode_peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.reset_peak()
    run = _Run(SimpleNamespace(listings=None), "workspace", decoded)   # type: ignore[arg-type]
    run_mb = tracemalloc.get_traced_memory()[0] / 1e6
    run_peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    del run, decoded
    print(f"{subtasks:>9,} subtasks (+{nodes - subtasks:,} project tasks with subtasks): "
          f"state {len(encoded) / 1e6:.1f} MB = {len(encoded) / nodes:.1f} B per node; "
          f"encode {encode_s:.1f} s, decode {decode_s:.1f} s; "
          f"decoded tree {tree_mb:.0f} MB (peak while decoding {decode_peak_mb:.0f} MB), "
          f"a run's start {run_mb:.0f} MB in all (peak {run_peak_mb:.0f} MB)")


def main() -> None:
    gc.set_threshold(*GC_THRESHOLD)   # as in the tap's process
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subtasks", type=int, nargs="+", default=[100_000, 1_000_000])
    for subtasks in parser.parse_args().subtasks:
        measure(subtasks)


if __name__ == "__main__":
    main()
