"""The bare script a user would write instead of ``cms vm list --cloud=multipass
--output=json``: ``multipass list`` for the names, one ``multipass info`` for all of them
(sizes, images, addresses), both as JSON, printed as one compact JSON array.

Usage: python multipass_list.py MULTIPASS_EXECUTABLE
"""

import json
import subprocess
import sys

multipass = sys.argv[1]
rows = json.loads(subprocess.run([multipass, "list", "--format", "json"], check=True,
                                 capture_output=True, text=True).stdout)["list"]
names = [row["name"] for row in rows]
info = json.loads(subprocess.run([multipass, "info", *names, "--format", "json"], check=True,
                                 capture_output=True, text=True).stdout)["info"] if names else {}
json.dump([{**row, **info.get(row["name"], {})} for row in rows], sys.stdout)
sys.stdout.write("\n")
