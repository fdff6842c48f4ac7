"""Write a commented cloudmesh.yaml template and define the local security group 'default'.

Usage:
  cms init [--user=USER] [--force]

Options:
  --user=USER   the profile user; generated VM names are USER-vm-N [default: $USER]
  --force       replace an existing file with the template; the old one is kept as
                cloudmesh.yaml.bak (for a broken file, or to start over)

Every entry of the template works as written: the clouds of installed kinds that need
nothing of yours (aws with the vendor's credential chain, multipass on this computer) are
active; the other kinds are commented examples to fill in, and kinds that are not
installed say how to install them. 'cms config check' passes on a fresh template.

An existing file is left as it is, unless it is empty (then it is replaced) or --force
is given. The file is written with mode 0600. The local group 'default' (ssh on 22 and
icmp from anywhere) is defined once the file is in place.
"""

from __future__ import annotations

import os
import sys

from cloudmesh.compute.command import run_command
from cloudmesh.compute.errors import ConfigError

HEADER = """\
# cloudmesh.yaml: the clouds cms knows. Edit with any editor or 'cms config set'.
# A value written as ${{NAME}} is read from the environment variable NAME when used;
# prefer that (or the vendor's own credential files) to writing secrets here.
# Entries that start with '#' are examples: remove the '# ' of a whole block and fill in
# your values, then 'cms config check' and 'cms check CLOUD'.
cloudmesh:
  profile:
    user: {user}              # generated VM names are {user}-vm-1, {user}-vm-2, ...
"""

#: one block per kind: (comment lines, entry lines); entries need nothing of the user's
#: when they are in ACTIVE, otherwise they are written as comments to fill in
BLOCKS = {
    "aws": ("""\
# Amazon EC2 (distribution cloudmesh-aws). Credentials come from ~/.aws and the AWS_*
# environment variables, as with the aws CLI (or uncomment the keys below).""", """\
aws:
  cm:
    kind: aws
    label: my AWS account
  credentials:
    region: us-east-1
    # profile: default                                  # a profile of ~/.aws/config
    # access_key_id: ${{AWS_ACCESS_KEY_ID}}
    # secret_access_key: ${{AWS_SECRET_ACCESS_KEY}}
  default:
    image: ami-0c7217cdde317cfec      # Ubuntu 22.04 in us-east-1; see 'cms image list'
    flavor: t3.micro
    username: ubuntu
    secgroup: default                 # the local group of 'cms init' (ssh, icmp)
    # key: {user}                     # after 'cms key add {user}' (or 'cms key gen {user}')"""),
    "openstack": ("""\
# OpenStack (distribution cloudmesh-openstack): name an entry of your clouds.yaml, or
# give auth_url, username, password, project_name, user_domain_name, project_domain_name.""",
                  """\
openstack:
  cm:
    kind: openstack
  credentials:
    cloud: openstack                  # the name of your clouds.yaml entry
    # auth_url: https://keystone.example.org:5000/v3
    # password: ${{OS_PASSWORD}}
  default:
    image: ubuntu-24.04
    flavor: m1.small
    username: ubuntu"""),
    "azure": ("""\
# Microsoft Azure (distribution cloudmesh-azure): your subscription id; 'az login' or a
# service principal (tenant_id, client_id, client_secret) for the credentials.""", """\
azure:
  cm:
    kind: azure
  credentials:
    subscription_id: 00000000-0000-0000-0000-000000000000   # az account show --query id
    resource_group: cloudmesh
    location: eastus
  default:
    image: ubuntu-24.04
    flavor: Standard_B1s
    username: azureuser"""),
    "google": ("""\
# Google Compute Engine (distribution cloudmesh-google): your project; application
# default credentials (gcloud auth application-default login) or service_account_file.""",
               """\
google:
  cm:
    kind: google
  credentials:
    project: my-project               # gcloud config get-value project
    zone: us-central1-a
  default:
    image: family/ubuntu-2404-lts-amd64
    flavor: e2-micro
    username: ubuntu"""),
    "oracle": ("""\
# Oracle Cloud Infrastructure (distribution cloudmesh-oracle): a profile of ~/.oci/config
# and the compartment to use.""", """\
oracle:
  cm:
    kind: oracle
  credentials:
    profile: DEFAULT
    compartment_id: ocid1.compartment.oc1..your-compartment
  default:
    image: Canonical-Ubuntu-24.04
    flavor: VM.Standard.E2.1.Micro
    username: ubuntu"""),
    "multipass": ("""\
# Multipass on this computer (distribution cloudmesh-multipass; needs the multipass
# command). A cloud named 'multipass' works even without this entry.""", """\
multipass:
  cm:
    kind: multipass
  default:
    image: "24.04"
    flavor: tiny                      # 1 CPU, 1G, 5G; small, medium, ... or 2cpu-4G-20G
    username: ubuntu"""),
}
#: kinds whose example works without anything of the user's
ACTIVE = ("aws", "multipass")


def template(user: str, installed) -> str:
    """The template for these installed kinds."""
    def indent(text: str, prefix: str) -> str:
        return "\n".join(prefix + line for line in text.splitlines())

    active = [kind for kind in ACTIVE if kind in installed]
    default = active[0] if active else None
    parts = [HEADER.format(user=user)]
    if default:
        parts.append(f"  default:\n    cloud: {default}"
                     "                 # used when neither --cloud nor 'cms set cloud=' says\n")
    else:
        parts.append("  # default:\n  #   cloud: mycloud          # used when neither --cloud "
                     "nor 'cms set cloud=' says\n")
    parts.append("  compute:\n" if active else "  compute: {}\n")
    for kind, (comment, entry) in BLOCKS.items():
        entry = entry.format(user=user)
        lines = [indent(comment, "    ")]
        if kind not in installed:
            from cloudmesh.compute.registry import install_hint

            lines.append(f"    # (kind {kind} is not installed; {install_hint(kind)})")
        if kind in active:
            lines.append(indent(entry, "    "))
        else:
            lines.append(indent(entry, "    # "))
        parts.append("\n".join(lines) + "\n")
    return "".join(parts)


def run(argv: list[str]) -> int:
    return run_command(_init, __doc__, argv)


def _seed_default_secgroup() -> None:
    """Define the 'default' security group locally unless the user already has one."""
    from cloudmesh.compute.secgroups import DEFAULT_GROUP
    from cloudmesh.compute.state import State

    state = State()
    if state.secgroup_get(DEFAULT_GROUP["name"]) is None:
        state.secgroup_put(DEFAULT_GROUP["name"], DEFAULT_GROUP["description"],
                           DEFAULT_GROUP["rules"])
        print("defined the security group 'default' (ssh 22, icmp)", file=sys.stderr)


def _existing_problem(config) -> str | None:
    """None for a usable file, "empty" for one with nothing in it, else the error."""
    from cloudmesh.compute.errors import CmsError

    try:
        if not config.path.read_bytes().strip():
            return "empty"
        config.data
    except CmsError as error:
        return "empty" if str(error.message).endswith(" is empty") else error.message
    except OSError as error:
        return f"cannot read {config.path}: {error.strerror}"
    return None


def _backup(config) -> str:
    """Keep the old file as cloudmesh.yaml.bak (mode 0600); its path."""
    from pathlib import Path

    from cloudmesh.compute.files import atomic_write, write_target

    source = write_target(config.path)
    backup = Path(f"{config.path}.bak")
    try:
        data = source.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {config.path} to back it up: {error.strerror}",
                          "move it away yourself, then run 'cms init'") from None
    atomic_write(backup, data.decode("utf-8", "surrogateescape"))
    return str(backup)


def _init(arguments: dict) -> int:
    from cloudmesh.compute import registry
    from cloudmesh.compute.config import Config

    config = Config()
    user = arguments["--user"]
    if not user or user == "$USER":
        user = os.environ.get("USER") or "cloudmesh"
    from cloudmesh.compute.names import sanitised_user

    if not user.strip() or any(c in user for c in "\n\r#:{}[]'\"") or user != user.strip():
        raise ConfigError(f"--user '{user}' cannot be a profile user",
                          f"use letters, digits, '.', '_' and '-', e.g. --user="
                          f"{sanitised_user(user) or 'alice'}")
    if config.path.is_dir():
        raise ConfigError(f"{config.path} is a directory, not a file",
                          "move it away and run 'cms init' again")
    exists = config.path.exists() or config.path.is_symlink()
    if exists and config.path.exists():
        problem = _existing_problem(config)
        if problem is None and not arguments["--force"]:
            print(f"{config.path} exists; left as it is ('cms init --force' replaces it "
                  "with the template, keeping a backup)", file=sys.stderr)
            _seed_default_secgroup()
            return 0
        if problem not in (None, "empty") and not arguments["--force"]:
            raise ConfigError(f"{config.path} exists but cannot be used: {problem}",
                              "fix it, or run 'cms init --force' to replace it with the "
                              "template (the old file is kept as cloudmesh.yaml.bak)")
        if config.path.stat().st_size:
            print(f"kept the old file as {_backup(config)}", file=sys.stderr)
    config.write_text(template(user, registry.kinds()))
    print(f"wrote {config.path}", file=sys.stderr)
    _seed_default_secgroup()
    print("next: 'cms check' tries its clouds; add yours by editing the file (the commented "
          "examples) or with 'cms config set'", file=sys.stderr)
    return 0
