"""Write a commented cloudmesh.yaml template (one example cloud per kind).

Usage:
  cms init [--user=USER]

Options:
  --user=USER   the profile user; generated VM names are USER-vm-N [default: $USER]

An existing file is never overwritten. The file is written with mode 0600.
"""

from __future__ import annotations

import os
import sys

from cloudmesh.compute.command import run_command

TEMPLATE = """\
# cloudmesh.yaml: the clouds cms knows. Edit with any editor or 'cms config set'.
# A value written as ${{NAME}} is read from the environment variable NAME when used;
# prefer that (or the vendor's own credential files) to writing secrets here.
cloudmesh:
  profile:
    user: {user}              # generated VM names are {user}-vm-1, {user}-vm-2, ...
  default:
    cloud: aws                 # used when neither --cloud nor 'cms set cloud=' says
  compute:
    # Amazon EC2 (distribution cloudmesh-aws). Omitted credentials come from ~/.aws
    # and the AWS_* environment variables, as with the aws CLI.
    aws:
      cm:
        kind: aws
        label: my AWS account
      credentials:
        region: us-east-1
        # profile: default                                  # a profile of ~/.aws/config
        # access_key_id: ${{AWS_ACCESS_KEY_ID}}
        # secret_access_key: ${{AWS_SECRET_ACCESS_KEY}}
        # endpoint_url: https://ec2.us-east-1.amazonaws.com   # private clouds, tests
      default:
        image: ami-0c7217cdde317cfec      # Ubuntu 22.04 in us-east-1; see 'cms image list'
        flavor: t3.micro
        username: ubuntu
        key: {user}
        secgroup: default
    # OpenStack (distribution cloudmesh-openstack): name a clouds.yaml entry, or give
    # auth_url, username, password, project_name, user_domain_name, project_domain_name.
    openstack:
      cm:
        kind: openstack
      credentials:
        cloud: openstack
        # auth_url: https://keystone.example.org:5000/v3
        # password: ${{OS_PASSWORD}}
      default:
        image: ubuntu-24.04
        flavor: m1.small
        username: ubuntu
    # Microsoft Azure (distribution cloudmesh-azure). Omitted credentials use 'az login'.
    azure:
      cm:
        kind: azure
      credentials:
        subscription_id: ${{AZURE_SUBSCRIPTION_ID}}
        resource_group: cloudmesh
        location: eastus
      default:
        image: Canonical:ubuntu-24_04-lts:server:latest
        flavor: Standard_B1s
        username: azureuser
    # Google Compute Engine (distribution cloudmesh-google). Omitted credentials use
    # application default credentials (gcloud auth application-default login).
    google:
      cm:
        kind: google
      credentials:
        project: my-project
        zone: us-central1-a
      default:
        image: projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64
        flavor: e2-micro
        username: ubuntu
    # Oracle Cloud Infrastructure (distribution cloudmesh-oracle): a profile of ~/.oci/config.
    oracle:
      cm:
        kind: oracle
      credentials:
        profile: DEFAULT
        compartment_id: ocid1.compartment.oc1..example
      default:
        image: Canonical-Ubuntu-24.04-2024.10.09-0
        flavor: VM.Standard.E2.1.Micro
        username: ubuntu
    # Multipass on this computer (distribution cloudmesh-multipass).
    multipass:
      cm:
        kind: multipass
      credentials:
        executable: multipass
      default:
        image: "24.04"
        flavor: default
        username: ubuntu
"""


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


def _init(arguments: dict) -> int:
    from cloudmesh.compute.config import Config

    config = Config()
    _seed_default_secgroup()
    if config.path.exists():
        print(f"{config.path} exists; left as it is", file=sys.stderr)
        return 0
    user = arguments["--user"]
    if not user or user == "$USER":
        user = os.environ.get("USER") or "cloudmesh"
    config.write_text(TEMPLATE.format(user=user))
    print(f"wrote {config.path}", file=sys.stderr)
    return 0
