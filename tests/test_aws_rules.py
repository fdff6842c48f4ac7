"""Security-group rules on EC2: cms rules sharing a protocol and port range go to EC2 as
one permission with every CIDR (IPv4 and IPv6), and EC2's permissions read back as one cms
rule per CIDR. The core's grouping (secgroups.by_port_range) and its reverse
(secgroups.rules_per_cidr) are tested on their own first."""

from __future__ import annotations

import pytest

from cloudmesh.compute import Provider
from cloudmesh.compute.secgroups import by_port_range, rules_per_cidr
from conftest import ec2_client, moto_requests

pytest.importorskip("boto3")


def rule(protocol: str, low: int | None, high: int | None, cidr: str,
         direction: str = "ingress") -> dict:
    return {"direction": direction, "protocol": protocol, "from_port": low, "to_port": high,
            "cidr": cidr}


def test_rules_are_grouped_per_direction_protocol_and_ports_in_order_once() -> None:
    grouped = by_port_range([rule("tcp", 22, 22, "10.0.0.0/8"), rule("tcp", 80, 443, "::/0"),
                             rule("tcp", 22, 22, "::/0"), rule("tcp", 22, 22, "10.0.0.0/8"),
                             rule("tcp", 22, 22, "0.0.0.0/0", "egress")])
    assert grouped == {("ingress", "tcp", 22, 22): ["10.0.0.0/8", "::/0"],
                       ("ingress", "tcp", 80, 443): ["::/0"],
                       ("egress", "tcp", 22, 22): ["0.0.0.0/0"]}


def test_a_cloud_rule_becomes_one_rule_per_cidr_and_icmp_all_carry_no_ports() -> None:
    assert rules_per_cidr("ingress", "tcp", 80, 443, ["10.0.0.0/8", "::/0"]) == [
        rule("tcp", 80, 443, "10.0.0.0/8"), rule("tcp", 80, 443, "::/0")]
    assert rules_per_cidr("egress", "all", -1, -1, ["0.0.0.0/0"]) == [
        rule("all", None, None, "0.0.0.0/0", "egress")]
    assert rules_per_cidr("ingress", "icmp", None, None, ["::/0"]) == [
        rule("icmp", None, None, "::/0")]
    # an icmp rule of one type keeps it
    assert rules_per_cidr("ingress", "icmp", 8, -1, ["::/0"]) == [rule("icmp", 8, -1, "::/0")]


def test_rules_of_one_port_range_are_one_ec2_permission(aws_cloud: str, moto: str) -> None:
    provider = Provider(aws_cloud).provider
    provider.secgroup_create("web", "web servers")
    wanted = [rule("tcp", 22, 22, "10.0.0.0/8"), rule("tcp", 22, 22, "192.168.0.0/16"),
              rule("tcp", 22, 22, "2001:db8::/32"), rule("icmp", None, None, "10.0.0.0/8"),
              rule("tcp", 80, 443, "0.0.0.0/0")]
    moto_requests(moto, "AuthorizeSecurityGroupIngress")  # starts moto's recorder
    provider.secgroup_add_rules("web", wanted)

    (request,) = moto_requests(moto, "AuthorizeSecurityGroupIngress")
    protocols = sorted(v[0] for k, v in request.items() if k.endswith(".IpProtocol"))
    assert protocols == ["icmp", "tcp", "tcp"]  # three permissions for five rules
    (group,) = ec2_client(moto).describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
    ssh = [p for p in group["IpPermissions"] if p.get("FromPort") == 22]
    assert sorted(r["CidrIp"] for p in ssh for r in p.get("IpRanges") or ()) == [
        "10.0.0.0/8", "192.168.0.0/16"]
    assert [r["CidrIpv6"] for p in ssh for r in p.get("Ipv6Ranges") or ()] == ["2001:db8::/32"]

    def ingress() -> list[tuple]:
        (record,) = [g for g in provider.secgroups() if g["name"] == "web"]
        return sorted((r["protocol"], r["from_port"], r["to_port"], r["cidr"])
                      for r in record["rules"] if r["direction"] == "ingress")

    assert ingress() == sorted((r["protocol"], r["from_port"], r["to_port"], r["cidr"])
                               for r in wanted)
    provider.secgroup_remove_rules("web", wanted[1:3])
    assert ingress() == sorted((r["protocol"], r["from_port"], r["to_port"], r["cidr"])
                               for r in wanted[:1] + wanted[3:])
