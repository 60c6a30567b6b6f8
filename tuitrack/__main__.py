"""`python -m tuitrack`."""

import sys

from tuitrack.cli import main

sys.exit(main())
