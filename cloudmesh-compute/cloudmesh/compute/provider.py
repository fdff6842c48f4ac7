"""The delegating ``Provider(name)`` facade.

It reads ``cm.kind`` of the named cloud, imports ``cloudmesh.<kind>.compute`` (and so only
that kind's SDK), and adds what every cloud shares: defaults (command line, then
``cms set``, then the cloud's ``default:`` block), generated names, name expansion,
fan-out over names in a thread pool, error translation and the local cache.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable

from cloudmesh.compute import names as name_expr
from cloudmesh.compute.abc import ComputeNodeABC
from cloudmesh.compute.config import Config, resolve_cloud
from cloudmesh.compute.errors import CloudError, CmsError, ConfigError, NotFound, UsageError
from cloudmesh.compute.fanout import MAX_WORKERS, Outcome, fan_out  # noqa: F401 (re-exported)
from cloudmesh.compute.registry import load as load_provider_class
from cloudmesh.compute.registry import zero_config_spec
from cloudmesh.compute.state import State

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.compute.sshclient import SshTarget

#: spellings the seeds and older cloudmesh files use for the same default
_DEFAULT_ALIASES = {"flavor": ("flavor", "size"), "secgroup": ("secgroup", "secgroups"),
                    "image": ("image",), "key": ("key",), "username": ("username", "user"),
                    "disk_gb": ("disk_gb", "disk")}


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _one_per_name(records: list[dict]) -> list[dict]:
    """The cache keeps one VM per name: a live one over a terminated one of that name."""
    chosen: dict[str, dict] = {}
    for record in records:
        current = chosen.get(record["name"])
        if current is None or current.get("status") == "terminated":
            chosen[record["name"]] = record
    return list(chosen.values())


#: verb -> (the provider's method, the status that ``wait=True`` waits for)
ACTIONS = {"start": ("start", "running"), "stop": ("stop", "stopped"),
           "reboot": ("reboot", "running"), "suspend": ("suspend", "suspended"),
           "resume": ("resume", "running"), "delete": ("destroy", "terminated")}


class Provider:
    """One cloud of ``cloudmesh.yaml``, whatever its kind: ``Provider("mycloud")`` or, as
    the cloudmesh seeds write it, ``Provider(service="mycloud")``. Without a name it is
    the default cloud (``cms set cloud=``, then ``cloudmesh.default.cloud``).

    Every method returns plain records (dicts with the same keys on every cloud: vm,
    image, flavor, key, secgroup; README "Use from Python") and raises only
    :class:`cloudmesh.compute.errors.CmsError` subclasses, each with its ``exit_code``:
    ``CloudError`` (1; ``WaitTimeout`` is one), ``UsageError`` (2; ``NotSupported`` is
    one), ``NotFound`` (3), ``ConfigError`` (4; ``CredentialError`` is one). An SDK
    exception never escapes: one the cloud's provider does not know becomes a
    ``CloudError`` whose ``__cause__`` is the original.

    Methods on several names (``boot``, ``act``, ``wait``, ``infos``) work on them
    concurrently and return one :class:`Outcome` per name instead of raising, so that one
    failure does not hide the others; ``outcome.get()`` gives the record or raises that
    name's error. The one-VM conveniences (``start``, ``stop``, ``reboot``, ``suspend``,
    ``resume``, ``delete``, ``ssh``) return or raise directly.
    """

    def __init__(self, name: str | None = None, config: Config | None = None,
                 state: State | None = None,
                 warn: Callable[[str], None] = _warn, *, service: str | None = None) -> None:
        """``name`` (or its alias ``service``): the cloud's name in cloudmesh.yaml.
        ``config`` and ``state``: another cloudmesh.yaml (``Config(path)``) or local
        database than the default ones. ``warn``: where warnings go (stderr)."""
        if service is not None:
            if name is not None and name != service:
                raise UsageError(f"Provider got two clouds, name={name!r} and "
                                 f"service={service!r}", "give one of them")
            name = service
        self.config = config or Config()
        self.state = state or State()
        #: where warnings go (a boot option the kind cannot honour ...): stderr by default
        self.warn = warn
        self.name = resolve_cloud(name, self.config, self.state)
        # a zero-config kind (multipass) works without a yaml entry, even without a file
        configured = self.config.exists and self.name in self.config.clouds()
        self.spec = (None if configured else zero_config_spec(self.name)) or \
            self.config.cloud(self.name)
        cm = self.spec.get("cm") or {}
        kind = cm.get("kind") if isinstance(cm, dict) else None
        if not kind:
            raise ConfigError(f"{self.config.path}: cloud '{self.name}' has no cm.kind",
                              "set it, e.g. cms config set "
                              f"cloudmesh.compute.{self.name}.cm.kind aws")
        self.kind = str(kind)
        provider_class = load_provider_class(self.kind, self.name)
        from cloudmesh.compute.session import current_session

        session = current_session()  # the cms> shell's: one instance per cloud
        self.provider: ComputeNodeABC = (
            provider_class(self.name, self.spec) if session is None
            else session.provider(provider_class, self.kind, self.name, self.spec))
        self.provider.notice = self.warn

    def __repr__(self) -> str:
        return f"Provider({self.name!r}, kind={self.kind!r})"

    # ---- calling the provider ------------------------------------------------------
    def call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        """Call a method of the kind's provider, turning every exception into a CmsError:
        the provider's ``translate_error``, and for an exception it does not know (a bug
        of the provider, or an SDK error it never expected) a ``CloudError`` naming the
        exception, with the original as ``__cause__`` (``cms --debug`` shows both)."""
        if not self.provider.supports(verb):
            raise self.provider.not_supported(verb)
        method = getattr(self.provider, verb)
        try:
            return method(*args, **kwargs)
        except CmsError:
            raise
        except Exception as error:
            translated = self.provider.translate_error(error)
            if translated is None:
                first_line = (str(error).splitlines() or [""])[0]
                translated = CloudError(
                    f"cloud '{self.name}': {self.kind} {verb} failed unexpectedly: "
                    f"{type(error).__name__}: {first_line}".rstrip(": "),
                    f"the {self.kind} provider does not know this error; "
                    "run 'cms --debug ...' for the traceback and report it")
            raise translated from error

    def __getattr__(self, attribute: str) -> Any:
        # Delegate anything else (provider-specific extras) with error translation.
        if attribute.startswith("_") or attribute in ("provider", "config", "state", "warn"):
            raise AttributeError(attribute)
        target = getattr(self.provider, attribute)
        if callable(target):
            return lambda *args, **kwargs: self.call(attribute, *args, **kwargs)
        return target

    # ---- defaults ------------------------------------------------------------------
    def default(self, option: str, given: Any = None) -> Any:
        """An option's value: the command line, then ``cms set CLOUD.OPTION`` or
        ``cms set OPTION``, then the cloud's ``default:`` block."""
        if given not in (None, ""):
            return given
        for variable in (f"{self.name}.{option}", option):
            value = self.state.get(variable)
            if value not in (None, ""):
                return value
        for spelling in _DEFAULT_ALIASES.get(option, (option,)):
            value = self.provider.defaults.get(spelling)
            if value not in (None, ""):
                return value
        return None

    def require_default(self, option: str, given: Any = None) -> Any:
        value = self.default(option, given)
        if value in (None, ""):
            raise ConfigError(
                f"no {option} given for cloud '{self.name}'",
                f"use --{option}=..., 'cms set {option}=...', or set "
                f"cloudmesh.compute.{self.name}.default.{option} in {self.config.path}")
        return value

    def new_names(self, count: int) -> tuple[list[str], int]:
        """Reserve ``count`` generated names ``{user}-vm-{n}``; returns them and the
        first counter value (to release if the boot fails)."""
        if count < 1:
            raise UsageError(f"--n must be at least 1, not {count}")
        if count > name_expr.MAX_NAMES:
            raise UsageError(f"--n={count} is above the limit of {name_expr.MAX_NAMES}")
        first = self.state.next_counter("vm", count)
        return self.generated_names(first, count), first

    def generated_names(self, first: int, count: int) -> list[str]:
        """``{user}-vm-{n}`` from a user name cut down to what every cloud accepts
        (lowercase letters, digits and '-', starting with a letter)."""
        user = name_expr.sanitised_user(self.config.username())
        return [f"{user}-vm-{n}" for n in range(first, first + count)]

    # ---- VMs -----------------------------------------------------------------------
    def list(self, names: str | list[str] | None = None, cached: bool = False) -> list[dict]:
        """The cloud's VMs as vm records (name, id, cloud, kind, status, state, image,
        flavor, public_ips, private_ips, key, secgroups, region, zone, created, metadata),
        sorted by name. Live from the cloud (which replaces the local cache), or with
        ``cached=True`` from the cache without a request. ``names``: only these (a name
        expression such as ``"web[01-03]"`` or a list)."""
        wanted = set(name_expr.expand(names)) if names else None
        if cached:
            records = self.state.cached(self.name, "vm")
        else:
            records = sorted(self.call("list"), key=lambda r: (r["name"], r.get("id") or ""))
            self.state.cache_replace(self.name, "vm", _one_per_name(records))
        if wanted is not None:
            records = [r for r in records if r["name"] in wanted or r.get("id") in wanted]
        return records

    def info(self, name: str) -> dict:
        """One VM's record, by name or the cloud's id; NotFound if there is none."""
        record = self.call("info", name)
        self.remember([Outcome(name, result=record)])
        return record

    def boot(self, names: str | list[str] | None = None, count: int | None = None,
             image: str | None = None, flavor: str | None = None, key: str | None = None,
             secgroups: str | list[str] | None = None, username: str | None = None,
             network: str | None = None, subnet: str | None = None,
             public_ip: bool | str | None = None, zone: str | None = None,
             disk_gb: int | str | None = None, userdata: str | None = None,
             metadata: dict[str, str] | None = None, dryrun: bool = False,
             wait: bool = False, timeout: float = 600,
             progress: Callable[[str, dict, float], None] | None = None) -> list[Outcome]:
        """Boot VMs, one per name (a name expression or a list), or ``count`` generated
        names ``{user}-vm-{n}`` (one when neither is given), concurrently. Every option
        not given comes from ``cms set``, the cloud's ``default:`` block, then the kind's
        own default (see cloudmesh.compute.boot); an option the kind cannot honour is a
        warning. ``wait=True`` returns once each VM is running (at most ``timeout``
        seconds). Returns one Outcome per VM: ``outcome.get()`` is its vm record or
        raises its error. A bad option or name raises before any request."""
        from cloudmesh.compute import boot

        return boot.boot(self, names, count, dryrun=dryrun, wait=wait, timeout=timeout,
                         progress=progress, image=image, flavor=flavor, key=key,
                         secgroups=secgroups, username=username, network=network,
                         subnet=subnet, public_ip=public_ip, zone=zone, disk_gb=disk_gb,
                         userdata=userdata, metadata=metadata)

    def remember(self, outcomes: list[Outcome]) -> None:
        """Cache the VM records of successful outcomes."""
        for outcome in outcomes:
            record = outcome.result if outcome.ok else None
            if isinstance(record, dict) and record.get("name") and "cloud" in record:
                self.state.cache_put(self.name, "vm", record)

    @staticmethod
    def progress_for(vm_name: str, progress: Callable[[str, dict, float], None] | None):
        if progress is None:
            return None
        return lambda record, elapsed: progress(vm_name, record, elapsed)

    def act(self, verb: str, names: str | list[str], dryrun: bool = False) -> list[Outcome]:
        """start, stop, reboot, suspend, resume or destroy the named VMs concurrently.
        Acts only on the names given; a name that is not there is a NotFound outcome.
        Returns one Outcome per name (its vm record once the cloud took the request; see
        ``wait`` for the target status). ``dryrun``: no request, the cached records."""
        if verb not in ("start", "stop", "reboot", "suspend", "resume", "destroy"):
            raise UsageError(f"unknown action '{verb}'")
        vm_names = name_expr.expand(names)
        if not vm_names:
            raise UsageError(f"{verb} needs at least one VM name")
        if not self.provider.supports(verb):
            raise self.provider.not_supported(verb)
        if dryrun:  # no request reaches the cloud: say what is known from the cache
            return [Outcome(n, result=self._cached_vm(n)) for n in vm_names]
        outcomes = fan_out(lambda n: self.call(verb, n), vm_names)
        self.remember(outcomes)
        if verb == "destroy":
            for outcome in outcomes:
                if outcome.ok:
                    self.state.boot_forget(self.name, outcome.item)
        return outcomes

    def _cached_vm(self, vm_name: str) -> dict:
        for record in self.state.find(vm_name):
            if record.get("cloud") == self.name:
                return record
        return self.provider.vm_record(name=vm_name, status="unknown", state="not cached")

    def wait(self, names: str | list[str], status: str = "running", timeout: float = 600,
             interval: float = 2,
             progress: Callable[[str, dict, float], None] | None = None) -> list[Outcome]:
        """Wait until each VM has the normalised ``status`` (running, stopped, suspended,
        terminated, ...), or with ``status="ssh"`` until a command runs on it over SSH.
        One Outcome per VM: its record, or a WaitTimeout after ``timeout`` seconds.
        ``progress(name, record, elapsed)`` is called on every poll."""
        if status == "ssh":
            return self.wait_ssh(names, timeout=timeout, interval=interval,
                                 progress=progress)
        vm_names = name_expr.expand(names)
        outcomes = fan_out(lambda n: self.call("wait", n, status, timeout=timeout,
                                               interval=interval,
                                               progress=self.progress_for(n, progress)), vm_names)
        self.remember(outcomes)
        return outcomes

    def infos(self, names: str | list[str]) -> list[Outcome]:
        """``info`` of several VMs concurrently: one Outcome per name."""
        vm_names = name_expr.expand(names)
        outcomes = fan_out(lambda n: self.call("info", n), vm_names)
        self.remember(outcomes)
        return outcomes

    # ---- one VM at a time: return the record or raise -------------------------------
    def _act_one(self, verb: str, name: str, wait: bool, timeout: float) -> dict:
        method, target = ACTIONS[verb]
        if len(name_expr.expand(name)) != 1:
            raise UsageError(f"{verb} takes one VM name, not {name!r}",
                             f"use act({method!r}, names) for several")
        (outcome,) = self.act(method, name)
        record = outcome.get()
        if wait:
            (waited,) = self.wait(name, target, timeout=timeout)
            record = waited.get()
        return record

    def start(self, name: str, wait: bool = False, timeout: float = 600) -> dict:
        """Start one VM; its record (``wait=True``: once it is running)."""
        return self._act_one("start", name, wait, timeout)

    def stop(self, name: str, wait: bool = False, timeout: float = 600) -> dict:
        """Stop one VM; its record (``wait=True``: once it is stopped)."""
        return self._act_one("stop", name, wait, timeout)

    def reboot(self, name: str, wait: bool = False, timeout: float = 600) -> dict:
        """Reboot one VM; its record (``wait=True``: once it is running again)."""
        return self._act_one("reboot", name, wait, timeout)

    def suspend(self, name: str, wait: bool = False, timeout: float = 600) -> dict:
        """Suspend one VM (NotSupported where the kind cannot); its record."""
        return self._act_one("suspend", name, wait, timeout)

    def resume(self, name: str, wait: bool = False, timeout: float = 600) -> dict:
        """Resume one suspended VM; its record (``wait=True``: once it is running)."""
        return self._act_one("resume", name, wait, timeout)

    def delete(self, name: str, wait: bool = False, timeout: float = 600) -> dict:
        """Delete one VM and what cms created for it; its record (status deleting or
        terminated; ``wait=True``: once it is gone)."""
        return self._act_one("delete", name, wait, timeout)

    # ---- keys ------------------------------------------------------------------------
    def keys(self) -> list[dict]:
        """The key pairs on the cloud: key records (name, fingerprint, cloud, kind)."""
        return self.call("keys")

    def upload_key(self, name: str, on_cloud: dict[str, dict] | None = None) -> dict:
        """Upload a key of the local registry (``cms key add|gen``); its key record with
        ``action`` "uploaded". The same key already there is a no-op (``action:
        unchanged``); another key under that name is a CloudError naming both
        fingerprints; a name not in the registry is NotFound."""
        local = self.state.key_get(name)
        if local is None:
            raise NotFound(f"key '{name}' is not in the local registry",
                           f"add it with 'cms key add {name}' or 'cms key gen {name}'")
        if on_cloud is None:
            on_cloud = {k["name"]: k for k in self.call("keys")}
        present = on_cloud.get(name)
        if present is not None:
            if present.get("fingerprint") == local["fingerprint"]:
                return {**present, "action": "unchanged"}
            raise CloudError(
                f"cloud '{self.name}' has another key named '{name}' "
                f"({present.get('fingerprint')}; the local one is {local['fingerprint']})",
                "delete it there first (cms key delete NAME --cloud=...) or use another name")
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
    def secgroups(self) -> list[dict]:
        """The cloud's security groups: records (name, id, description, rules), each
        rule {direction, protocol, from_port, to_port, cidr}."""
        return self.call("secgroups")

    def upload_secgroup(self, name: str, prune: bool = False, dryrun: bool = False) -> dict:
        """Create or reconcile a locally defined group on the cloud (``prune``: remove
        rules the local group lacks; ``dryrun``: only say what would change)."""
        group = self.state.secgroup_get(name)
        if group is None:
            raise NotFound(f"security group '{name}' is not defined locally",
                           f"define it with 'cms secgroup add {name}' and 'cms secgroup rule add'")
        from cloudmesh.compute.bootspec import cloud_group_name

        # the local group 'default' is the cms-owned 'cms-default' on the cloud
        group = {**group, "name": cloud_group_name(name)}
        return self.call("secgroup_upload", group, prune=prune, dryrun=dryrun)

    def delete_secgroups(self, names: str | list[str]) -> list[Outcome]:
        """Delete groups on the cloud: one Outcome per group."""
        from cloudmesh.compute.bootspec import cloud_group_name

        return fan_out(lambda n: self.call("secgroup_delete", cloud_group_name(n)),
                       name_expr.expand(names))

    # ---- ssh ---------------------------------------------------------------------------
    def ssh_target(self, name: str, username: str | None = None, key: str | None = None,
                   port: str | int | None = None, host: str | None = None) -> SshTarget:
        """Where and as whom to reach a VM (an SshTarget: name, host, port, username,
        key_path): the VM's record, then the options (command line, cms set, the cloud's
        default block: ssh_host, ssh_port, username, key), then the key registry for the
        private key file."""
        import getpass

        from cloudmesh.compute.sshclient import SshTarget

        record = self.info(name)
        address, default_port = self.call("ssh_address", record)
        host = self.default("ssh_host", host) or address
        from cloudmesh.compute.sshclient import check_port

        port_number = check_port(self.default("ssh_port", port) or default_port)
        booted = self.state.boot_get(self.name, record["name"]) or {}
        user = (username or (record.get("metadata") or {}).get("username")
                or booted.get("username") or self.default("username")
                or self.provider.default_username or getpass.getuser())
        key_name = key or record.get("key") or booted.get("key") or self.default("key")
        key_path = None
        if key_name:
            entry = self.state.key_get(key_name)
            if entry and entry.get("private_path"):
                key_path = entry["private_path"]
            elif key and os.path.isfile(os.path.expanduser(key)):
                key_path = os.path.expanduser(key)  # --key may also name a file
            elif key:
                raise NotFound(f"key '{key}' is neither in the local registry nor a file",
                               "see 'cms key list'")
        return SshTarget(name=record["name"], host=str(host), port=port_number,
                         username=str(user), key_path=key_path)

    def wait_ssh(self, names: str | list[str], timeout: float = 600, interval: float = 2,
                 progress: Callable[[str, dict, float], None] | None = None,
                 **target_options: Any) -> list[Outcome]:
        """Wait until each VM is running and a command runs over SSH."""
        import time

        from cloudmesh.compute.errors import WaitTimeout

        def wait_one(vm_name: str) -> dict:
            start = time.monotonic()
            record = self.call("wait", vm_name, "running", timeout=timeout, interval=interval,
                               progress=self.progress_for(vm_name, progress))
            last_error: Exception | None = None
            while True:
                remaining = timeout - (time.monotonic() - start)
                try:
                    target = self.ssh_target(vm_name, **target_options)
                    if _run_ssh(target, "true", timeout=max(1.0, min(10.0, remaining)),
                                stdout=_Discard(), stderr=_Discard()) == 0:
                        if progress:
                            progress(vm_name, {**record, "status": "ssh"},
                                     time.monotonic() - start)
                        return {**record, "status": "ssh"}
                except CmsError as error:
                    last_error = error
                if time.monotonic() - start + interval > timeout:
                    raise WaitTimeout(f"timed out after {timeout:g}s waiting for SSH on "
                                      f"{vm_name} (last error: {last_error})")
                time.sleep(interval)

        return fan_out(wait_one, name_expr.expand(names))

    def ssh(self, name: str, command: str, username: str | None = None,
            key: str | None = None, port: str | int | None = None, host: str | None = None,
            timeout: float = 30) -> dict:
        """Run ``command`` on one VM over SSH (as ``cms vm ssh NAME --command`` does:
        address, user and key from ``ssh_target``; host keys in ~/.cloudmesh/known_hosts,
        a changed one refused). Returns {"name", "host", "exit_code", "stdout",
        "stderr"}; a command that fails is a non-zero ``exit_code``, not an exception.
        ``timeout``: seconds to connect. A VM that cannot be reached is a CloudError, a
        refused key a CredentialError."""
        import io

        target = self.ssh_target(name, username=username, key=key, port=port, host=host)
        out, err = io.BytesIO(), io.BytesIO()
        code = _run_ssh(target, command, timeout=timeout, stdout=out, stderr=err)
        return {"name": target.name, "host": target.host, "exit_code": code,
                "stdout": out.getvalue().decode("utf-8", "replace"),
                "stderr": err.getvalue().decode("utf-8", "replace")}

    # ---- images and flavors --------------------------------------------------------
    def images(self) -> list[dict]:
        """The cloud's image catalogue: image records (name, id, cloud, kind, os, version,
        status, created); the local cache is replaced."""
        records = self.call("images")
        self.state.cache_replace(self.name, "image", records)
        return records

    def image(self, name: str) -> dict:
        """One image by the kind's notations (name, id, ...); NotFound if none."""
        return self.call("image", name)

    def flavors(self) -> list[dict]:
        """The cloud's flavors (sizes): flavor records (name, id, cloud, kind, vcpus,
        ram_mb, disk_gb); the local cache is replaced."""
        records = self.call("flavors")
        self.state.cache_replace(self.name, "flavor", records)
        return records

    def flavor(self, name: str) -> dict:
        """One flavor by name or id; NotFound if none."""
        return self.call("flavor", name)

    def check(self) -> str:
        """One cheap authenticated request: a short text on success, else the error
        (CredentialError for refused credentials)."""
        return self.call("check")


def _run_ssh(target: SshTarget, command: str, timeout: float, stdout: Any,
             stderr: Any) -> int:
    """sshclient.run_command with every failure a CmsError: after the connection (whose
    errors it reports itself) paramiko can still fail opening the channel or reading."""
    from cloudmesh.compute.sshclient import run_command

    try:
        return run_command(target, command, timeout=timeout, stdout=stdout, stderr=stderr)
    except CmsError:
        raise
    except Exception as error:
        raise CloudError(f"{target.name}: ssh {target.username}@{target.host}:{target.port} "
                         f"failed: {type(error).__name__}: {error}".rstrip(": ")) from error


class _Discard:
    """A stream that drops what is written (the output of wait's probe command)."""

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass


def open_providers(clouds: list[str], config: Config, state: State) -> list[Outcome]:
    """A Provider for each cloud; a cloud that cannot be opened is an error outcome."""
    outcomes = []
    for cloud in clouds:
        try:
            outcomes.append(Outcome(cloud, result=Provider(cloud, config=config, state=state)))
        except CmsError as error:
            outcomes.append(Outcome(cloud, error=error))
    return outcomes
