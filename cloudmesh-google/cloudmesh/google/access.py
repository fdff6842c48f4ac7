"""Who may reach a VM on GCE: the project's ``ssh-keys`` metadata (``cms key``) and VPC
firewall rules bound by target tag (``cms secgroup``). Mixed into the Provider, whose
``_call``, ``_pages``, ``_wait`` and ``project`` they use; ``rewrite`` is GCE's
fingerprinted read-change-write of metadata, for the instance's too."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any, Callable

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import CloudError, CmsError, NotFound, UsageError
from cloudmesh.google import sdk

#: RFC 1035 label, as GCE checks instance, firewall and tag names
NAME_RULE = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
#: a login GCE's guest agent creates from an ssh-keys entry
LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


def rewrite(attempt: Callable[[], Any], where: str, what: str) -> Any:
    """Run a read-change-write ``attempt`` that sends the metadata fingerprint it read;
    a stale fingerprint (412: another writer came first) starts it over, five times."""
    for _ in range(5):
        try:
            return attempt()
        except CloudError as error:
            if error.status != 412:
                raise
    raise CloudError(f"{where}: {what} kept changing", "try again")


class ProjectKeys:
    """cms keys as the project's ssh-keys metadata: one ``name:public_key`` line each;
    GCE's guest agent makes the login ``name`` with that key on every VM."""

    def _project_metadata(self) -> tuple[str, dict[str, str]]:
        project = self._call("projects", "get", project=self.project)
        metadata = project.common_instance_metadata
        return metadata.fingerprint, {i.key: i.value for i in metadata.items}

    def _write_project_metadata(self, change) -> None:
        """Read, change, write with the fingerprint read (``rewrite``). ``change`` edits
        the items and says whether it did."""
        types = sdk.types()

        def attempt() -> None:
            fingerprint, items = self._project_metadata()
            if not change(items):
                return
            body = types.Metadata(fingerprint=fingerprint,
                                  items=[types.Items(key=k, value=v) for k, v in items.items()])
            operation = self._call(
                "projects", "set_common_instance_metadata_unary",
                request=types.SetCommonInstanceMetadataProjectRequest(
                    project=self.project, metadata_resource=body,
                    request_id=str(uuid.uuid4())))
            self._wait(operation, None, "writing the project's ssh-keys")
        rewrite(attempt, f"cloud '{self.cloud}'", "the project's metadata")

    @record_mapper("ssh key")
    def _to_key(self, line: str) -> dict[str, Any]:
        from cloudmesh.compute.keys import fingerprint

        user, key = line.split(":", 1)
        try:
            print_ = fingerprint(key)
        except CmsError:
            print_ = None
        return self.key_record(name=user, fingerprint=print_,
                               native={"public_key": key.strip()})

    @staticmethod
    def _key_lines(items: dict[str, str]) -> list[str]:
        return [line for line in (items.get("ssh-keys") or "").splitlines()
                if ":" in line and line.strip()]

    def keys(self) -> list[dict[str, Any]]:
        _, items = self._project_metadata()
        return sorted((self._to_key(line) for line in self._key_lines(items)),
                      key=lambda k: k["name"])

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        """Add ``name:public_key`` to the project's ssh-keys: GCE's guest agent makes
        the login ``name`` with that key on every VM of the project."""
        if not LOGIN.fullmatch(name):
            raise UsageError(f"'{name}' cannot be a GCE ssh-keys user",
                             "use a lowercase login name (letters, digits, '_', '-')")
        from cloudmesh.compute.keys import parse_public_key

        key = parse_public_key(public_key, f"key '{name}'")
        wanted = key.fingerprint

        def change(items: dict[str, str]) -> bool:
            lines = self._key_lines(items)
            same = [self._to_key(line) for line in lines if line.split(":", 1)[0] == name]
            if any(k["fingerprint"] == wanted for k in same):
                return False  # already there
            if same:
                raise CloudError(f"cloud '{self.cloud}': the project already has a key "
                                 f"'{name}' ({same[0]['fingerprint']}), not {wanted}",
                                 "delete it first or use another name")
            # from the validated key's parts only: one line, never the text as given
            items["ssh-keys"] = "\n".join(lines + [f"{name}:{key.line()}"])
            return True
        self._write_project_metadata(change)
        return next(k for k in self.keys() if k["name"] == name and k["fingerprint"] == wanted)

    def key_delete(self, name: str) -> None:
        def change(items: dict[str, str]) -> bool:
            lines = self._key_lines(items)
            kept = [line for line in lines if line.split(":", 1)[0] != name]
            if len(kept) == len(lines):
                raise NotFound(f"no key '{name}' in the ssh-keys of project {self.project}")
            if kept:
                items["ssh-keys"] = "\n".join(kept)
            else:
                items.pop("ssh-keys", None)
            return True
        self._write_project_metadata(change)


class FirewallGroups:
    """Security group G: every firewall rule of the network whose target tags hold G
    (a VM joins G through its network tag G); a firewall without target tags applies to
    every VM and is a group of its own name. cms makes one firewall per rule, plus the
    group's anchor: a disabled deny rule named G that carries the description."""

    def _firewalls(self) -> list[Any]:
        types = sdk.types()
        return list(self._pages("firewalls", "list",
                                types.ListFirewallsRequest(project=self.project)))

    @staticmethod
    def _firewall_rules(firewall: Any) -> list[dict[str, Any]]:
        if firewall.disabled or not firewall.allowed:
            return []  # a group's anchor, or a deny rule (cms rules allow)
        ingress = firewall.direction != "EGRESS"
        ranges = list(firewall.source_ranges if ingress else firewall.destination_ranges)
        rules = []
        for allowed in firewall.allowed:
            protocol = allowed.I_p_protocol.lower()
            spans: list[tuple[int | None, int | None]] = []
            for port in allowed.ports:
                low, _, high = port.partition("-")
                spans.append((int(low), int(high or low)))
            if not spans:
                spans = [(0, 65535)] if protocol in ("tcp", "udp") else [(None, None)]
            rules += [{"direction": "ingress" if ingress else "egress", "protocol": protocol,
                       "from_port": low, "to_port": high, "cidr": cidr}
                      for low, high in spans for cidr in ranges]
        return rules

    def _groups(self) -> dict[str, list[Any]]:
        """Group name -> its firewalls: by target tag; a firewall without target tags
        applies to every VM and is a group of its own name."""
        groups: dict[str, list[Any]] = {}
        for firewall in self._firewalls():
            for tag in list(firewall.target_tags) or [firewall.name]:
                groups.setdefault(tag, []).append(firewall)
        return groups

    def secgroups(self) -> list[dict[str, Any]]:
        records = []
        for name, firewalls in sorted(self._groups().items()):
            anchor = next((f for f in firewalls if f.name == name), firewalls[0])
            records.append(self.secgroup_record(
                name=name, id=name, description=anchor.description or None,
                rules=[r for f in firewalls for r in self._firewall_rules(f)],
                native={"firewalls": sorted(f.name for f in firewalls)}))
        return records

    def _network_link(self) -> str:
        return f"global/networks/{self.defaults.get('network') or 'default'}"

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        """A group is born as its anchor: a disabled deny rule named after the group,
        bound to the tag, carrying the description (a firewall needs a rule)."""
        types = sdk.types()
        if not NAME_RULE.fullmatch(name):
            raise UsageError(f"'{name}' cannot be a GCE network tag (security group)",
                             "use lowercase letters, digits and '-', at most 63")
        anchor = types.Firewall(
            name=name, network=self._network_link(), description=description or name,
            direction="INGRESS", priority=65535, disabled=True, target_tags=[name],
            source_ranges=["0.0.0.0/0"], denied=[types.Denied(I_p_protocol="all")])
        self._wait(self._call("firewalls", "insert_unary", request=types.InsertFirewallRequest(
            project=self.project, firewall_resource=anchor, request_id=str(uuid.uuid4()))),
            None, f"creating security group {name}")
        return next(g for g in self.secgroups() if g["name"] == name)

    @staticmethod
    def _rule_name(group: str, rule: dict[str, Any]) -> str:
        key = "|".join(str(rule.get(f)) for f in ("direction", "protocol", "from_port",
                                                   "to_port", "cidr"))
        return f"{group[:54]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        types = sdk.types()
        if name not in self._groups():
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        for rule in rules:
            protocol = rule["protocol"]
            allowed = types.Allowed(I_p_protocol=protocol)
            if protocol in ("tcp", "udp") and rule.get("from_port") is not None:
                low = rule["from_port"]
                high = low if rule.get("to_port") is None else rule["to_port"]
                allowed.ports = [str(low) if low == high else f"{low}-{high}"]
            ingress = rule.get("direction", "ingress") == "ingress"
            firewall = types.Firewall(
                name=self._rule_name(name, rule), network=self._network_link(),
                description=f"cms security group {name}",
                direction="INGRESS" if ingress else "EGRESS", priority=1000,
                target_tags=[name], allowed=[allowed])
            if ingress:
                firewall.source_ranges = [rule["cidr"]]
            else:
                firewall.destination_ranges = [rule["cidr"]]
            try:
                operation = self._call("firewalls", "insert_unary",
                                       request=types.InsertFirewallRequest(
                                           project=self.project, firewall_resource=firewall,
                                           request_id=str(uuid.uuid4())))
            except CloudError as error:
                if error.code == "alreadyExists":
                    continue  # this very rule is there
                raise
            self._wait(operation, None, f"adding a rule to {name}")

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        from cloudmesh.compute.secgroups import rule_key

        firewalls = self._groups().get(name)
        if firewalls is None:
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        going = {rule_key(r) for r in rules}
        for firewall in firewalls:
            held = self._firewall_rules(firewall)
            kept = [r for r in held if rule_key(r) not in going]
            if len(kept) == len(held):
                continue
            if kept:
                raise CloudError(f"cloud '{self.cloud}': firewall {firewall.name} holds "
                                 "other rules too; cms removes whole firewall rules only",
                                 "edit it with gcloud or in the console")
            self._delete_firewall(firewall.name)

    def _delete_firewall(self, name: str) -> None:
        types = sdk.types()
        self._wait(self._call("firewalls", "delete_unary", request=types.DeleteFirewallRequest(
            project=self.project, firewall=name, request_id=str(uuid.uuid4()))),
            None, f"deleting firewall {name}")

    def secgroup_delete(self, name: str) -> None:
        """Delete the firewalls bound to this tag alone (or named after the group)."""
        firewalls = self._groups().get(name)
        if firewalls is None:
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'")
        shared = [f.name for f in firewalls if len(f.target_tags) > 1]
        for firewall in firewalls:
            if firewall.name not in shared:
                self._delete_firewall(firewall.name)
        if shared:
            raise CloudError(f"cloud '{self.cloud}': firewalls {', '.join(shared)} also "
                             f"apply to other tags and were kept",
                             "remove the tag from them with gcloud or in the console")
