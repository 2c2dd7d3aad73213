"""``python -m gametools``: the ``gametools`` command."""

import sys

from gametools.cli import main

sys.exit(main())
