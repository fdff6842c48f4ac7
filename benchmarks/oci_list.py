"""The bare oci-SDK script cms is compared with on an oracle cloud (``make bench``): list
a compartment's instances and their addresses, and print compact JSON of the fields cms
shows.

What a user would write: a ComputeClient and a VirtualNetworkClient on the endpoint, every
instance and every VNIC attachment of the compartment through
``oci.pagination.list_call_get_all_results``, then ``get_vnic`` for each attached VNIC on
16 threads (one shared client), and ``json.dumps`` with compact separators.

Usage: python oci_list.py ENDPOINT KEY_FILE FINGERPRINT USER TENANCY REGION
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import oci


def main() -> None:
    endpoint, key_file, fingerprint, user, tenancy, region = sys.argv[1:7]
    config = {"user": user, "fingerprint": fingerprint, "key_file": key_file,
              "tenancy": tenancy, "region": region}
    compute = oci.core.ComputeClient(config, service_endpoint=endpoint)
    network = oci.core.VirtualNetworkClient(config, service_endpoint=endpoint)
    instances = oci.pagination.list_call_get_all_results(
        compute.list_instances, tenancy, limit=1000).data
    attachments = [a for a in oci.pagination.list_call_get_all_results(
        compute.list_vnic_attachments, tenancy).data
        if a.vnic_id and a.lifecycle_state == "ATTACHED"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        vnics = list(pool.map(lambda a: (a.instance_id, network.get_vnic(a.vnic_id).data),
                              attachments))
    by_instance: dict = {}
    for instance_id, vnic in vnics:
        by_instance.setdefault(instance_id, []).append(vnic)
    out = []
    for instance in instances:
        found = by_instance.get(instance.id, [])
        out.append({"name": instance.display_name, "id": instance.id,
                    "state": instance.lifecycle_state, "shape": instance.shape,
                    "zone": instance.availability_domain,
                    "public_ips": [v.public_ip for v in found if v.public_ip],
                    "private_ips": [v.private_ip for v in found if v.private_ip],
                    "created": instance.time_created.isoformat()})
    sys.stdout.write(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
