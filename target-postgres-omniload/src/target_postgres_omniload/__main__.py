"""`python -m target_postgres_omniload` runs the target, as the console script does.

`--divergences` prints README.md's tables (from divergences.py); `--pins`
checks the installed upstream against the pins and prints each method's
current hash.  Neither is an option of the console script.
"""

import sys

from target_postgres_omniload import divergences, main
from target_postgres_omniload.pin import pin_problems, resolve, source_sha256

if sys.argv[1:] == ["--divergences"]:
    sys.stdout.write(divergences.markdown())
elif sys.argv[1:] == ["--pins"]:
    for pinned in divergences.UPSTREAM:
        actual = source_sha256(resolve(pinned.name))
        status = "ok" if actual == pinned.sha256 else "CHANGED"
        print(f"{status:8} {actual} {pinned.name} (rows {' '.join(divergences.rows_using(pinned))})")
    problems = [p for p in pin_problems() if not p.startswith("source of")]
    for problem in problems:
        print(problem)
    sys.exit(1 if problems or any(source_sha256(resolve(u.name)) != u.sha256 for u in divergences.UPSTREAM)
             else 0)
else:
    main()
