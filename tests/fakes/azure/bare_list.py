"""What a user would write instead of cms (the baseline of make bench's azure row):
list a resource group's VMs with azure-mgmt-compute, their NICs and public IPs with
azure-mgmt-network (one list each, as the provider does), and print compact JSON.

    python bare_list.py BASE_URL SUBSCRIPTION RESOURCE_GROUP   (token in $AZURE_FAKE_TOKEN)
"""

import json
import os
import sys
import time

from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from azure.mgmt.network import NetworkManagementClient


class Token:
    def get_token(self, *scopes, **kwargs):
        return AccessToken(os.environ["AZURE_FAKE_TOKEN"], int(time.time()) + 3600)


class Loopback(ARMChallengeAuthenticationPolicy):
    def on_request(self, request):
        request.context["enforce_https"] = False  # the fake is plain http on 127.0.0.1
        return super().on_request(request)


def main() -> None:
    base_url, subscription, group = sys.argv[1:4]
    credential = Token()
    options = dict(base_url=base_url, authentication_policy=Loopback(
        credential, "https://management.azure.com/.default"))
    compute = ComputeManagementClient(credential, subscription, **options)
    network = NetworkManagementClient(credential, subscription, **options)
    vms = list(compute.virtual_machines.list(group))
    # List's $expand=instanceView needs a scale-set $filter (ComputeRP.json): the power
    # states come from the subscription's status-only list, as cms gets them
    views = {v["id"].lower(): v["properties"]["instanceView"]
             for v in compute.virtual_machines.list_all(status_only="true")}
    nics = {n["id"].lower(): n for n in network.network_interfaces.list(group)}
    ips = {i["id"].lower(): i for i in network.public_ip_addresses.list(group)}
    out = []
    for vm in vms:
        public, private = [], []
        for ref in vm["properties"]["networkProfile"]["networkInterfaces"]:
            nic = nics.get(ref["id"].lower())
            for config in (nic or {}).get("properties", {}).get("ipConfigurations", []):
                private.append(config["properties"].get("privateIPAddress"))
                ip_ref = config["properties"].get("publicIPAddress")
                ip = ips.get(ip_ref["id"].lower()) if ip_ref else None
                if ip and ip["properties"].get("ipAddress"):
                    public.append(ip["properties"]["ipAddress"])
        power = [s["code"] for s in views[vm["id"].lower()]["statuses"]
                 if s["code"].startswith("PowerState/")]
        out.append({"name": vm["name"], "state": power[0] if power else None,
                    "size": vm["properties"]["hardwareProfile"]["vmSize"],
                    "public_ips": public, "private_ips": private})
    sys.stdout.write(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
