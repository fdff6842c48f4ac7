"""``python -m cloudmesh.compute`` is ``cms``."""

import sys

from cloudmesh.compute.shell import main

sys.exit(main())
