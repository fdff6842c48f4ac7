"""Lab, part 1: the images, flavors and VMs of a cloud, from Python.

    python examples/list_cloud.py sandbox      # after 'cms sandbox start'
    python examples/list_cloud.py mycloud      # any cloud of ~/.cloudmesh/cloudmesh.yaml

Without an argument: the default cloud ('cms set cloud=', then cloudmesh.default.cloud).
``Config()`` reads cloudmesh.yaml (secrets stay masked); ``Provider(cloud)`` talks to the
cloud, whatever its kind.
"""

from __future__ import annotations

import sys

from cloudmesh.compute import CmsError, Config, Provider
from cloudmesh.compute.errors import print_error

SHOWN = 5  # lists can be long: the first few of each


def main(cloud: str | None) -> int:
    config = Config()
    print(f"Clouds in {config.path}: {', '.join(sorted(config.clouds()))}")
    provider = Provider(cloud)
    entry = config.cloud(provider.name)
    print(f"Cloud {provider.name}: kind {provider.kind}, "
          f"{entry.get('cm', {}).get('label') or 'no label'}")

    images = provider.images()
    print(f"Images ({min(SHOWN, len(images))} of {len(images)}):")
    for image in images[:SHOWN]:
        print(f"  {image['id']}  {image['name']}")

    flavors = provider.flavors()
    print(f"Flavors ({min(SHOWN, len(flavors))} of {len(flavors)}):")
    for flavor in flavors[:SHOWN]:
        print(f"  {flavor['name']}: {flavor['vcpus']} vCPUs, {flavor['ram_mb']} MB")

    vms = provider.list()
    print(f"VMs ({len(vms)}):")
    for vm in vms:
        print(f"  {vm['name']}: {vm['status']} {', '.join(vm.get('public_ips') or [])}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
    except CmsError as error:  # one line (secrets scrubbed) and cms's own exit code
        print_error(error)
        sys.exit(error.exit_code)
