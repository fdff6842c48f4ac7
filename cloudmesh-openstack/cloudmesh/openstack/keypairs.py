"""Nova key pairs as cms key records: the verbs the OpenStack provider inherits (kept
apart so that compute.py holds the server verbs)."""

from __future__ import annotations

from typing import Any

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import CmsError


class KeyPairVerbs:
    """keys, key_upload and key_delete over the provider's ``compute`` proxy."""

    @record_mapper("key pair")
    def _to_key(self, pair) -> dict[str, Any]:
        from cloudmesh.compute.keys import fingerprint

        try:
            print_ = fingerprint(pair.public_key) if pair.public_key else pair.fingerprint
        except CmsError:  # a key type cms cannot parse: keep Nova's MD5 fingerprint
            print_ = pair.fingerprint
        return self.key_record(name=pair.name, fingerprint=print_,
                               native={"nova_fingerprint": pair.fingerprint,
                                       "type": pair.type})

    def keys(self) -> list[dict[str, Any]]:
        pairs = self.listed(self.compute.keypairs, "key pairs")
        return sorted((self._to_key(p) for p in pairs), key=lambda k: k["name"])

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        # a create: translated, never retried (a lost answer would make it a duplicate)
        return self._to_key(self.translated(self.compute.create_keypair, name=name,
                                            public_key=public_key))

    def key_delete(self, name: str) -> None:
        self.call(self.compute.delete_keypair, name, ignore_missing=False)
