"""The bare openstacksdk script cms is compared with: list every server of a project and
print compact JSON. Usage: bare_list.py AUTH_URL (the password in $OS_PASSWORD)."""

import json
import os
import sys

import openstack.connection

connection = openstack.connection.Connection(
    auth_url=sys.argv[1], username="demo", password=os.environ["OS_PASSWORD"],
    project_name="demo", user_domain_name="Default", project_domain_name="Default",
    region_name="RegionOne")
servers = [server.to_dict(computed=False) for server in connection.compute.servers()]
print(json.dumps(servers, separators=(",", ":"), default=str))
