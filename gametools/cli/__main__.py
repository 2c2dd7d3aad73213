"""``python -m gametools.cli``."""

import sys

from gametools.cli import main

sys.exit(main())
