"""A third-party provider as a user would write one: kind ``filecloud`` keeps its VMs in a
JSON file (``credentials.path``). The pluggability test packages it as its own
distribution, pip-installs it into a throwaway virtual environment, and drives it with
``cms`` without any change to the core."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cloudmesh.compute import ComputeNodeABC
from cloudmesh.compute.errors import CredentialError, NotFound

IMAGES = [{"name": "tiny-os", "id": "img-1"}]
FLAVORS = [{"name": "small", "vcpus": 1, "ram_mb": 512, "disk_gb": 5}]
_LOCK = threading.RLock()  # cms boots several VMs at once from threads


class Provider(ComputeNodeABC):
    kind = "filecloud"
    unsupported = {"suspend": "filecloud VMs cannot sleep", "resume": "nothing to resume",
                   "public_ip": "filecloud VMs live on loopback"}
    key_delivery = "inject"
    default_username = "filer"

    @property
    def _path(self) -> Path:
        return Path(self.credentials["path"])

    def _load(self) -> dict[str, dict]:
        return json.loads(self._path.read_text()) if self._path.exists() else {}

    def _save(self, vms: dict[str, dict]) -> None:
        temporary = self._path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        temporary.write_text(json.dumps(vms))
        temporary.replace(self._path)  # readers never see half a file

    def _to_vm(self, vm: dict) -> dict[str, Any]:
        return self.vm_record(name=vm["name"], id=vm["id"], status=vm["state"],
                              state=vm["state"], image=vm["image"], flavor=vm["flavor"],
                              created=vm["created"],
                              private_ips=[vm.get("address", "127.0.0.1")])

    def _set_state(self, name: str, state: str) -> dict[str, Any]:
        with _LOCK:
            return self._set_state_locked(name, state)

    def _set_state_locked(self, name: str, state: str) -> dict[str, Any]:
        vms = self._load()
        if name not in vms or vms[name]["state"] == "terminated":
            raise NotFound(f"no VM named '{name}' on cloud '{self.cloud}'")
        vms[name]["state"] = state
        self._save(vms)
        return self._to_vm(vms[name])

    def list(self) -> list[dict[str, Any]]:
        return [self._to_vm(vm) for vm in self._load().values()]

    def info(self, name: str) -> dict[str, Any]:
        vm = self._load().get(name)
        if vm is None:
            raise NotFound(f"no VM named '{name}' on cloud '{self.cloud}'")
        return self._to_vm(vm)

    def create(self, spec) -> dict[str, Any]:
        image, flavor = self.resolve_image(spec.image), self.flavor(spec.flavor)
        with _LOCK:
            vms = self._load()
            # the key is injected: the "VM" keeps the authorized key line for the user
            vms[spec.name] = {
                "name": spec.name, "id": uuid.uuid4().hex, "state": "running",
                "image": image["name"], "flavor": flavor["name"], "created": time.time(),
                "address": f"127.0.0.{2 + len(vms) % 250}",
                "authorized_keys": {spec.username: [spec.key["public_key"]]} if spec.key
                else {}}
            self._save(vms)
        return self._to_vm(vms[spec.name])

    def start(self, name: str) -> dict[str, Any]:
        return self._set_state(name, "running")

    def stop(self, name: str) -> dict[str, Any]:
        return self._set_state(name, "stopped")

    def reboot(self, name: str) -> dict[str, Any]:
        with _LOCK:
            record = self._set_state_locked(name, "running")
            vms = self._load()
            vms[name]["reboots"] = vms[name].get("reboots", 0) + 1  # what the tests count
            self._save(vms)
            return record

    def check(self) -> str:
        # the file is the cloud's only credential: it must be in a folder cms can write
        folder = self._path.parent
        if not (folder.is_dir() and os.access(folder, os.W_OK)):
            raise CredentialError(f"cloud '{self.cloud}': cannot keep VMs in {self._path}",
                                  "set credentials.path to a file in a writable folder")
        return f"{len(self._load())} VMs in {self._path}"

    def destroy(self, name: str) -> dict[str, Any]:
        return self._set_state(name, "terminated")

    def images(self) -> list[dict[str, Any]]:
        return [self.image_record(os="linux", status="available", **i) for i in IMAGES]

    def flavors(self) -> list[dict[str, Any]]:
        return [self.flavor_record(id=f["name"], **f) for f in FLAVORS]
