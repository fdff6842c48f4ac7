"""Keys and security groups from Python: ``Provider("mycloud").keys`` and
``Provider("mycloud").secgroups`` (:class:`Keys`, :class:`SecGroups`) do what ``cms key``
and ``cms secgroup`` do, with the same checks and the same idempotency; ``Keys()`` and
``SecGroups()`` alone work on the local registry without a cloud. The facade's older
methods (``upload_key``, ``upload_secgroup``, ``delete_keys``, ...) stay as they were.

``KeyGroupMethods`` is a part of the facade (``cloudmesh.compute.provider.Provider``
derives from it); it uses the facade's ``call``, ``name`` and ``state`` and does not
import the facade's module, so that the two do not import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudmesh.compute import names as name_expr
from cloudmesh.compute.errors import CloudError, NotFound, UsageError
from cloudmesh.compute.fanout import Outcome, fan_out

TYPE_CHECKING = False  # typing costs start-up time; type checkers see True
if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.state import State


def _state(state: State | None) -> State:
    if state is not None:
        return state
    from cloudmesh.compute.state import State

    return State()


class _OnCloud:
    """What Keys and SecGroups share: the local registry, and the cloud when bound."""

    what = ""

    def __init__(self, state: State | None = None, provider: Any = None) -> None:
        self.state = _state(state)
        self._provider = provider

    def __repr__(self) -> str:
        cloud = f" of cloud {self._provider.name!r}" if self._provider is not None else ""
        return f"<{type(self).__name__}{cloud}>"

    def _cloud(self, verb: str) -> Any:
        if self._provider is None:
            raise UsageError(f"{verb} needs a cloud; these {self.what} are the local registry",
                             f"use Provider(CLOUD).{self.what}.{verb}(...)")
        return self._provider


class Keys(_OnCloud):
    """SSH keys, as ``cms key`` handles them: the local registry (``add``, ``gen``,
    ``list``, ``get``, ``delete``) and, through ``Provider(CLOUD).keys``, the cloud's key
    pairs (``upload``, ``list(on_cloud=True)``, ``delete(name, on_cloud=True)``).
    ``provider.keys()`` is ``provider.keys.list(on_cloud=True)``.

    Registry entries are dicts (name, type, fingerprint, public_key, path,
    private_path); the cloud's are key records (name, fingerprint, cloud, kind)."""

    what = "keys"

    def __call__(self) -> list[dict]:
        """The key pairs on the cloud (key records)."""
        return self._cloud("list").call("keys")

    def get(self, name: str) -> dict | None:
        """The registry's entry of ``name``, or None."""
        return self.state.key_get(name)

    def list(self, on_cloud: bool = False) -> list[dict]:
        """The local registry's keys, or with ``on_cloud=True`` the cloud's key pairs."""
        return self() if on_cloud else self.state.keys()

    def add(self, name: str, source: str | Path | None = None) -> dict:
        """Register the public key file ``source`` (default: ~/.ssh/id_ed25519.pub, then
        id_rsa.pub) as ``name``; its entry, with ``action`` "added" or, for the same key
        under that name again, "unchanged". Another key under that name is a UsageError
        naming both fingerprints."""
        from cloudmesh.compute.keys import default_public_key, read_public_key

        name_expr.check_new_name(name, "key name")
        path = Path(source).expanduser() if source else default_public_key()
        entry = {"name": name, **read_public_key(path.absolute())}
        existing = self.state.key_get(name)
        if existing is not None:
            if existing["fingerprint"] == entry["fingerprint"]:
                return {**existing, "action": "unchanged"}
            raise UsageError(f"key '{name}' is already registered with another key "
                             f"({existing['fingerprint']}, from {existing['path']}; "
                             f"{path} is {entry['fingerprint']})",
                             "delete it first or pick another name")
        self.state.key_put(entry)
        return {**entry, "action": "added"}

    def gen(self, name: str, exist_ok: bool = False) -> dict:
        """A new ed25519 pair under the config directory's keys/ folder (private key 0600,
        never printed), registered as ``name``; its entry with ``action`` "generated". A
        name already registered is a UsageError, unless ``exist_ok=True`` (then its
        entry, ``action`` "unchanged", whatever key it is)."""
        from cloudmesh.compute.files import config_dir
        from cloudmesh.compute.keys import generate_ed25519

        name_expr.check_new_name(name, "key name")
        existing = self.state.key_get(name)
        if existing is not None:
            if exist_ok:
                return {**existing, "action": "unchanged"}
            raise UsageError(f"key '{name}' is already registered ({existing['fingerprint']})",
                             "pick another name, or pass exist_ok=True to reuse it")
        entry = {"name": name, **generate_ed25519(config_dir() / "keys" / name,
                                                  f"{_user()}@cms:{name}")}
        self.state.key_put(entry)
        return {**entry, "action": "generated"}

    def upload(self, name: str) -> dict:
        """Put the registry's key ``name`` on the cloud: its key record with ``action``
        "uploaded", or "unchanged" when that very key is there; another key under that
        name there is a CloudError naming both fingerprints."""
        return self._cloud("upload").upload_key(name)

    def delete(self, name: str, on_cloud: bool = False) -> bool:
        """Forget ``name`` in the local registry (its files are kept), or with
        ``on_cloud=True`` delete the key pair on the cloud. True when something was
        removed; NotFound when there was nothing of that name."""
        if on_cloud:
            self._cloud("delete").call("key_delete", name)
            return True
        if not self.state.key_delete(name):
            raise NotFound(f"key '{name}' is not in the local registry",
                           "see Keys().list() or 'cms key list'")
        return True


def _user() -> str:
    try:
        from cloudmesh.compute.config import Config

        return Config().username()
    except Exception:  # noqa: BLE001 - no config yet: the key comment is only informative
        import getpass

        return getpass.getuser()


class SecGroups(_OnCloud):
    """Security groups, as ``cms secgroup`` handles them: groups defined locally (``add``,
    ``rule_add``, ``rule_delete``, ``list``, ``get``, ``delete``) and, through
    ``Provider(CLOUD).secgroups``, the cloud's (``upload``, ``list(on_cloud=True)``,
    ``delete(name, on_cloud=True)``). ``provider.secgroups()`` is
    ``provider.secgroups.list(on_cloud=True)``.

    A group is a dict (name, description, rules); a rule is {direction, protocol,
    from_port, to_port, cidr}. The local group ``default`` is ``cms-default`` on a cloud."""

    what = "secgroups"

    def __call__(self) -> list[dict]:
        """The cloud's security groups."""
        return self._cloud("list").call("secgroups")

    def get(self, name: str) -> dict | None:
        """The local group ``name``, or None."""
        return self.state.secgroup_get(name)

    def list(self, on_cloud: bool = False) -> list[dict]:
        """The locally defined groups, or with ``on_cloud=True`` the cloud's."""
        return self() if on_cloud else self.state.secgroups()

    def add(self, name: str, description: str | None = None) -> dict:
        """Define the group ``name`` locally (again: its description is updated when one
        is given, its rules are kept); the group."""
        name_expr.check_new_name(name, "group name")
        existing = self.state.secgroup_get(name)
        text = description or (existing or {}).get("description") or name
        self.state.secgroup_put(name, text)
        return self.state.secgroup_get(name)

    def _rule(self, group: str, protocol: str, ports: str | int, cidr: str) -> dict:
        from cloudmesh.compute.secgroups import parse_rule

        if self.state.secgroup_get(group) is None:
            raise NotFound(f"security group '{group}' is not defined locally",
                           f"define it first with SecGroups().add({group!r})")
        return parse_rule(str(protocol), str(ports), str(cidr))

    def rule_add(self, group: str, protocol: str, ports: str | int, cidr: str) -> bool:
        """Add an ingress rule to the local group (``"tcp", 22, "0.0.0.0/0"``; ports
        ``"8000:8080"``; ``"icmp", "all", ...``). False when the group had it already."""
        return self.state.secgroup_rule(group, self._rule(group, protocol, ports, cidr),
                                        add=True)

    def rule_delete(self, group: str, protocol: str, ports: str | int, cidr: str) -> None:
        """Remove a rule from the local group; NotFound when it does not have it."""
        from cloudmesh.compute.secgroups import rule_text

        rule = self._rule(group, protocol, ports, cidr)
        if not self.state.secgroup_rule(group, rule, add=False):
            raise NotFound(f"{group} has no rule '{rule_text(rule)}'",
                           "see SecGroups().get(GROUP) or 'cms secgroup list'")

    def upload(self, name: str, prune: bool = False, dryrun: bool = False) -> dict:
        """Create the local group on the cloud, or add the rules it lacks there; a report
        {name, cloud, created, added, extra}: ``extra`` rules on the cloud are left unless
        ``prune=True``; ``dryrun=True`` changes nothing. Running it twice changes nothing
        the second time."""
        return self._cloud("upload").upload_secgroup(name, prune=prune, dryrun=dryrun)

    def delete(self, name: str, on_cloud: bool = False) -> bool:
        """Delete the local group, or with ``on_cloud=True`` the group on the cloud (the
        local ``default`` is ``cms-default`` there); NotFound when there is none."""
        if on_cloud:
            from cloudmesh.compute.bootspec import cloud_group_name

            self._cloud("delete").call("secgroup_delete", cloud_group_name(name))
            return True
        if not self.state.secgroup_delete(name):
            raise NotFound(f"security group '{name}' is not defined locally",
                           "see SecGroups().list() or 'cms secgroup list'")
        return True


class KeyGroupMethods:
    """The facade's methods for key pairs and security groups on the cloud."""

    # ---- keys ------------------------------------------------------------------------
    @property
    def keys(self) -> Keys:
        """The keys (:class:`Keys`): ``keys.gen(name)``, ``keys.add(name, source)``,
        ``keys.upload(name)``, ...; ``keys()`` lists the key pairs on the cloud."""
        return Keys(self.state, self)

    def upload_key(self, name: str, on_cloud: dict[str, dict] | None = None) -> dict:
        """Upload a key of the local registry (``cms key add|gen``); its key record with
        ``action`` "uploaded". The same key already there is a no-op (``action:
        unchanged``); another key under that name is a CloudError naming both
        fingerprints; a name not in the registry is NotFound."""
        local = self.state.key_get(name)
        if local is None:
            raise NotFound(f"key '{name}' is not in the local registry",
                           f"add it with 'cms key add|gen {name}' (Python: Keys().add or .gen)")
        if on_cloud is None:
            on_cloud = {k["name"]: k for k in self.call("keys")}
        present = on_cloud.get(name)
        if present is not None:
            if present.get("fingerprint") == local["fingerprint"]:
                return {**present, "action": "unchanged"}
            raise CloudError(
                f"cloud '{self.name}' has another key named '{name}' "
                f"({present.get('fingerprint')}; the local one is {local['fingerprint']})",
                "delete it there first or upload it under another name")
        from cloudmesh.compute.keys import parse_public_key  # re-validated on use

        key = parse_public_key(local["public_key"], f"key '{name}' in the registry")
        return {**self.call("key_upload", name, key.line()), "action": "uploaded"}

    def upload_keys(self, names: str | list[str]) -> list[Outcome]:
        """``upload_key`` for several keys: one Outcome per key."""
        key_names = name_expr.expand(names)
        on_cloud = {k["name"]: k for k in self.call("keys")}
        return fan_out(lambda n: self.upload_key(n, on_cloud), key_names)

    def delete_keys(self, names: str | list[str]) -> list[Outcome]:
        """Delete key pairs on the cloud: one Outcome per key."""
        return fan_out(lambda n: self.call("key_delete", n), name_expr.expand(names))

    # ---- security groups ---------------------------------------------------------------
    @property
    def secgroups(self) -> SecGroups:
        """The security groups (:class:`SecGroups`): ``secgroups.add(name)``,
        ``secgroups.rule_add(name, "tcp", 22, "0.0.0.0/0")``, ``secgroups.upload(name)``,
        ...; ``secgroups()`` lists the cloud's groups (name, id, description, rules)."""
        return SecGroups(self.state, self)

    def upload_secgroup(self, name: str, prune: bool = False, dryrun: bool = False) -> dict:
        """Create or reconcile a locally defined group on the cloud (``prune``: remove
        rules the local group lacks; ``dryrun``: only say what would change)."""
        group = self.state.secgroup_get(name)
        if group is None:
            raise NotFound(f"security group '{name}' is not defined locally",
                           f"define it with 'cms secgroup add {name}' and 'cms secgroup rule "
                           "add' (Python: SecGroups().add and .rule_add)")
        from cloudmesh.compute.bootspec import cloud_group_name

        # the local group 'default' is the cms-owned 'cms-default' on the cloud
        group = {**group, "name": cloud_group_name(name)}
        return self.call("secgroup_upload", group, prune=prune, dryrun=dryrun)

    def delete_secgroups(self, names: str | list[str]) -> list[Outcome]:
        """Delete groups on the cloud: one Outcome per group."""
        from cloudmesh.compute.bootspec import cloud_group_name

        return fan_out(lambda n: self.call("secgroup_delete", cloud_group_name(n)),
                       name_expr.expand(names))
