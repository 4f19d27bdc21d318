"""The tap caps glibc's malloc arenas (tap_asana/malloc_arenas.py): counted
with glibc's own malloc_info, in a fresh process whose threads all allocate
at once, as the tap's fetch workers do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util, os, sys, tempfile, threading
from tap_asana.malloc_arenas import limit_malloc_arenas
capped = limit_malloc_arenas() if sys.argv[1] == "cap" else False
libc = ctypes.CDLL(ctypes.util.find_library("c"))
together = threading.Barrier(12)
def work():
    together.wait()
    blocks = [ctypes.create_string_buffer(4096) for _ in range(100)]
    together.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads: t.start()
for t in threads: t.join()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
fd, path = tempfile.mkstemp()
os.close(fd)
out = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
print(capped, open(path).read().count("<heap nr="))
os.unlink(path)
"""

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc only")


def arenas(mode: str, **env) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env).stdout
    capped, heaps = out.split()
    return capped, int(heaps)


def test_twelve_threads_share_two_arenas_once_capped():
    assert arenas("cap") == ("True", 2)
    _, uncapped = arenas("none")
    assert uncapped > 4     # the probe does make glibc open an arena per thread


def test_a_malloc_arena_max_the_user_set_wins():
    assert arenas("cap", MALLOC_ARENA_MAX="6") == ("False", 6)
