"""forked.call: a step run in a child process, its answer or its error back here."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from omniload_cli import forked
from omniload_cli.errors import DestinationError


def test_the_answer_comes_back():
    assert forked.call(lambda a, b: {"sum": a + b, "pid": os.getpid()}, 2, 3)["sum"] == 5
    assert forked.call(os.getpid) != os.getpid()


def test_an_omniload_error_comes_back_with_its_exit_code():
    def fail():
        raise DestinationError("the destination x is locked", exit_code=2)

    with pytest.raises(DestinationError, match="the destination x is locked") as err:
        forked.call(fail)
    assert err.value.exit_code == 2


def test_an_exception_pickle_cannot_carry_still_fails_the_call():
    class Local(Exception):       # not importable by name: cannot be pickled
        pass

    def fail():
        raise Local("boom")

    with pytest.raises(forked.ChildFailed, match="Local: boom"):
        forked.call(fail)


def test_a_child_that_dies_without_answering_fails_the_call():
    with pytest.raises(forked.ChildFailed, match="without an answer"):
        forked.call(os._exit, 3)


def test_what_the_child_imports_stays_in_the_child():
    """The point of it: duckdb, opened by the destination's look before the
    load, is not in omniload's memory while the tap and the loader run."""
    code = ("import sys; from omniload_cli import forked\n"
            "def look():\n"
            "    import duckdb\n"
            "    return duckdb.connect(':memory:').execute('select 42').fetchone()[0]\n"
            "print(forked.call(look), 'duckdb' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert out.stdout.split() == ["42", "False"]
