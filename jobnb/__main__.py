"""``python -m jobnb``: the ``jobnb`` command."""

import sys

from .cli import main

sys.exit(main())
