"""Helpers the multipass tests share: install the fake ``multipass`` as an executable
and write a cloudmesh.yaml that points a cloud at it. (tests/conftest.py belongs to the
core; the test modules import these as fakes.multipass.harness.)"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cloudmesh.compute

# the fake ships in the package: 'cms sandbox start' uses it as its Multipass stand-in
FAKE = Path(cloudmesh.compute.__file__).parent / "testing" / "fake_multipass.py"


def install_fake(bin_dir: Path) -> Path:
    """Write ``bin_dir/multipass``: the fake, run by this test run's interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    executable = bin_dir / "multipass"
    # imported as a module, not run as a script (runpy.run_path compiles the 1,600 lines
    # on every call): its bytecode is cached, even where PYTHONDONTWRITEBYTECODE is set,
    # so each of the hundreds of calls a test run makes costs an interpreter start only
    executable.write_text(f"#!{sys.executable}\n"
                          "import sys\n"
                          "sys.dont_write_bytecode = False\n"
                          f"sys.path.insert(0, {str(FAKE.parent)!r})\n"
                          "sys.argv[0] = 'multipass'\n"
                          f"import {FAKE.stem}\n"
                          f"sys.exit({FAKE.stem}.main(sys.argv[1:]))\n")
    executable.chmod(0o755)
    return executable


def write_config(config_dir: Path, clouds: dict[str, dict], user: str = "alice") -> Path:
    """A cloudmesh.yaml (mode 0600) with these clouds under cloudmesh.compute."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "cloudmesh.yaml"
    # JSON is YAML: no YAML writer needed
    path.write_text(json.dumps({"cloudmesh": {"profile": {"user": user},
                                              "compute": clouds}}, indent=2))
    path.chmod(0o600)
    return path


def fake_state(state_file: Path) -> dict:
    """The fake daemon's state (instances, settings) as the tests see it."""
    try:
        return json.loads(state_file.read_text())
    except FileNotFoundError:
        return {"instances": {}, "settings": {}}


def seed_instances(state_file: Path, instances: dict[str, dict]) -> None:
    """Put instances in odd states straight into the fake daemon's state."""
    state = fake_state(state_file)
    for name, fields in instances.items():
        base = {"state": "Running", "deleted": False, "image": "24.04",
                "image_release": "24.04 LTS", "current_release": "Ubuntu 24.04.1 LTS",
                "cpus": 1, "memory": 2 ** 30, "disk": 5 * 2 ** 30, "ipv4": "10.218.69.200",
                "extra_ipv4": [], "networks": [], "mounts": {}, "files": {}, "snapshots": 0,
                "zone": "zone1"}
        state.setdefault("instances", {})[name] = {**base, **fields}
    state_file.write_text(json.dumps(state))


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a cms subprocess: its own HOME, config dir and fake state."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPASS_FAKE_")}
    env.update(HOME=str(tmp / "home"), CLOUDMESH_CONFIG_DIR=str(tmp / "config"),
               MULTIPASS_FAKE_STATE=str(tmp / "multipass-state.json"), **extra)
    (tmp / "home").mkdir(exist_ok=True)
    return env


class Seen:
    """One call of the fake, as the fault suite reads it."""

    def __init__(self, argv: list[str], answered: str) -> None:
        self.argv, self.answered = argv, answered

    def __repr__(self) -> str:
        return f"Seen({self.argv!r}, {self.answered!r})"


class MultipassFaults:
    """The fault suite's proxy for a CLI cloud: faults go into the file the fake reads
    (MULTIPASS_FAKE_FAULTS); ``kind`` is "status" (exit ``status`` with ``body`` on
    stderr), "drop" (the daemon cannot be reached), "hang" (then that), "lose_answer" (the
    daemon acts, the client times out with exit 5)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clear()

    def _plan(self) -> dict:
        return json.loads(self.path.read_text())

    def add(self, kind: str, match: str = "", times: int = 1, **options) -> None:
        plan = self._plan()
        body = options.get("body")
        plan["faults"].append({"kind": kind, "match": match, "times": times,
                               "status": options.get("status"),
                               "body": body.decode() if isinstance(body, bytes) else body,
                               "seconds": options.get("seconds", 0)})
        self.path.write_text(json.dumps(plan))

    def clear(self) -> None:
        self.path.write_text(json.dumps({"faults": [], "seen": []}))

    def requests(self, match: str = "") -> list[Seen]:
        return [Seen(s["argv"], s["answered"]) for s in self._plan()["seen"]
                if match in " ".join(s["argv"])]
