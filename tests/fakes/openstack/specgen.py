"""Generate ``spec.json``, the per-operation tables the fake checks requests against,
from the OpenStack api-ref trees (reStructuredText ``.inc`` files whose
``rest_method``/``rest_parameters`` blocks name each operation's parameters, and the
``parameters.yaml`` files that say where each lives, its type, whether it is required and
from which microversion).

Run with the four repositories checked out (or as git mirrors)::

    python tests/fakes/openstack/specgen.py /path/nova /path/glance /path/neutron-lib \
        /path/keystone > tests/fakes/openstack/spec.json

Only the operations the fake serves are kept (OPERATIONS below); the words of each
description that constrain values (allowed values, 400 beyond a microversion) are
transcribed by hand in ``spec.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

#: (service, api-ref .inc file, parameters file, method, path) the fake serves
OPERATIONS = {
    "compute": ("api-ref/source/parameters.yaml", [
        ("servers.inc", "GET", "/servers"),
        ("servers.inc", "GET", "/servers/detail"),
        ("servers.inc", "POST", "/servers"),
        ("servers.inc", "GET", "/servers/{server_id}"),
        ("servers.inc", "PUT", "/servers/{server_id}"),
        ("servers.inc", "DELETE", "/servers/{server_id}"),
        ("servers-actions.inc", "POST", "/servers/{server_id}/action"),
        ("servers-admin-action.inc", "POST", "/servers/{server_id}/action"),
        ("metadata.inc", "GET", "/servers/{server_id}/metadata"),
        ("metadata.inc", "POST", "/servers/{server_id}/metadata"),
        ("metadata.inc", "PUT", "/servers/{server_id}/metadata"),
        ("metadata.inc", "DELETE", "/servers/{server_id}/metadata/{key}"),
        ("os-interface.inc", "GET", "/servers/{server_id}/os-interface"),
        ("flavors.inc", "GET", "/flavors"),
        ("flavors.inc", "GET", "/flavors/detail"),
        ("flavors.inc", "GET", "/flavors/{flavor_id}"),
        ("os-keypairs.inc", "GET", "/os-keypairs"),
        ("os-keypairs.inc", "POST", "/os-keypairs"),
        ("os-keypairs.inc", "GET", "/os-keypairs/{keypair_name}"),
        ("os-keypairs.inc", "DELETE", "/os-keypairs/{keypair_name}"),
        ("os-availability-zone.inc", "GET", "/os-availability-zone"),
        ("limits.inc", "GET", "/limits"),
    ]),
    "image": ("api-ref/source/v2/images-parameters.yaml", [
        ("v2/images-images-v2.inc", "GET", "/v2/images"),
        ("v2/images-images-v2.inc", "GET", "/v2/images/{image_id}"),
    ]),
    "network": ("api-ref/source/v2/parameters.yaml", [
        ("v2/networks.inc", "GET", "/v2.0/networks"),
        ("v2/subnets.inc", "GET", "/v2.0/subnets"),
        ("v2/ports.inc", "GET", "/v2.0/ports"),
        ("v2/floatingips.inc", "GET", "/v2.0/floatingips"),
        ("v2/floatingips.inc", "POST", "/v2.0/floatingips"),
        ("v2/floatingips.inc", "GET", "/v2.0/floatingips/{floatingip_id}"),
        ("v2/floatingips.inc", "PUT", "/v2.0/floatingips/{floatingip_id}"),
        ("v2/floatingips.inc", "DELETE", "/v2.0/floatingips/{floatingip_id}"),
        ("v2/security-groups.inc", "GET", "/v2.0/security-groups"),
        ("v2/security-groups.inc", "POST", "/v2.0/security-groups"),
        ("v2/security-groups.inc", "GET", "/v2.0/security-groups/{security_group_id}"),
        ("v2/security-groups.inc", "DELETE", "/v2.0/security-groups/{security_group_id}"),
        ("v2/security-group-rules.inc", "GET", "/v2.0/security-group-rules"),
        ("v2/security-group-rules.inc", "POST", "/v2.0/security-group-rules"),
        ("v2/security-group-rules.inc", "DELETE",
         "/v2.0/security-group-rules/{security_group_rule_id}"),
    ]),
    "identity": ("api-ref/source/v3/parameters.yaml", [
        ("v3/authenticate-v3.inc", "POST", "/v3/auth/tokens"),
    ]),
}
SOURCES = {"compute": "openstack/nova", "image": "openstack/glance",
           "network": "openstack/neutron-lib", "identity": "openstack/keystone"}


def reader(root: str):
    """Read a file of a checkout or of a bare git mirror (HEAD)."""
    base = Path(root)
    if (base / "api-ref").is_dir():
        return (lambda path: (base / path).read_text()), "working tree"
    commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    return (lambda path: subprocess.run(["git", "-C", root, "show", f"HEAD:{path}"],
                                        check=True, capture_output=True,
                                        text=True).stdout), commit


def blocks(text: str):
    """(method, path, [(name, parameter key)]) for each operation of an .inc file: the
    names of the first rest_parameters block under its Request heading."""
    for section in re.split(r"\n\.\. rest_method::\s+", text)[1:]:
        method, path = section.split("\n", 1)[0].split(None, 1)
        request = re.search(r"\nRequest\n-+\n(.*?)(?:\nResponse|\Z)", section, re.S)
        names: list = []
        if request and ".. rest_parameters::" in request[1]:
            listing = request[1].split(".. rest_parameters::", 1)[1].split("\n", 1)[1]
            for line in listing.split("\n"):
                match = re.match(r"^\s+- (\S+?):\s+(\S+)\s*$", line)
                if match:
                    names.append((match[1], match[2]))
                elif line.strip():
                    break
        yield method, path.strip(), names


def operation(names, parameters: dict) -> dict:
    out: dict = {"query": {}, "body": {}, "path": [], "wrapper": None}
    for name, key in names:
        entry = parameters.get(key) or {}
        where = entry.get("in")
        if where == "path":
            out["path"].append(name)
        elif where in ("query", "body"):
            if where == "body" and out["wrapper"] is None:
                out["wrapper"] = name  # the first body field wraps the others
            out[where][name] = {k: entry[k] for k in ("type", "min_version", "max_version")
                                if k in entry}
            out[where][name]["required"] = str(entry.get("required")).lower() == "true"
    return out


def main(roots: list[str]) -> dict:
    spec: dict = {"sources": {}, "operations": {}}
    for (service, (params_file, wanted)), root in zip(OPERATIONS.items(), roots):
        read, commit = reader(root)
        spec["sources"][service] = {"repository": SOURCES[service], "commit": commit,
                                    "parameters": params_file}
        # BaseLoader keeps versions as written: "2.10" is not the float 2.1
        parameters = yaml.load(read(params_file), Loader=yaml.BaseLoader)
        for inc, method, path in wanted:
            text = read("api-ref/source/" + inc)
            found = [names for m, p, names in blocks(text) if (m, p) == (method, path)]
            if not found:
                raise SystemExit(f"{service}: no {method} {path} in {inc}")
            key = f"{service} {method} {path}"
            merged = spec["operations"].setdefault(key, {"query": {}, "body": {},
                                                         "path": [], "from": []})
            for names in found:
                part = operation(names, parameters)
                if path.endswith("/action"):  # one table per action, named by its key
                    action = part["wrapper"]
                    spec["operations"][f"{key}#{action}"] = {**part, "from": [inc]}
                    continue
                merged["query"].update(part["query"])
                # a field several variants list (Keystone's auth methods, Nova's
                # multiple create) is required only when every variant listing it says so
                for name, entry in part["body"].items():
                    if name in merged["body"] and not merged["body"][name].get("required"):
                        entry = {**entry, "required": False}
                    merged["body"][name] = entry
                merged["path"] = part["path"] or merged["path"]
                merged["wrapper"] = merged.get("wrapper") or part["wrapper"]
            merged["from"].append(inc)
    return spec


if __name__ == "__main__":
    json.dump(main(sys.argv[1:5]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
