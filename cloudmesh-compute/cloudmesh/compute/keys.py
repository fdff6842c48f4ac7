"""SSH public keys: validation, OpenSSH fingerprints, and new ed25519 pairs.

A fingerprint is OpenSSH's ``SHA256:<base64 of the key blob's SHA-256, unpadded>``, the
form ``ssh-keygen -l`` prints, so users can compare it with what they see elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from pathlib import Path

from cloudmesh.compute.errors import ConfigError, UsageError

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")


def parse_public_key(text: str, source: str = "the key") -> tuple[str, bytes, str]:
    """(type, blob, comment) of an OpenSSH public key line; UsageError if it is not one."""
    if "PRIVATE KEY" in text:
        raise UsageError(f"{source} is a private key", "give the .pub file instead")
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise UsageError(f"{source} is not an OpenSSH public key",
                         "expected a line such as 'ssh-ed25519 AAAA... comment'")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        raise UsageError(f"{source} has a damaged key body (not valid base64 key data)") from None
    if embedded != parts[0]:
        raise UsageError(f"{source} says {parts[0]} but holds a {embedded or 'damaged'} key")
    _load_with_cryptography(parts[0], parts[1], source)
    return parts[0], blob, parts[2] if len(parts) > 2 else ""


def _load_with_cryptography(key_type: str, body: str, source: str) -> None:
    # The cryptography package (a dependency of paramiko) checks the key's structure.
    if key_type.startswith("sk-"):
        return  # security-key types are not loadable by cryptography; the checks above hold
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        load_ssh_public_key(f"{key_type} {body}".encode())
    except (ValueError, TypeError) as error:
        raise UsageError(f"{source} is not a valid {key_type} key: {error}") from None


def fingerprint(public_key: str) -> str:
    _, blob, _ = parse_public_key(public_key)
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def default_public_key() -> Path:
    """The user's usual public key: ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub."""
    ssh_dir = Path.home() / ".ssh"
    for name in ("id_ed25519.pub", "id_rsa.pub"):
        if (ssh_dir / name).is_file():
            return ssh_dir / name
    raise ConfigError(f"no public key found in {ssh_dir} (id_ed25519.pub, id_rsa.pub)",
                      "give one with --source=FILE or make one with 'cms key gen NAME'")


def read_public_key(path: Path) -> dict:
    """A registry entry for the public key file at path (validated)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"no such key file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read key file {path}: {error}") from None
    key_type, _, _ = parse_public_key(text, str(path))
    private = path.with_suffix("") if path.suffix == ".pub" else None
    return {"type": key_type, "fingerprint": fingerprint(text), "public_key": text,
            "path": str(path),
            "private_path": str(private) if private and private.is_file() else None}


def generate_ed25519(private_path: Path, comment: str) -> dict:
    """Write a new ed25519 pair (private key 0600, never printed); return its entry."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if os.path.lexists(path):  # a link to nothing "exists" too: never written through
            raise UsageError(f"{path} exists; not overwritten", "pick another key name")
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_bytes = key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.OpenSSH,
                                      serialization.NoEncryption())
    public_text = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                serialization.PublicFormat.OpenSSH).decode()
    public_text = f"{public_text} {comment}"
    # O_EXCL with mode 0600: the private key is never readable by others, not even
    # briefly; with O_NOFOLLOW, never written through a symbolic link planted meanwhile
    _create_new(private_path, private_bytes, 0o600)
    try:
        _create_new(public_path, (public_text + "\n").encode(), 0o644)
    except BaseException:
        os.unlink(private_path)
        raise
    return {"type": "ssh-ed25519", "fingerprint": fingerprint(public_text),
            "public_key": public_text, "path": str(public_path),
            "private_path": str(private_path)}


def _create_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (which must not exist, not even as a symbolic link) with ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} exists; not overwritten", "pick another key name") from None
    except OSError as error:
        raise ConfigError(f"cannot create {path}: {error.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
