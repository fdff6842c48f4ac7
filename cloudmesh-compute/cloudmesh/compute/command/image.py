"""List and show the images of a cloud.

Usage:
  cms image list [--cloud=CLOUD] [--region=REGIONS] [--output=FORMAT] [--all | --cached]
                 [--filter=KEY=GLOB]... [--limit=N]
  cms image show NAME [--cloud=CLOUD] [--output=FORMAT]

Arguments:
  NAME   an image name or id

Options:
  --cloud=CLOUD    the cloud (default: 'cms set cloud=', then cloudmesh.default.cloud)
  -o, --output=FORMAT  table, json, yaml or csv [default: table]
  --filter=KEY=GLOB  for list: only images whose field KEY matches the shell pattern
                     GLOB (name=ubuntu*, os=linux); several keys: all must match
  --limit=N          for list: at most N images (after --filter)
  --all            every build, not only the newest of each family (on kinds whose list
                   is a catalogue: google, oracle, azure, openstack's hidden builds)
  --cached         list what the last live list saw, without asking the cloud
  --region=REGIONS for list: these regions (R1,R2) or all, instead of the configured one
                   (several clouds at once: give --cloud=a,b or --cloud=all)
"""

from __future__ import annotations

from cloudmesh.compute.command import run_command
from cloudmesh.compute.command.flavor import list_or_show
from cloudmesh.compute.output import IMAGE_COLUMNS


def run(argv: list[str]) -> int:
    return run_command(lambda a: list_or_show(a, "image", "images", IMAGE_COLUMNS), __doc__,
                       argv)
