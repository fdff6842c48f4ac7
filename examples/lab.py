"""The cloudmesh lab in Python: list the images, flavors and VMs of a cloud, boot a VM,
wait until it answers over SSH, run a command on it, and delete it.

    python examples/lab.py mycloud

``mycloud`` is a cloud of ~/.cloudmesh/cloudmesh.yaml whose ``default:`` block names an
image, a flavor and a key of ``cms key list``; without an argument, the default cloud.
"""

import sys

from cloudmesh.compute import CmsError, Provider
from cloudmesh.compute.errors import print_error


def main(cloud: str | None) -> int:
    provider = Provider(service=cloud)  # Provider(cloud) is the same
    print(f"Images of {provider.name}:")
    for image in provider.images()[:5]:
        print(f"  {image['name']} ({image['id']})")
    print("Flavors:")
    for flavor in provider.flavors()[:5]:
        print(f"  {flavor['name']}: {flavor['vcpus']} vCPUs, {flavor['ram_mb']} MB")
    print("VMs:")
    for vm in provider.list():
        print(f"  {vm['name']}: {vm['status']}")

    # one VM, its name generated (USER-vm-N), image, flavor and key from the defaults
    (booted,) = provider.boot(wait=True, timeout=600)
    vm = booted.get()  # the VM's record, or raises why it did not boot
    name = vm["name"]
    print(f"Booted {name}: {vm['status']}")
    try:
        provider.wait(name, status="ssh", timeout=300)[0].get()
        result = provider.ssh(name, "uname -s")
        print(f"{name} runs {result['stdout'].strip()} (exit code {result['exit_code']})")
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
