"""``python -m jobnb.cli``: the ``jobnb`` command (how a kernel starts a worker)."""

import sys

from . import main

sys.exit(main())
