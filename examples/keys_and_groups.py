"""Lab, part 2: a key and a security group made from Python, uploaded, a VM booted with
them, ``uname -a`` run on it over SSH, and the VM deleted.

    python examples/keys_and_groups.py sandbox      # after 'cms sandbox start'
    python examples/keys_and_groups.py mycloud      # any cloud whose default: block names
                                                    # an image and a flavor

Running it twice is fine: the key and the group are made once and reused (the local ones
live in ~/.cloudmesh, as with 'cms key gen' and 'cms secgroup add'). It leaves the key
and the group on the cloud; 'cms key delete lab-key --cloud=...' and 'cms secgroup delete
lab-web --cloud=...' remove them.
"""

from __future__ import annotations

import sys

from cloudmesh.compute import CmsError, Config, Provider, State
from cloudmesh.compute.errors import print_error
from cloudmesh.compute.files import config_dir
from cloudmesh.compute.keys import generate_ed25519
from cloudmesh.compute.secgroups import parse_rule

KEY = "lab-key"
GROUP = "lab-web"
RULES = [("tcp", "22", "0.0.0.0/0"), ("tcp", "80:443", "0.0.0.0/0"), ("icmp", "all", "0.0.0.0/0")]


def make_key(state: State) -> dict:
    """An ed25519 key in the local registry (as 'cms key gen'), made once."""
    key = state.key_get(KEY)
    if key is None:
        key = {"name": KEY, **generate_ed25519(config_dir() / "keys" / KEY,
                                               f"{Config().username()}@cms:{KEY}")}
        state.key_put(key)
        print(f"Made the key {KEY}: {key['fingerprint']}")
    return key


def make_group(state: State) -> None:
    """A local security group and its rules (as 'cms secgroup add' and 'rule add')."""
    # the rules given replace the group's, so a second run leaves it as it was
    state.secgroup_put(GROUP, "the lab's web servers",
                       rules=[parse_rule(protocol, ports, cidr) for protocol, ports, cidr in RULES])
    rules = state.secgroup_get(GROUP)["rules"]
    print(f"Group {GROUP}: {len(rules)} rules")


def main(cloud: str | None) -> int:
    provider = Provider(cloud)
    make_key(provider.state)
    make_group(provider.state)
    print(f"Key on {provider.name}: {provider.upload_key(KEY)['action']}")
    provider.upload_secgroup(GROUP)
    print(f"Group on {provider.name}: {[g['name'] for g in provider.secgroups()]}")

    (booted,) = provider.boot(key=KEY, secgroups=GROUP, wait=True, timeout=600)
    vm = booted.get()  # the VM's record, or raises why it did not boot
    name = vm["name"]
    print(f"Booted {name}: {vm['status']}")
    try:
        provider.wait(name, status="ssh", timeout=300)[0].get()
        result = provider.ssh(name, "uname -a")
        print(f"{name}: {result['stdout'].strip()} (exit code {result['exit_code']})")
    finally:
        provider.delete(name, wait=True)
        print(f"Deleted {name}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
    except CmsError as error:  # one line (secrets scrubbed) and cms's own exit code
        print_error(error)
        sys.exit(error.exit_code)
