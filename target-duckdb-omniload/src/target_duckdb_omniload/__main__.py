"""`python -m target_duckdb_omniload` runs the target, as the console script does.

`python -m target_duckdb_omniload --divergences` prints README.md's divergence
tables (from divergences.py); `--pins` checks the installed target-duckdb
against the pins and prints each object's current hash.  Neither is an
option of the console script, whose command line stays target-duckdb's.
"""

import sys

from target_duckdb_omniload import divergences, main, upstream
from target_duckdb_omniload.pin import pin_problems

if sys.argv[1:] == ["--divergences"]:
    sys.stdout.write(divergences.markdown())
elif sys.argv[1:] == ["--pins"]:
    for pinned in divergences.UPSTREAM:
        actual = upstream.source_sha256(upstream.resolve(pinned.name))
        status = "ok" if actual == pinned.sha256 else "CHANGED"
        print(f"{status:8} {actual} target_duckdb.{pinned.name} (rows {' '.join(divergences.rows_using(pinned))})")
    problems = pin_problems()
    for problem in problems:
        if not problem.startswith("source of"):
            print(problem)
    sys.exit(1 if problems else 0)
else:
    main()
