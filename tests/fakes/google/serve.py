"""Run the Compute Engine fake as its own process, e.g. for ``make bench``::

    python tests/fakes/google/serve.py --instances 1000

prints one JSON line ``{"api_endpoint", "access_token", "project", "zone"}`` (the token is
made at start) and serves until stdin closes or the process is terminated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for "fakes"

from fakes.google import GoogleFake  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.2,
                        help="seconds an operation takes")
    arguments = parser.parse_args()
    fake = GoogleFake(delay=arguments.delay)
    fake.add_instances(arguments.instances)
    fake.start()
    print(json.dumps({"api_endpoint": fake.url, "access_token": fake.token,
                      "project": fake.project, "zone": fake.state.zones[0]}), flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
