"""Helpers the oracle tests share: a throwaway API signing key, the fake on a port, and
the cloudmesh.yaml entry of a cloud pointing at it. (tests/conftest.py belongs to the
core; the test modules import these.)"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path
from typing import Any

from fakes.oracle.fake_oci import REGION, TENANCY

USER = "ocid1.user.oc1..aaaaaaaafakeuser"


@functools.lru_cache(maxsize=1)
def _throwaway_rsa_key():
    """One RSA key per test process, made at run time: generating a 2048-bit key takes a
    tenth of a second or more, and the fake checks a key's fingerprint, not which key it
    is (tests that need an unknown key name another fingerprint)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_api_key(directory: Path, passphrase: str | None = None) -> tuple[Path, str]:
    """An RSA key file (PEM, 0600, encrypted when a passphrase is given) of this test
    process's throwaway key, and its OCI fingerprint: the MD5 of the DER public key as 16
    colon-separated pairs."""
    from cryptography.hazmat.primitives import serialization

    directory.mkdir(parents=True, exist_ok=True)
    key = _throwaway_rsa_key()
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    path = directory / "oci_api_key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8, encryption))
    path.chmod(0o600)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(der).hexdigest()
    return path, ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def sdk_config(key_file: Path, fingerprint: str, passphrase: str | None = None) -> dict:
    """The oci SDK's config dict for the fake's tenancy."""
    config = {"user": USER, "fingerprint": fingerprint, "key_file": str(key_file),
              "tenancy": TENANCY, "region": REGION}
    if passphrase:
        config["pass_phrase"] = passphrase
    return config


def cloud_spec(endpoint: str, key_file: Path, fingerprint: str, **default: Any) -> dict:
    """A cloudmesh.yaml entry of kind oracle whose credentials point at the fake."""
    return {"cm": {"kind": "oracle", "label": "fake OCI"},
            "credentials": {"user": USER, "fingerprint": fingerprint,
                            "key_file": str(key_file), "tenancy": TENANCY, "region": REGION,
                            "service_endpoint": endpoint},
            # the fakes finish a work request in 0.05-0.15 s: poll at that pace
            "default": {"image": "Oracle-Linux-9.4-2024.09.30-0",
                        "flavor": "VM.Standard.E2.1.Micro", "poll_interval": 0.05, **default}}


def delivered_keys(instance: dict) -> dict[str, list[str]]:
    """The OpenSSH public keys an instance's launch carried, per login: metadata
    ``ssh_authorized_keys`` under "" (the image's own login), and the keys cloud-init
    ``user_data`` gives each user it creates."""
    import yaml

    metadata = instance.get("metadata") or {}
    found: dict[str, list[str]] = {"": [line.strip() for line in
                                        (metadata.get("ssh_authorized_keys") or "").splitlines()
                                        if line.strip()]}
    if metadata.get("user_data"):
        text = base64.b64decode(metadata["user_data"]).decode()
        document = yaml.safe_load(text) or {}
        for user in document.get("users") or []:
            if isinstance(user, dict):
                found.setdefault(user.get("name", ""), []).extend(
                    user.get("ssh_authorized_keys") or [])
    return found
