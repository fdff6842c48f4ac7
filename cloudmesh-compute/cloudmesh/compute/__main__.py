"""``python -m cloudmesh.compute`` is ``cms``."""

import sys

from cloudmesh.compute.main import main

sys.exit(main())
