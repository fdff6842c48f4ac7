"""The delegating ``Provider(name)`` facade.

It reads ``cm.kind`` of the named cloud, imports ``cloudmesh.<kind>.compute`` (and so only
that kind's SDK), and adds what every cloud shares: defaults (command line, then
``cms set``, then the cloud's ``default:`` block), generated names, name expansion,
fan-out over names in a thread pool, error translation and the local cache.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from cloudmesh.compute import names as name_expr
from cloudmesh.compute.abc import ComputeNodeABC
from cloudmesh.compute.config import Config, resolve_cloud
from cloudmesh.compute.errors import CloudError, CmsError, ConfigError, UsageError
from cloudmesh.compute.fanout import MAX_WORKERS, Outcome, fan_out  # noqa: F401 (re-exported)
from cloudmesh.compute.hidden import Hidden
from cloudmesh.compute.keysgroups import KeyGroupMethods
from cloudmesh.compute.registry import load as load_provider_class
from cloudmesh.compute.registry import zero_config_spec
from cloudmesh.compute.sshtarget import SshMethods
from cloudmesh.compute.state import State

#: spellings the seeds and older cloudmesh files use for the same default
_DEFAULT_ALIASES = {"flavor": ("flavor", "size"), "secgroup": ("secgroup", "secgroups"),
                    "username": ("username", "user"), "disk_gb": ("disk_gb", "disk")}


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


class Provider(KeyGroupMethods, SshMethods):
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

    ``provider.keys`` and ``provider.secgroups`` are :mod:`cloudmesh.compute.keysgroups`;
    SSH is :class:`~cloudmesh.compute.sshtarget.SshMethods`.
    """
    spec = Hidden()  # the cloud's entry, credentials too: kept out of vars(provider)

    def __init__(self, name: str | None = None, config: Config | None = None,
                 state: State | None = None,
                 warn: Callable[[str], None] = _warn, *, service: str | None = None,
                 region: str | None = None) -> None:
        """``name`` (or its alias ``service``): the cloud's name in cloudmesh.yaml.
        ``config`` and ``state``: another cloudmesh.yaml (``Config(path)``) or local
        database than the default ones. ``warn``: where warnings go (stderr).
        ``region``: this region instead of the configured one (cloudmesh.compute.regions)."""
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
        from cloudmesh.compute import regions  # (a region's entry; imports only errors)
        self.region, self.cache_name = region, regions.cache_name(self.name, region)
        if region is not None:
            self.spec = regions.in_region(self.spec, self.kind, region, provider_class)
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
        value = self._set_value(option, given)
        if value is not None:
            return value
        for spelling in _DEFAULT_ALIASES.get(option, (option,)):
            value = self.provider.defaults.get(spelling)
            if value not in (None, ""):
                return value
        return None

    def require_default(self, option: str, given: Any = None) -> Any:
        value = self.default(option, given)
        if value in (None, ""):
            where = f"'cms set {option}=...' or its default.{option} in cloudmesh.yaml"
            error = ConfigError(f"no {option} for cloud {self.name}", f"{option}=..., {where}")
            error.cli_hint = f"use --{option}=..., {where}"  # (command.run_command)
            raise error
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
            records = self.state.cached(self.cache_name, "vm")
        else:
            records = sorted(self.with_usernames(self.call("list")),
                             key=lambda r: (r["name"], r.get("id") or ""))
            self.state.cache_replace(self.cache_name, "vm", _one_per_name(records))
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
        """Cache the VM records of successful outcomes (with the boot's login filled in)."""
        records = [o.result for o in outcomes if o.ok and isinstance(o.result, dict)
                   and o.result.get("name") and "cloud" in o.result]
        for record in self.with_usernames(records):
            self.state.cache_put(self.cache_name, "vm", record)

    def with_usernames(self, records: list[dict]) -> list[dict]:
        """The records, each whose ``username`` the provider left None given the login
        its boot used, where this machine booted it (in place; one query)."""
        if any(r.get("username") is None for r in records):
            known = self.state.boot_usernames(self.name)
            for record in records:
                if record.get("username") is None and record.get("name") in known:
                    record["username"] = known[record["name"]]
        return records

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
        if not isinstance(name, str):
            raise UsageError(f"{verb} takes one VM name, not {name!r}",
                             f"use act({method!r}, names) for several")
        exact = name_expr.literal(name)  # one VM's exact name: no expansion
        (outcome,) = self.act(method, exact)
        record = outcome.get()
        if wait:
            (waited,) = self.wait(exact, target, timeout=timeout)
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

    # ---- images and flavors --------------------------------------------------------
    def images(self, all_builds: bool = False) -> list[dict]:
        """The cloud's image catalogue: image records (name, id, cloud, kind, os, version,
        arch, status, created); the local cache is replaced. Where the kind's list is a
        catalogue (the newest build per family), ``all_builds=True`` lists every build
        (``cms image list --all``); elsewhere the list has every image already."""
        import inspect  # a kind written before the contract had all_builds lacks it

        if all_builds and "all_builds" in inspect.signature(self.provider.images).parameters:
            records = self.call("images", all_builds=True)
        else:
            records = self.call("images")
        self.state.cache_replace(self.cache_name, "image", records)
        return records

    def image(self, name: str) -> dict:
        """One image by the kind's notations (name, id, ...); NotFound if none."""
        return self.call("image", name)

    def flavors(self) -> list[dict]:
        """The cloud's flavors (sizes): flavor records (name, id, cloud, kind, vcpus,
        ram_mb, disk_gb); the local cache is replaced."""
        records = self.call("flavors")
        self.state.cache_replace(self.cache_name, "flavor", records)
        return records

    def flavor(self, name: str) -> dict:
        """One flavor by name or id; NotFound if none."""
        return self.call("flavor", name)

    def check(self) -> str:
        """One cheap authenticated request: a short text on success, else the error
        (CredentialError for refused credentials)."""
        return self.call("check")


def open_providers(clouds: list[str], config: Config, state: State) -> list[Outcome]:
    """A Provider for each cloud; a cloud that cannot be opened is an error outcome."""
    outcomes = []
    for cloud in clouds:
        try:
            outcomes.append(Outcome(cloud, result=Provider(cloud, config=config, state=state)))
        except CmsError as error:
            outcomes.append(Outcome(cloud, error=error))
    return outcomes
