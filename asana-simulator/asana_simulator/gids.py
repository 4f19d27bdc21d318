"""Where every gid comes from: disjoint 16-digit ranges, so gids are unique
across all resources without a shared counter for lazily derived objects.

- Objects created eagerly (by the generator or a mutation) take consecutive
  gids from the store's counter, starting at first_eager_gid(seed).
- Generated stories are derived lazily, in any order, so their gids are a
  function of (seed, task index, position); story_task_idx() inverts it.
- Likes (of tasks and of stories) are derived from the liked object's gid.

The seed shifts the eager and story ranges, so two seeds never share gids.
"""
from __future__ import annotations

GID_EAGER_BASE = 1_200_000_000_000_000
GID_STORY_BASE = 1_300_000_000_000_000
SEED_STRIDE = 10**11
# A task's generated stories get this many consecutive gids (WorkspaceSpec
# caps stories_per_task at 60).
STORY_SLOTS_PER_TASK = 64
GID_TASK_LIKE_BASE = 1_500_000_000_000_000
GID_STORY_LIKE_BASE = 1_700_000_000_000_000
# x16 leaves room for 16 likes per liked object
LIKE_SLOTS = 16


def _seed_offset(seed: int) -> int:
    return (seed % 89) * SEED_STRIDE


def first_eager_gid(seed: int) -> int:
    return GID_EAGER_BASE + _seed_offset(seed) + 1


def story_gid(seed: int, task_idx: int, position: int) -> str:
    """The gid of the position-th generated story of the task with index task_idx."""
    return str(GID_STORY_BASE + _seed_offset(seed) + task_idx * STORY_SLOTS_PER_TASK + position)


def story_task_idx(seed: int, gid: str) -> int | None:
    """The index of the task whose generated stories would hold gid, or None
    when gid is not in the story range (it may still be an index past the
    last task)."""
    try:
        g = int(gid) - GID_STORY_BASE - _seed_offset(seed)
    except ValueError:
        return None
    if g < 0:
        return None
    return g // STORY_SLOTS_PER_TASK


def like_gid(liked_gid: str, i: int) -> str:
    """The gid of the i-th like (i < LIKE_SLOTS) of a task or story."""
    g = int(liked_gid)
    base = GID_TASK_LIKE_BASE if g < GID_STORY_BASE else GID_STORY_LIKE_BASE
    return str(base + (g % 10**14) * LIKE_SLOTS + i)
