import sys

from omniload_cli.entry import main

sys.exit(main())
