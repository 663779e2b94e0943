"""``python -m earmark.cli`` runs the command line, as ``python -m earmark`` does."""

import sys

from . import main

sys.exit(main())
