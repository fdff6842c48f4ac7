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
from dataclasses import dataclass
from pathlib import Path

from cloudmesh.compute.errors import ConfigError, UsageError

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")
#: how to pick one key out of a file that holds several
ONE_KEY_HINT = ("put the one key you mean in a file of its own (e.g. sed -n 1p FILE > "
                "one.pub) and give it with --source=one.pub")


@dataclass(frozen=True)
class PublicKey:
    """One validated OpenSSH public key. What cms injects into a VM (GCE ``ssh-keys``,
    Azure osProfile, OCI metadata, cloud-init) is built from these parts with ``line()``,
    never from the text a user or a registry handed in."""

    type: str
    blob: bytes
    comment: str = ""

    def line(self) -> str:
        """The canonical single line: ``TYPE BASE64 [COMMENT]``."""
        body = base64.b64encode(self.blob).decode("ascii")
        return f"{self.type} {body} {self.comment}" if self.comment else f"{self.type} {body}"

    @property
    def fingerprint(self) -> str:
        """OpenSSH's ``SHA256:...`` (as ``ssh-keygen -l`` prints it)."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")
        return f"SHA256:{digest}"

    def __repr__(self) -> str:
        return f"PublicKey({self.type} {self.fingerprint})"


def parse_public_key(text: str, source: str = "the key") -> PublicKey:
    """The one OpenSSH public key in ``text``; UsageError (naming ``source``) for anything
    else: a private key, several keys or lines, an options prefix (``command="..."``,
    ``from=``) or a ``user:`` prefix, an unknown type, a body that does not decode or
    whose embedded type differs, a comment with control characters."""
    if "PRIVATE KEY" in text:
        raise UsageError(f"{source} is a private key", "give the .pub file instead")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        keys = sum(1 for line in lines if any(t in line for t in KEY_TYPES))
        what = f"{keys} keys" if keys > 1 else f"{len(lines)} lines"
        raise UsageError(f"{source} holds {what}; cms takes exactly one public key",
                         ONE_KEY_HINT)
    parts = lines[0].strip().split(None, 2) if lines else []
    if not parts:
        raise UsageError(f"{source} is empty", "expected a line such as "
                         "'ssh-ed25519 AAAA... comment'")
    if parts[0] not in KEY_TYPES:
        raise UsageError(f"{source} {_what_is_before_the_type(parts[0])}",
                         "expected a line such as 'ssh-ed25519 AAAA... comment'")
    if len(parts) < 2:
        raise UsageError(f"{source} has a key type but no key body")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        raise UsageError(f"{source} has a damaged key body (not valid base64 key data)") from None
    if embedded != parts[0]:
        raise UsageError(f"{source} says {parts[0]} but holds a {embedded or 'damaged'} key")
    _load_with_cryptography(parts[0], parts[1], source)
    comment = parts[2].strip() if len(parts) > 2 else ""
    if any(_is_control(c) for c in comment):
        raise UsageError(f"{source} has a control character in its comment",
                         "edit the comment (the text after the key body) to plain text")
    return PublicKey(parts[0], blob, comment)


def _what_is_before_the_type(first: str) -> str:
    """Why a line whose first word is not a key type is refused, in the user's terms."""
    user, colon, rest = first.partition(":")
    if colon and rest in KEY_TYPES:
        return (f"starts with a '{user}:' login prefix; cms takes the key alone "
                "(the login is --username)")
    if "=" in first or first.split(",")[0] in ("restrict", "no-pty", "cert-authority"):
        return ("starts with authorized_keys options (command=, from=, ...); cms takes "
                "the key alone")
    return "is not an OpenSSH public key"


def _is_control(char: str) -> bool:
    # C0 (tab included), DEL, C1, and the bidirectional controls that reorder what is shown
    code = ord(char)
    return code < 0x20 or 0x7f <= code < 0xa0 or 0x202a <= code <= 0x202e \
        or 0x2066 <= code <= 0x2069 or code in (0x2028, 0x2029, 0x200e, 0x200f)


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
    return parse_public_key(public_key).fingerprint


def fingerprint_or(public_key: str | None, cloud_fingerprint: str | None) -> str | None:
    """The key's OpenSSH fingerprint, else the cloud's own (the cloud kept no public key,
    or one of a type cms cannot parse), so that a key record shows one either way."""
    try:
        return fingerprint(public_key) if public_key else cloud_fingerprint
    except UsageError:
        return cloud_fingerprint


def default_public_key() -> Path:
    """The user's usual public key: ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub."""
    ssh_dir = Path.home() / ".ssh"
    for name in ("id_ed25519.pub", "id_rsa.pub"):
        if (ssh_dir / name).is_file():
            return ssh_dir / name
    error = ConfigError(f"no public key found in {ssh_dir} (id_ed25519.pub, id_rsa.pub)",
                        "name a key file (source=FILE) or make one (Keys().gen(NAME))")
    error.cli_hint = "give one with --source=FILE or make one with 'cms key gen NAME'"
    raise error


def read_public_key(path: Path) -> dict:
    """A registry entry for the public key file at path (validated)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"no such key file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read key file {path}: {error}") from None
    key = parse_public_key(text, str(path))
    private = path.with_suffix("") if path.suffix == ".pub" else None
    return {"type": key.type, "fingerprint": key.fingerprint, "public_key": key.line(),
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
    """Create ``path`` (which must not exist, not even as a symbolic link) with ``mode``:
    0600 through files.create_private, so a private key is never readable by others."""
    from cloudmesh.compute.files import create_private

    try:
        if mode == 0o600:
            create_private(path, data, exclusive=True)
        else:  # a public key: the user's umask applies
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(path, flags, mode), "wb") as handle:
                handle.write(data)
    except FileExistsError:
        raise UsageError(f"{path} exists; not overwritten", "pick another key name") from None
    except OSError as error:
        raise ConfigError(f"cannot create {path}: {error.strerror}") from None
