"""``ComputeNodeABC``: the contract every provider implements.

A provider maps its SDK's objects to the plain-dict records below and does nothing else:
no printing, no defaults, no name expansion, no caching (the ``Provider`` facade does
those). What a kind cannot do it lists in ``unsupported`` with a reason; calling it raises
NotSupported, which cms prints as "VERB is not supported by KIND: reason".
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Callable

from cloudmesh.compute.errors import CmsError, ConfigError, NotFound, NotSupported, UsageError
from cloudmesh.compute.hidden import Hidden
from cloudmesh.compute.wait import Progress, wait_for

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.bootspec import BootSpec

from cloudmesh.compute.records import (FLAVOR_FIELDS, IMAGE_FIELDS,  # noqa: F401
                                       KEY_FIELDS, SECGROUP_FIELDS, VM_FIELDS, VM_STATUSES,
                                       _DICT_FIELDS, _LIST_FIELDS, iso_utc, record_mapper)

from cloudmesh.compute.capabilities import (FEATURES, OPTIONAL_VERBS,  # noqa: F401
                                            VERB_GROUPS, Feature)
from cloudmesh.compute import capabilities

#: a name a cloud accepts for a VM unless its provider says otherwise
_GENERIC_NAME = None  # compiled on first use (re costs start-up time)


class ComputeNodeABC(abc.ABC):
    """Base class of every provider (``cloudmesh.<kind>.compute.Provider``).

    ``cloud`` is the cloud's name in cloudmesh.yaml and ``spec`` its entry (cm,
    credentials, default) with ${ENV} already expanded.
    """

    #: the kind this provider serves, e.g. "aws"
    kind: str = ""
    #: verbs this kind cannot do, each with the reason shown to the user
    unsupported: dict[str, str] = {}
    #: the credentials keys this kind reads; others are reported as misspelt (empty: any)
    credential_keys: tuple[str, ...] = ()
    #: the default: keys this kind reads beyond the common ones (settings.COMMON_SETTINGS),
    #: each with its type, e.g. {"stop_mode": str}; others are refused as misspelt
    #: (None: not declared, not checked)
    settings: dict[str, Any] | None = None
    #: how a key reaches a VM: "keypair" (uploaded as the cloud's key pair, referenced by
    #: name at boot) or "inject" (the public key goes into the boot request: metadata,
    #: osProfile or cloud-init); None when the kind cannot deliver keys
    key_delivery: str | None = "keypair"
    #: the kind's usual login when neither --username nor default.username says
    default_username: str = "ubuntu"
    #: True (or a dict of extra spec) when a cloud named after the kind needs no
    #: cloudmesh.yaml entry (multipass)
    zero_config: bool | dict = False
    #: names the base class keeps for itself (its helpers, and what __init__ sets on each
    #: instance): a provider that defined one would silently replace it, so a subclass
    #: that does is refused when it is created (docs/providers.md, "Reserved names")
    RESERVED = frozenset({
        "_record", "vm_record", "image_record", "flavor_record", "key_record",
        "secgroup_record", "translated", "retry", "supports", "not_supported", "features",
        "_unsupported_reason", "deadline", "_find_in", "cloud", "spec", "credentials",
        "defaults", "timeout", "retries", "guard", "notice", "RESERVED"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        clash = sorted(cls.RESERVED & set(vars(cls)))
        if clash:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__} defines '{clash[0]}', a "
                            "name ComputeNodeABC keeps for itself; rename it (the reserved "
                            "names are listed in docs/providers.md)")

    # the cloud's entry and its credentials: out of vars(provider) (cloudmesh.compute.hidden)
    spec, credentials = Hidden(), Hidden()

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        self.cloud = cloud
        self.spec = spec or {}
        self.credentials: dict[str, Any] = dict(self.spec.get("credentials") or {})
        #: how a provider says something the user should know that is not an error (a
        #: resource group it created ...): the facade points it at stderr; a provider
        #: never prints
        self.notice: Callable[[str], None] = lambda text: None
        self.defaults: dict[str, Any] = dict(
            self.spec.get("default") or self.spec.get("defaults") or {})
        cm = self.spec.get("cm") or {}
        try:
            #: seconds one request may take, and how often a failed one is tried again
            self.timeout = float(cm.get("timeout", 30))
            self.retries = int(cm.get("retries", 3))
        except (TypeError, ValueError):
            raise ConfigError(f"cloud '{cloud}': cm.timeout and cm.retries must be numbers") \
                from None
        if not (self.timeout > 0 and 0 <= self.retries <= 10):
            raise ConfigError(f"cloud '{cloud}': cm.timeout must be above 0 and cm.retries "
                              "between 0 and 10")
        from cloudmesh.compute.endpoints import ENDPOINT_KEYS, check_endpoint

        from cloudmesh.compute.kit.origins import OriginGuard

        #: the origins this cloud's credentials may be sent to (issue 21): the configured
        #: endpoints; a provider adds its region's endpoint or its identity catalog's
        self.guard = OriginGuard()
        for key in ENDPOINT_KEYS:
            if self.credentials.get(key) not in (None, ""):
                check_endpoint(self.credentials[key], f"cloud '{cloud}': credentials.{key}")
                self.guard.allow(self.credentials[key])
        from cloudmesh.compute import settings as declared

        wrong = declared.problems(cloud, self.kind, self.spec, type(self))
        if wrong:  # a misspelt key would be silently ignored: refuse it before any request
            block = "credentials" if "credentials key" in wrong[0] else "default"
            raise ConfigError(wrong[0], declared.hint(type(self), block)
                              if "unknown" in wrong[0] else None)

    def deadline(self):
        """A ``kit.deadline.Deadline`` of ``cm.timeout`` seconds from now: the bound of
        one request, slow reads and the SDK's own retries included."""
        from cloudmesh.compute.kit.deadline import Deadline

        return Deadline(self.timeout)

    # ---- capabilities --------------------------------------------------------------
    @classmethod
    def _unsupported_reason(cls, verb: str) -> str | None:
        """Why the kind cannot do ``verb`` (listed itself or through its group), else None."""
        return capabilities.unsupported_reason(cls, verb)

    @classmethod
    def supports(cls, verb: str) -> bool:
        """False for verbs (and boot options) listed in ``unsupported``, directly or by
        their group (``keys``, ``secgroups``), and for optional verbs the provider does
        not implement (it kept the base class's method)."""
        return capabilities.supports(cls, verb, ComputeNodeABC)

    def not_supported(self, verb: str) -> NotSupported:
        reason = self._unsupported_reason(verb) or "this provider does not implement it"
        return NotSupported(self.kind or type(self).__module__, verb, reason)

    @classmethod
    def features(cls) -> dict[str, Feature]:
        """One column of the feature matrix: each operation a ``Feature(supported,
        reason)`` (cloudmesh.compute.capabilities)."""
        return capabilities.features(cls, ComputeNodeABC)

    # ---- records -------------------------------------------------------------------
    def _record(self, fields: tuple[str, ...], values: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for field in fields:
            value = values.pop(field, None)
            if value is None and field in _LIST_FIELDS:
                value = []
            elif value is None and field in _DICT_FIELDS:
                value = {}
            record[field] = value
        if not isinstance(record["name"], str) or not record["name"]:
            raise ValueError(f"a record needs a name, not {record['name']!r}")
        if "cloud" in record:
            record["cloud"] = self.cloud
            record["kind"] = self.kind
        native = values.pop("native", None)
        if values:
            raise TypeError(f"unknown record fields: {sorted(values)}")
        if native:
            record["native"] = native
        return record

    def vm_record(self, **values: Any) -> dict[str, Any]:
        """A vm record with every field of the design; lists and dicts default empty."""
        record = self._record(VM_FIELDS, values)
        if record["status"] not in VM_STATUSES:
            record["status"] = "unknown"
        record["created"] = iso_utc(record["created"])
        return record

    def image_record(self, **values: Any) -> dict[str, Any]:
        record = self._record(IMAGE_FIELDS, values)
        record["created"] = iso_utc(record["created"])
        return record

    def flavor_record(self, **values: Any) -> dict[str, Any]:
        return self._record(FLAVOR_FIELDS, values)

    def key_record(self, **values: Any) -> dict[str, Any]:
        return self._record(KEY_FIELDS, values)

    def secgroup_record(self, **values: Any) -> dict[str, Any]:
        record = self._record(SECGROUP_FIELDS, values)
        record["cloud"], record["kind"] = self.cloud, self.kind
        return record

    # ---- errors --------------------------------------------------------------------
    def translate_error(self, error: Exception) -> CmsError | None:
        """Map an SDK exception to a CmsError (CloudError, NotFound, CredentialError...).
        Return None for exceptions the provider does not know: the facade reports those as
        a CloudError "failed unexpectedly", keeping the original as __cause__."""
        return None

    # ---- the contract: VMs ---------------------------------------------------------
    @abc.abstractmethod
    def list(self) -> list[dict[str, Any]]:
        """Every VM of this cloud (all pages), as vm records."""

    @abc.abstractmethod
    def info(self, name: str) -> dict[str, Any]:
        """One VM by name (or the cloud's id); NotFound if there is none."""

    @abc.abstractmethod
    def create(self, spec: BootSpec) -> dict[str, Any]:
        """Boot one VM as ``spec`` says (see cloudmesh.compute.bootspec.BootSpec); return its
        record once the cloud's own operation is done (usually status booting). Deliver
        ``spec.key`` the kind's way, pass ``spec.token`` where the cloud takes an
        idempotency token, and never retry blindly."""

    def check_name(self, name: str) -> None:
        """UsageError for a VM name the cloud would refuse, before any request. The
        default allows 1-255 printable characters without spaces or slashes."""
        global _GENERIC_NAME
        if _GENERIC_NAME is None:
            import re

            _GENERIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
        if not (isinstance(name, str) and _GENERIC_NAME.fullmatch(name)):
            raise UsageError(f"'{name}' is not a valid VM name on {self.kind}",
                             "use letters, digits, '.', '_' and '-', starting with a letter "
                             "or digit")

    def default_username_for(self, image: str) -> str:
        """The login of an image when neither --username nor default.username says: the
        kind's ``default_username``, unless the provider knows better for that image
        (e.g. ``ubuntu`` on OCI's Ubuntu images, ``opc`` on Oracle Linux). May ask the
        cloud; called only for a real boot, once per VM."""
        return self.default_username

    def resolve_image(self, ref: str) -> dict[str, Any]:
        """The image a user's reference means, in any of the kind's notations (name, id,
        family, URN, ...); NotFound if there is none. The default looks in images()."""
        return self.image(ref)

    @abc.abstractmethod
    def start(self, name: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def stop(self, name: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def reboot(self, name: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def destroy(self, name: str) -> dict[str, Any]:
        """Delete the VM; returns its last record (status deleting or terminated)."""

    def suspend(self, name: str) -> dict[str, Any]:
        raise self.not_supported("suspend")

    def resume(self, name: str) -> dict[str, Any]:
        raise self.not_supported("resume")

    def wait(self, name: str, status: str | list[str] = "running", timeout: float = 600,
             interval: float = 2, progress: Progress | None = None) -> dict[str, Any]:
        """Wait until the VM's normalised status is one of ``status``."""
        gone = status == "terminated" or (isinstance(status, list) and "terminated" in status)
        return wait_for(lambda: self.info(name), status, timeout=timeout, interval=interval,
                        progress=progress, what=f"{name} on {self.cloud}", gone_ok=gone)

    # ---- images and flavors --------------------------------------------------------
    @abc.abstractmethod
    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """Image records. A kind whose list is a catalogue (the newest build per family)
        lists every build with ``all_builds=True``; a kind that lists every image
        already ignores it."""

    def image(self, name: str) -> dict[str, Any]:
        """An image by name or id; the default searches images()."""
        return self._find_in(self.images(), name, "image")

    @abc.abstractmethod
    def flavors(self) -> list[dict[str, Any]]: ...

    def flavor(self, name: str) -> dict[str, Any]:
        return self._find_in(self.flavors(), name, "flavor")

    def _find_in(self, records: list[dict], name: str, what: str) -> dict[str, Any]:
        for record in records:
            if name in (record.get("name"), record.get("id")):
                return record
        raise NotFound(f"no {what} '{name}' on cloud '{self.cloud}'",
                       f"see 'cms {what} list --cloud={self.cloud}'")

    # ---- keys, security groups, metadata (optional) ---------------------------------
    def keys(self) -> list[dict[str, Any]]:
        """The key pairs on the cloud, as key records (fingerprint in OpenSSH SHA256
        form where the cloud returns the public key; see cloudmesh.compute.keys)."""
        raise self.not_supported("keys")

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        """Import an OpenSSH public key under name; returns its key record."""
        raise self.not_supported("key_upload")

    def key_delete(self, name: str) -> None:
        raise self.not_supported("key_delete")

    def secgroups(self) -> list[dict[str, Any]]:
        """The security groups on the cloud, each with its rules."""
        raise self.not_supported("secgroups")

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        raise self.not_supported("secgroup_create")

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        raise self.not_supported("secgroup_add_rules")

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        raise self.not_supported("secgroup_remove_rules")

    def secgroup_delete(self, name: str) -> None:
        raise self.not_supported("secgroup_delete")

    def secgroup_upload(self, group: dict[str, Any], prune: bool = False,
                        dryrun: bool = False) -> dict[str, Any]:
        """Create the group or reconcile it with a local definition: add missing ingress
        rules; report extra ones, removing them only with ``prune``. Built on the
        primitives above, so every provider reconciles the same way."""
        from cloudmesh.compute.secgroups import reconcile

        if not self.supports("secgroups"):
            raise self.not_supported("secgroup_upload")
        return reconcile(self, group, prune=prune, dryrun=dryrun)

    def metadata_get(self, name: str) -> dict[str, str]:
        return dict(self.info(name).get("metadata") or {})

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        raise self.not_supported("metadata_set")

    # ---- ssh and health ------------------------------------------------------------
    # ---- calling the SDK -------------------------------------------------------------
    def translated(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``function`` once; an SDK exception comes out as the CmsError that
        ``translate_error`` makes of it (one it does not know stays as it is: a bug)."""
        try:
            return function(*args, **kwargs)
        except CmsError:
            raise
        except Exception as error:
            translated = self.translate_error(error)
            if translated is None:
                raise
            raise translated from error

    def retry(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``function``; an error is translated (``translate_error``), and one that
        is retryable is tried again with backoff, at most ``self.retries`` times and not
        past ``self.timeout`` seconds in all. For reads and idempotent calls only: a
        create is retried with its token or by the facade, never here."""
        import random
        import time

        started = time.monotonic()
        for attempt in range(self.retries + 1):
            try:
                return function(*args, **kwargs)
            except CmsError as error:
                failure: CmsError = error
            except Exception as error:
                translated = self.translate_error(error)
                if translated is None:
                    raise
                failure = translated
                failure.__cause__ = error
            delay = min(4.0, 0.2 * 2 ** attempt) * random.uniform(0.5, 1.0)
            if not failure.retryable or attempt == self.retries or \
                    time.monotonic() - started + delay > self.timeout:
                raise failure
            time.sleep(delay)
        raise AssertionError("unreachable")

    def ssh_address(self, record: dict[str, Any]) -> tuple[str, int]:
        """Where to reach a VM's sshd: its first public address, else its first private
        one, port 22. A provider whose VMs are reached otherwise overrides this."""
        addresses = record.get("public_ips") or record.get("private_ips") or []
        if not addresses:
            raise NotFound(f"{record['name']} on {self.cloud} has no IP address "
                           f"(status {record.get('status')})", "wait for it to be running")
        return addresses[0], 22

    def check(self) -> str:
        """Verify the credentials with one cheap call; return a short description."""
        count = len(self.flavors())
        return f"{count} flavors visible"
