"""``python -m harness``: see ``harness._cli``."""

import sys

from ._cli import main

sys.exit(main())
