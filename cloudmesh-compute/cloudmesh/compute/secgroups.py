"""Security-group rules: parsing, normalising, and the difference between a local
definition and what a cloud has (so every provider reconciles the same way)."""

from __future__ import annotations

import ipaddress

from cloudmesh.compute.errors import UsageError

PROTOCOLS = ("tcp", "udp", "icmp", "all")
DEFAULT_GROUP = {
    "name": "default",
    "description": "cms default: ssh and ping from anywhere",
    "rules": [
        {"direction": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22,
         "cidr": "0.0.0.0/0"},
        {"direction": "ingress", "protocol": "icmp", "from_port": None, "to_port": None,
         "cidr": "0.0.0.0/0"},
    ],
}


def parse_rule(protocol: str, ports: str, cidr: str) -> dict:
    """A rule from the command line: ``tcp 22 0.0.0.0/0``, ``tcp 8000:8080 10.0.0.0/8``,
    ``icmp all 0.0.0.0/0``."""
    protocol = protocol.lower()
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol '{protocol}'", f"use one of {', '.join(PROTOCOLS)}")
    if protocol in ("icmp", "all"):
        if ports.lower() not in ("all", "-1", "-", "*"):
            raise UsageError(f"{protocol} rules take no ports: write 'all' instead of '{ports}'")
        from_port = to_port = None
    else:
        low, sep, high = ports.replace("-", ":").partition(":")
        try:
            from_port, to_port = int(low), int(high if sep else low)
        except ValueError:
            raise UsageError(f"invalid ports '{ports}'", "write 22 or 8000:8080") from None
        if not (0 <= from_port <= to_port <= 65535):
            raise UsageError(f"invalid ports '{ports}': need 0 <= low <= high <= 65535")
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise UsageError(f"invalid CIDR '{cidr}'", "write e.g. 0.0.0.0/0 or 10.1.0.0/16") from None
    return {"direction": "ingress", "protocol": protocol, "from_port": from_port,
            "to_port": to_port, "cidr": str(network)}


def rule_key(rule: dict) -> tuple:
    return (rule.get("direction", "ingress"), rule["protocol"], rule.get("from_port"),
            rule.get("to_port"), rule["cidr"])


def rule_text(rule: dict) -> str:
    ports = ("all" if rule.get("from_port") is None else
             str(rule["from_port"]) if rule["from_port"] == rule["to_port"] else
             f"{rule['from_port']}:{rule['to_port']}")
    return f"{rule.get('direction', 'ingress')} {rule['protocol']} {ports} {rule['cidr']}"


def rules_per_cidr(direction: str, protocol: str, from_port: int | None,
                   to_port: int | None, cidrs: list[str]) -> list[dict]:
    """The cms rules, one per CIDR, of a cloud rule that lists several sources (an EC2
    permission, a GCE firewall). icmp and all rules carry no ports: a cloud's -1 (every
    type, every port) becomes None."""
    if protocol in ("icmp", "all") and from_port in (None, -1):
        from_port = to_port = None
    return [{"direction": direction, "protocol": protocol, "from_port": from_port,
             "to_port": to_port, "cidr": cidr} for cidr in cidrs]


def by_port_range(rules: list[dict]) -> dict[tuple, list[str]]:
    """The CIDRs of ``rules`` per (direction, protocol, from_port, to_port), in order and
    once each: for a cloud whose one rule takes several sources (``rules_per_cidr``
    reverses it)."""
    grouped: dict[tuple, list[str]] = {}
    for rule in rules:
        cidrs = grouped.setdefault(rule_key(rule)[:4], [])
        if rule["cidr"] not in cidrs:
            cidrs.append(rule["cidr"])
    return grouped


def difference(wanted: list[dict], present: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rules to add, extra rules on the cloud), comparing ingress rules only: clouds add
    their own egress rules, which a local definition does not describe."""
    have = {rule_key(r) for r in present}
    want = {rule_key(r) for r in wanted}
    missing = [r for r in wanted if rule_key(r) not in have]
    extra = [r for r in present if r.get("direction", "ingress") == "ingress"
             and rule_key(r) not in want]
    return missing, extra


def reconcile(provider, group: dict, prune: bool = False, dryrun: bool = False) -> dict:
    """Create ``group`` on the provider's cloud or reconcile it with the local definition:
    add missing ingress rules; report extra ones, removing them only with ``prune``.
    Built on the provider's primitives (secgroups, secgroup_create, secgroup_add_rules,
    secgroup_remove_rules), so every kind reconciles the same way."""
    existing = {g["name"]: g for g in provider.secgroups()}.get(group["name"])
    present = existing["rules"] if existing else []
    missing, extra = difference(group.get("rules") or [], present)
    report = {"name": group["name"], "cloud": provider.cloud, "created": existing is None,
              "added": missing, "extra": extra, "removed": extra if prune else []}
    if dryrun:
        return report
    if existing is None:
        provider.secgroup_create(group["name"], group.get("description") or group["name"])
    if missing:
        provider.secgroup_add_rules(group["name"], missing)
    if prune and extra:
        provider.secgroup_remove_rules(group["name"], extra)
    return report
