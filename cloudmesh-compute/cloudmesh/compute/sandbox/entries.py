"""The sandbox's cloud entries in cloudmesh.yaml: written through ``Config``, removed by a
locked read-modify-write that deletes only entries marked ``cm.sandbox: true``."""

from __future__ import annotations

from typing import Any

from cloudmesh.compute.config import Config
from cloudmesh.compute.errors import ConfigError

#: moto ships this AMI (Ubuntu 14.04) and validates boots against its catalogue
IMAGE = "ami-1e749f67"
FLAVOR = "t3.micro"
REGION = "us-east-1"
#: the login the SSH server accepts (the AMI's login); commands run as the local user
USERNAME = "ubuntu"


def is_sandbox(entry: Any) -> bool:
    """True for a cloud entry the sandbox wrote (``cm.sandbox: true``)."""
    return isinstance(entry, dict) and isinstance(entry.get("cm"), dict) \
        and entry["cm"].get("sandbox") is True


def ec2_entry(ec2_port: int, ssh_port: int) -> dict[str, Any]:
    """The sandbox EC2 cloud: moto's endpoint, throwaway credentials (moto takes any,
    and the vendor chain must not hand the user's real AWS keys to an emulator), and
    defaults that make a boot and an ssh work with nothing else."""
    return {
        "cm": {"kind": "aws", "sandbox": True,
               "label": f"the sandbox: moto's EC2 on 127.0.0.1:{ec2_port}"},
        "credentials": {"region": REGION, "endpoint_url": f"http://127.0.0.1:{ec2_port}",
                        "access_key_id": "sandbox-key-id",
                        "secret_access_key": "sandbox-not-a-secret"},
        "default": {"image": IMAGE, "flavor": FLAVOR, "username": USERNAME,
                    "ssh_host": "127.0.0.1", "ssh_port": ssh_port},
    }


def multipass_entry(executable: str) -> dict[str, Any]:
    return {"cm": {"kind": "multipass", "sandbox": True,
                   "label": "the sandbox's Multipass stand-in (no VM runs)"},
            "credentials": {"executable": executable}}


def check_free(config: Config, name: str) -> None:
    """ConfigError unless ``name`` is free or a sandbox entry (a stale one is replaced)."""
    entry = config.clouds().get(name) if config.exists else None
    if entry is not None and not is_sandbox(entry):
        raise ConfigError(f"cloud '{name}' in {config.path} is yours, not the sandbox's",
                          "start the sandbox under another name: "
                          "cms sandbox start --cloud=NAME")


def sandbox_names(config: Config) -> list[str]:
    """The entries of cloudmesh.yaml marked as the sandbox's."""
    if not config.exists:
        return []
    return [name for name, entry in config.clouds().items() if is_sandbox(entry)]


def write(config: Config, name: str, entry: dict[str, Any]) -> None:
    config.set(f"cloudmesh.compute.{name}", entry)


def remove(config: Config, names: list[str]) -> list[str]:
    """Delete these entries if they are marked as the sandbox's; returns those deleted.
    The rest of the file (comments, order, other clouds) stays as it was."""
    if not names or not config.exists:
        return []
    import io

    from ruamel.yaml import YAML

    from cloudmesh.compute.files import FileLock, atomic_write

    removed: list[str] = []
    with FileLock(config.path):
        yaml = YAML()
        yaml.preserve_quotes = True
        with open(config.path, encoding="utf-8") as handle:
            document = yaml.load(handle)
        root = document.get("cloudmesh") if isinstance(document, dict) else None
        for section_name in ("compute", "cloud"):
            section = root.get(section_name) if isinstance(root, dict) else None
            if not isinstance(section, dict):
                continue
            for name in names:
                if name in section and is_sandbox(section[name]):
                    del section[name]
                    removed.append(name)
        if removed:
            buffer = io.StringIO()
            yaml.dump(document, buffer)
            atomic_write(config.path, buffer.getvalue())
    return removed
