"""``python -m gateway.cli``, as the ``kanal`` console script."""

import sys

from gateway.cli import main

sys.exit(main())
