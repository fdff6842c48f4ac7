"""The cost of a provider's first use inside one fresh process, in phases.

Usage:
  python first_use.py cms KIND [ARG...]   the cms way: import the kind's module through
        the facade's loader, build its Provider and its client, then list once
  python first_use.py bare KIND [ARG...]  what a script would do without cms

  aws:       ARGS are ENDPOINT_URL REGION (moto's server); the bare way is boto3 itself
  multipass: ARG is the path of a stand-in ``multipass`` executable (Multipass is a snap
             and cannot be installed here); the bare way runs it and parses its JSON
  any other kind: import and construction only (no bench recipe for its SDK)

Prints one JSON object: seconds per phase (import, client, first_call). The cms core is
imported before the clock starts: this is what the *provider* adds to a cms process.
"""

from __future__ import annotations

import json
import sys
import time

KEY_ID, SECRET = "bench-key-id", "bench-not-a-secret"   # moto takes any; not secrets


def cms(kind: str, args: list[str]) -> dict:
    from cloudmesh.compute.registry import load as load_provider_class

    spec: dict = {"cm": {"kind": kind}, "credentials": {}, "default": {}}
    if kind == "aws":
        endpoint, region = args
        spec["credentials"] = {"region": region, "endpoint_url": endpoint,
                               "access_key_id": KEY_ID, "secret_access_key": SECRET}
    elif kind == "multipass":
        spec["credentials"] = {"executable": args[0]}
    phases: dict = {}
    start = time.perf_counter()
    provider_class = load_provider_class(kind, "bench")
    phases["import"] = time.perf_counter() - start
    start = time.perf_counter()
    provider = provider_class("bench", spec)
    if kind == "aws":
        provider.client  # noqa: B018 - the EC2 client is made on first use
    elif kind == "multipass":
        provider.executable  # noqa: B018 - the executable is looked up on first use
    phases["client"] = time.perf_counter() - start
    if kind in ("aws", "multipass"):
        start = time.perf_counter()
        provider.list()
        phases["first_call"] = time.perf_counter() - start
    return phases


def bare(kind: str, args: list[str]) -> dict:
    phases: dict = {}
    if kind == "aws":
        endpoint, region = args
        start = time.perf_counter()
        import boto3

        phases["import"] = time.perf_counter() - start
        start = time.perf_counter()
        client = boto3.client("ec2", region_name=region, endpoint_url=endpoint,
                              aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
        phases["client"] = time.perf_counter() - start
        start = time.perf_counter()
        [i for page in client.get_paginator("describe_instances").paginate()
         for r in page["Reservations"] for i in r["Instances"]]
        phases["first_call"] = time.perf_counter() - start
    elif kind == "multipass":
        start = time.perf_counter()
        import shutil
        import subprocess

        phases["import"] = time.perf_counter() - start
        start = time.perf_counter()
        executable = shutil.which(args[0])
        phases["client"] = time.perf_counter() - start
        start = time.perf_counter()
        done = subprocess.run([executable, "list", "--format", "json"], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, check=True)
        json.loads(done.stdout)
        phases["first_call"] = time.perf_counter() - start
    else:
        raise SystemExit(f"no bare recipe for kind '{kind}'")
    return phases


if __name__ == "__main__":
    way, kind, *rest = sys.argv[1:]
    print(json.dumps(cms(kind, rest) if way == "cms" else bare(kind, rest)))
