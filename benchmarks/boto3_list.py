"""The bare boto3 script a user would write instead of ``cms vm list --output=json``:
page through describe_instances and print the instances as JSON.

It is kept minimal on purpose, so that it is the floor of what any boto3-based tool must
spend: compact JSON (Python's C encoder; ``indent=`` would switch to the slower pure-Python
encoder) and no mapping of the EC2 objects.

Usage: python boto3_list.py ENDPOINT_URL REGION
(credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
"""

import json
import sys

import boto3

endpoint, region = sys.argv[1], sys.argv[2]
client = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
paginator = client.get_paginator("describe_instances")
instances = [instance for page in paginator.paginate()
             for reservation in page["Reservations"]
             for instance in reservation["Instances"]]
json.dump(instances, sys.stdout, default=str)
sys.stdout.write("\n")
