"""What a user would write instead of cms (the baseline of make bench's google row):
list every instance of a project across zones with google-cloud-compute over REST (the
aggregated list, all pages), and print compact JSON of the fields cms shows.

    python bare_list.py API_ENDPOINT PROJECT   (the access token in $GOOGLE_FAKE_TOKEN)
"""

import json
import os
import sys

from google.cloud import compute_v1
from google.oauth2.credentials import Credentials


def main() -> None:
    endpoint, project = sys.argv[1:3]
    client = compute_v1.InstancesClient(
        credentials=Credentials(os.environ["GOOGLE_FAKE_TOKEN"]), transport="rest",
        client_options={"api_endpoint": endpoint})
    out = []
    request = compute_v1.AggregatedListInstancesRequest(project=project)
    for zone, scoped in client.aggregated_list(request=request):
        for instance in scoped.instances:
            nics = instance.network_interfaces
            out.append({"name": instance.name, "status": instance.status,
                        "zone": zone.rsplit("/", 1)[-1],
                        "machine_type": instance.machine_type.rsplit("/", 1)[-1],
                        "public_ips": [a.nat_i_p for n in nics for a in n.access_configs
                                       if a.nat_i_p],
                        "private_ips": [n.network_i_p for n in nics],
                        "created": instance.creation_timestamp})
    sys.stdout.write(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
