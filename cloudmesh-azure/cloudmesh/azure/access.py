"""Who may log in to an Azure VM: ``cms key`` as Microsoft.Compute/sshPublicKeys
resources of the group, and the VM's osProfile that gives one login one key (password
login disabled). Keys reach Azure rebuilt from their validated parts (issue 21: one key
per line, no options, no second hidden key). Mixed into the Provider, whose ``_call``,
``_all``, ``_ensure_group``, ``compute``, ``group`` and ``location`` it uses."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import CmsError, NotFound
from cloudmesh.compute.keys import parse_public_key

if TYPE_CHECKING:  # the facade builds it; we only read it
    from cloudmesh.compute.bootspec import BootSpec


def os_profile(spec: BootSpec) -> dict[str, Any]:
    """The osProfile of a Linux VM: ``spec.username`` with the boot's key, no password
    login, the user data as customData."""
    key = parse_public_key(spec.key["public_key"], f"key '{spec.key['name']}'")
    profile: dict[str, Any] = {
        # a Linux host name: at most 64 characters
        "computerName": spec.name[:64], "adminUsername": spec.username,
        "linuxConfiguration": {
            "disablePasswordAuthentication": True,
            "ssh": {"publicKeys": [{
                # Azure accepts only this path for the key
                "path": f"/home/{spec.username}/.ssh/authorized_keys",
                "keyData": key.line()}]}}}
    if spec.userdata:
        profile["customData"] = base64.b64encode(spec.userdata.encode()).decode()
    return profile


class SshPublicKeys:
    """``cms key`` on Azure: SSH public key resources of the resource group."""

    @record_mapper("SSH public key")
    def _to_key(self, key: Any) -> dict[str, Any]:
        public_key = (key.get("properties") or {}).get("publicKey")
        try:
            print_ = parse_public_key(public_key).fingerprint if public_key else None
        except CmsError:
            print_ = None  # a key type cms cannot parse
        return self.key_record(name=key["name"], fingerprint=print_,
                               native={"id": key.get("id")})

    def keys(self) -> list[dict[str, Any]]:
        try:
            found = self._all(lambda: self.compute.ssh_public_keys.list_by_resource_group(
                self.group), "key list")
        except NotFound:
            return []
        return sorted((self._to_key(k) for k in found), key=lambda k: k["name"])

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        line = parse_public_key(public_key, f"key '{name}'").line()
        self._ensure_group()
        key = self._call(self.compute.ssh_public_keys.create, self.group, name, {
            "location": self.location, "properties": {"publicKey": line}})
        return self._to_key(key)

    def key_delete(self, name: str) -> None:
        try:
            self._call(self.compute.ssh_public_keys.get, self.group, name)
        except NotFound:
            raise NotFound(f"no key '{name}' on cloud '{self.cloud}'") from None
        self._call(self.compute.ssh_public_keys.delete, self.group, name)
