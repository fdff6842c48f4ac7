"""The REST provider kinds' test clouds for ``make bench``: each fake as its own process
on 127.0.0.1, the cloudmesh.yaml entry that points cms at it, and the bare SDK script a
user would write instead of ``cms vm list --output=json``.

  kind       fake (started here as a process)            bare script
  openstack  tests/fakes/openstack/serve.py --servers N   tests/fakes/openstack/bare_list.py
  azure      tests/fakes/azure/server.py --seed N         tests/fakes/azure/bare_list.py
  google     tests/fakes/google/serve.py --instances N    tests/fakes/google/bare_list.py
  oracle     benchmarks/oracle_serve.py --instances N     benchmarks/oci_list.py

The fakes belong to the provider authors and are used as they are. Each prints one JSON
line (its URL and run-time credentials) and then serves; it is stopped by closing its
stdin (or SIGTERM, for azure's, which serves until it is killed). Every fake runs with
the tests' network guard on PYTHONPATH, as do the clients that talk to it. Credentials
are made at run time (a password, a token, a throwaway RSA key for oracle) and reach the
bare scripts through their environment, never their command line.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAKES = ROOT / "tests" / "fakes"
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))   # for "fakes.*.harness"

KINDS = ("openstack", "azure", "google", "oracle")


class FakeProcess:
    """One fake cloud as a child process: ``start()`` returns its JSON line."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path,
                 stop_by_signal: bool = False) -> None:
        self.argv, self.env, self.log = argv, env, log
        self.stop_by_signal = stop_by_signal
        self.process: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout: float = 180) -> dict[str, Any]:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, env=self.env,
                                            start_new_session=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                self.stop()
                tail = self.log.read_text(errors="replace").strip()[-300:]
                raise RuntimeError(f"{Path(self.argv[1]).name} did not start: "
                                   f"{tail or 'timeout'}")
            ready, _, _ = select.select([self.process.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    continue
                line += chunk
        self.info = json.loads(line.decode().splitlines()[0])
        return self.info

    def cpu_seconds(self) -> float:
        """CPU (user + system, all threads) the fake has used so far (/proc, 10 ms)."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            if self.stop_by_signal:
                process.send_signal(signal.SIGTERM)
            elif process.stdin:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream and not stream.closed:
                stream.close()


@dataclass
class Cloud:
    """A kind's running test cloud: its cms entry, and the bare script with its env."""

    kind: str
    name: str
    fake: FakeProcess
    spec: dict[str, Any]
    bare: list[str]
    bare_env: dict[str, str] = field(default_factory=dict)
    bare_label: str = ""


def start(kind: str, name: str, count: int, env: dict[str, str], workdir: Path,
          python: str) -> Cloud:
    """Start ``kind``'s fake with ``count`` VMs and describe how cms and the bare script
    reach it (the fake is stopped again if that fails)."""
    started: list[FakeProcess] = []
    try:
        return _start(kind, name, count, env, workdir, python, started)
    except BaseException:
        for fake in started:
            fake.stop()
        raise


def _start(kind: str, name: str, count: int, env: dict[str, str], workdir: Path,
           python: str, started: list[FakeProcess]) -> Cloud:
    log = workdir / f"fake-{name}.log"
    if kind == "openstack":
        fake = FakeProcess([python, str(FAKES / "openstack" / "serve.py"),
                            "--servers", str(count)], env, log)
        started.append(fake)
        info = fake.start()
        spec = {"cm": {"kind": "openstack", "label": "fake OpenStack"},
                "credentials": {"auth_url": info["auth_url"], "username": "demo",
                                "password": info["password"], "project_name": "demo",
                                "user_domain_name": "Default",
                                "project_domain_name": "Default",
                                "region_name": "RegionOne"}}
        return Cloud(kind, name, fake, spec,
                     [python, str(FAKES / "openstack" / "bare_list.py"), info["auth_url"]],
                     {"OS_PASSWORD": info["password"]},
                     "openstacksdk script (connection.compute.servers())")
    if kind == "azure":
        # a package module (it imports its spec relatively): run with -m, tests/ on the path
        path = os.pathsep.join(p for p in (str(ROOT / "tests"), env.get("PYTHONPATH")) if p)
        fake = FakeProcess([python, "-m", "fakes.azure.server", "--seed", str(count),
                            "--op-seconds", "0"], dict(env, PYTHONPATH=path), log,
                           stop_by_signal=True)
        started.append(fake)
        info = fake.start()
        spec = {"cm": {"kind": "azure", "label": "fake ARM"},
                "credentials": {"subscription_id": info["subscription"],
                                "resource_group": info["resource_group"],
                                "location": info["location"], "access_token": info["token"],
                                "base_url": info["url"]}}
        return Cloud(kind, name, fake, spec,
                     [python, str(FAKES / "azure" / "bare_list.py"), info["url"],
                      info["subscription"], info["resource_group"]],
                     {"AZURE_FAKE_TOKEN": info["token"]},
                     "azure-mgmt script (VMs, NICs, public IPs)")
    if kind == "google":
        from fakes.google.harness import cloud_spec

        fake = FakeProcess([python, str(FAKES / "google" / "serve.py"),
                            "--instances", str(count)], env, log)
        started.append(fake)
        info = fake.start()
        spec = cloud_spec(info["api_endpoint"], info["access_token"], project=info["project"],
                          zone=info["zone"])
        return Cloud(kind, name, fake, spec,
                     [python, str(FAKES / "google" / "bare_list.py"), info["api_endpoint"],
                      info["project"]],
                     {"GOOGLE_FAKE_TOKEN": info["access_token"]},
                     "google-cloud-compute script (aggregated list)")
    if kind == "oracle":
        from fakes.oracle.harness import USER, cloud_spec, make_api_key

        fake = FakeProcess([python, str(HERE / "oracle_serve.py"), "--instances", str(count)],
                           env, log)
        started.append(fake)
        info = fake.start()
        key_file, fingerprint = make_api_key(workdir / f"oci-{name}")
        spec = cloud_spec(info["endpoint"], key_file, fingerprint)
        return Cloud(kind, name, fake, spec,
                     [python, str(HERE / "oci_list.py"), info["endpoint"], str(key_file),
                      fingerprint, USER, info["tenancy"], info["region"]],
                     {}, "oci script (instances, VNIC attachments, get_vnic x16 threads)")
    raise ValueError(f"no test cloud for kind '{kind}'")


def write_config(config_dir: Path, clouds: list[Cloud]) -> None:
    import yaml

    data = {"cloudmesh": {"profile": {"user": "bench"},
                          "default": {"cloud": clouds[0].name if clouds else ""},
                          "compute": {c.name: c.spec for c in clouds}}}
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "cloudmesh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
