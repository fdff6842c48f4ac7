"""Run the OCI fake (tests/fakes/oracle, not changed here) as its own process for
``make bench``::

    python benchmarks/oracle_serve.py --instances 1000

fills it with that many RUNNING instances (each with its VNIC attachment and VNIC, the
way LaunchInstance makes them), prints one JSON line ``{"endpoint", "tenancy", "region"}``
and serves until stdin closes or the process is terminated. Pages hold up to 1,000 items
(``limit=1000``, OCI's largest for ListInstances), so 1,000 instances are one page; the
fake's state changes take no time (``delay=0``).

Any well-formed API key fingerprint is accepted; the signature is not verified (the body
hash is), so the driver makes a throwaway RSA key at run time and both clients sign with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # for "fakes"

from fakes.oracle import REGION, TENANCY, OciFake  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=1000)
    arguments = parser.parse_args()
    fake = OciFake(delay=0, page_size=arguments.page_size)
    if arguments.instances:
        fake.seed_instances([f"vm-{n:05d}" for n in range(arguments.instances)])
    url = fake.start()
    print(json.dumps({"endpoint": url, "tenancy": TENANCY, "region": REGION}), flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
