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

from cloudmesh.compute import CmsError, Provider
from cloudmesh.compute.errors import print_error

KEY = "lab-key"
GROUP = "lab-web"
RULES = [("tcp", 22, "0.0.0.0/0"), ("tcp", "80:443", "0.0.0.0/0"), ("icmp", "all", "0.0.0.0/0")]


def make_key(provider: Provider) -> dict:
    """An ed25519 key in the local registry (as 'cms key gen'), made once: a second run
    finds it (``action`` "unchanged") instead of refusing the name."""
    key = provider.keys.gen(KEY, exist_ok=True)
    if key["action"] == "generated":
        print(f"Made the key {KEY}: {key['fingerprint']}")
    return key


def make_group(provider: Provider) -> dict:
    """A local security group and its rules (as 'cms secgroup add' and 'rule add'); a
    rule the group has already is left as it is, so a second run changes nothing."""
    provider.secgroups.add(GROUP, "the lab's web servers")
    for protocol, ports, cidr in RULES:
        provider.secgroups.rule_add(GROUP, protocol, ports, cidr)
    group = provider.secgroups.get(GROUP)
    print(f"Group {GROUP}: {len(group['rules'])} rules")
    return group


def main(cloud: str | None) -> int:
    provider = Provider(cloud)
    make_key(provider)
    make_group(provider)
    print(f"Key on {provider.name}: {provider.keys.upload(KEY)['action']}")
    uploaded = provider.secgroups.upload(GROUP)  # adds only the rules the cloud lacks
    print(f"Group on {provider.name}: {'created' if uploaded['created'] else 'there'}, "
          f"{len(uploaded['added'])} rules added")
    print(f"Groups on {provider.name}: {[g['name'] for g in provider.secgroups()]}")

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
