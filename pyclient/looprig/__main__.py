"""``python3 -m looprig`` == the ``looprig`` command line."""

import sys

from .cli import main

sys.exit(main())
