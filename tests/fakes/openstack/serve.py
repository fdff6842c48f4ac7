"""Run the OpenStack fake as its own process, e.g. for ``make bench``::

    python tests/fakes/openstack/serve.py --servers 1000

prints one JSON line ``{"auth_url", "password"}`` (the password is made at start) and
serves until stdin closes or the process is terminated.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for "fakes"

from fakes.openstack.server import FakeOpenStack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=0)
    parser.add_argument("--public-ip", action="store_true", default=True)
    arguments = parser.parse_args()
    fake = FakeOpenStack(secrets.token_urlsafe(16), tenant_cidr="127.1.0.0/16",
                         external_cidr="127.2.0.0/16")
    fake.populate(arguments.servers, public_ip=arguments.public_ip)
    fake.start()
    print(json.dumps({"auth_url": fake.auth_url, "password": fake.password}), flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
