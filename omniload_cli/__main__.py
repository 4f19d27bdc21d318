import sys

from omniload_cli.cli import main

sys.exit(main())
