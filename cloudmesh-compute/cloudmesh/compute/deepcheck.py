"""``cms check --deep``: prove that a cloud works end to end, and leave nothing behind.

Per cloud (all at once, one thread each): the credentials answer, the image and flavor
resolve, a throwaway key is made (cms's own ed25519 generation, a temporary registry
entry), the VM boots with it, SSH answers, ``uname -a`` runs over SSH, then the VM is
deleted with what was made for it (cloud key pair, cms-owned groups this run created, the
registry entry and key files, the known_hosts line) and confirmed gone. The cleanup runs
whatever happened before: a failed step, the per-cloud timeout, a first Ctrl-C.

A VM booted here carries the kit's ownership marker (``cms-owner=<its name>``) and the
deep-check marker (``cms-deep-check=<run id>``), and the run is journalled in the local
state, so that ``cms check --deep --cleanup`` finds and removes what an interrupted run
left, and nothing else (a kind without metadata, multipass, is matched by the journal).
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from typing import Any, Callable

from cloudmesh.compute.errors import CloudError, CmsError, NotFound, WaitTimeout
from cloudmesh.compute.kit.markers import OWNER_KEY

STEPS = ("credentials", "image", "flavor", "key", "boot", "ssh", "uname", "delete",
         "cleanup", "gone")
#: the metadata key of the deep-check marker
DEEP_KEY = "cms-deep-check"
#: every VM and key a deep check makes is named so: cms-deep-<8 hex digits>
NAME_PATTERN = re.compile(r"^cms-deep-[0-9a-f]{8}$")
#: the local journal: state variable cms-deep-check.<cloud>.<name> = run id (a VM and its
#: key) and cms-deep-check.<cloud>.group.<name> = run id (a cms-owned group the run made)
JOURNAL = "cms-deep-check."
GROUP_JOURNAL = "group."
#: a group a deep check made has "(cms-deep-check=<run id>) " first in its description
GROUP_MARK = re.compile(r"\(" + DEEP_KEY + r"=([0-9a-f]{16})\)")
#: the cleanup's own bound once the run's timeout has passed
CLEANUP_SECONDS = 300.0
COLUMNS = ["cloud", "kind", "step", "status", "seconds", "detail", "left"]


class Stopped(CloudError):
    """The run was interrupted or ran out of time: the next steps give way to cleanup."""


class DeepCheck:
    """One cloud's deep check. ``run()`` fills ``rows`` (one per step) and ``left`` (what
    is still on the cloud or this machine, each with the command that removes it)."""

    def __init__(self, cloud: str, config: Any, state: Any, image: str | None,
                 flavor: str | None, timeout: float, stop: threading.Event,
                 say: Callable[[str], None]) -> None:
        self.cloud, self.config, self.state = cloud, config, state
        self.image, self.flavor, self.timeout = image, flavor, timeout
        self.stop, self.say = stop, say
        self.name = "cms-deep-" + secrets.token_hex(4)
        self.run_id = secrets.token_hex(8)
        self.kind, self.facade = "?", None
        self.rows: list[dict] = []
        self.left: dict[str, tuple[str, str]] = {}  # resource -> (what, removing command)
        self.errors: list[CmsError] = []
        self.lock = threading.RLock()
        self.done = threading.Event()
        self.deadline = time.monotonic() + timeout
        self.interval = min(2.0, max(0.05, timeout / 100))
        self.key_dir: str | None = None
        self.groups_made: list[str] = []
        self.known_host: str | None = None

    # ---- bookkeeping ---------------------------------------------------------------------
    def _row(self, step: str, status: str, seconds: float, detail: str) -> None:
        with self.lock:
            self.rows.append({"cloud": self.cloud, "kind": self.kind, "step": step,
                              "status": status, "seconds": round(seconds, 2),
                              "detail": detail, "left": ""})
        self.say(f"{self.cloud}: {step} {status} ({seconds:.1f}s)")

    def _made(self, resource: str, what: str, command: str) -> None:
        with self.lock:
            self.left[resource] = (what, command)

    def _removed(self, resource: str) -> None:
        with self.lock:
            self.left.pop(resource, None)

    def leftovers(self) -> str:
        with self.lock:
            return "; ".join(f"{what} (remove: {command})"
                             for what, command in self.left.values()) or "nothing"

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _poll(self, *_: Any) -> None:
        """Called on every poll of a wait: stops it on Ctrl-C or at the deadline."""
        if self.stop.is_set():
            raise Stopped(f"cloud '{self.cloud}': interrupted")
        if self._remaining() <= 0:
            raise Stopped(f"cloud '{self.cloud}': timed out after {self.timeout:g}s",
                          "give more time with --timeout=SECONDS")

    def _step(self, step: str, work: Callable[[], str], cleanup: bool = False) -> bool:
        started = time.monotonic()
        if not cleanup:
            blocked = next((r for r in self.rows if r["status"] != "ok"), None)
            if blocked is not None:
                self._row(step, "skipped", 0, f"not run: step '{blocked['step']}' did not pass")
                return False
            try:
                self._poll()
            except Stopped as error:
                self._row(step, "interrupted" if self.stop.is_set() else "failed", 0,
                          str(error))
                self.errors.append(error)
                return False
        try:
            detail = work()
        except Exception as error:  # each failure is this step's row, never an abort
            if not isinstance(error, CmsError):
                error = CloudError(f"cloud '{self.cloud}': {step}: "
                                   f"{type(error).__name__}: {error}")
            status = "interrupted" if isinstance(error, Stopped) and self.stop.is_set() \
                else "failed"
            self._row(step, status, time.monotonic() - started, str(error))
            self.errors.append(error)
            return False
        self._row(step, "ok", time.monotonic() - started, detail)
        return True

    # ---- the run -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            for step in STEPS[:7]:
                self._step(step, getattr(self, "_" + step))
            self.deadline = max(self.deadline, time.monotonic() + CLEANUP_SECONDS)
            for step in STEPS[7:]:
                self._step(step, getattr(self, "_" + step), cleanup=True)
        finally:
            with self.lock:
                if self.rows:
                    self.rows[-1]["left"] = self.leftovers()
            self.done.set()

    def _credentials(self) -> str:
        from cloudmesh.compute.provider import Provider

        self.facade = Provider(self.cloud, config=self.config, state=self.state,
                               warn=lambda text: self.say(f"{self.cloud}: warning: {text}"))
        self.kind = self.facade.kind
        return self.facade.check()

    def _image(self) -> str:
        self.image = str(self.facade.require_default("image", self.image))
        record = self.facade.image(self.image)
        return f"{record.get('name')} ({record.get('id')})"

    def _flavor(self) -> str:
        chosen = self.facade.default("flavor", self.flavor)
        if not chosen:  # none given or configured: the smallest the cloud offers
            chosen = min(self.facade.flavors(), key=lambda f: (
                f.get("vcpus") or 0, f.get("ram_mb") or 0, f.get("disk_gb") or 0))["name"]
        record = self.facade.flavor(str(chosen))
        self.flavor = str(chosen)
        return (f"{record.get('name')}: {record.get('vcpus')} vCPU, "
                f"{record.get('ram_mb')} MB")

    def _key(self) -> str:
        import tempfile
        from pathlib import Path

        from cloudmesh.compute.keys import generate_ed25519

        self.key_dir = tempfile.mkdtemp(prefix="cms-deep-check-")
        self._made("files", f"key files {self.key_dir}", f"rm -r {self.key_dir}")
        entry = generate_ed25519(Path(self.key_dir) / self.name, f"{DEEP_KEY}:{self.run_id}")
        self.state.set(f"{JOURNAL}{self.cloud}.{self.name}", self.run_id)
        self.state.key_put({"name": self.name, **entry})
        self._made("registry", f"registry key {self.name}", f"cms key delete {self.name}")
        return entry["fingerprint"]

    def _boot(self) -> str:
        facade, provider = self.facade, self.facade.provider
        if provider.supports("secgroups"):
            self._make_groups()
        if provider.key_delivery == "keypair" and provider.supports("key_upload"):
            self._made("keypair", f"key pair {self.name}",
                       f"cms key delete {self.name} --cloud={self.cloud}")
        metadata = {OWNER_KEY: self.name, DEEP_KEY: self.run_id} \
            if provider.supports("metadata") else None
        self._made("vm", f"VM {self.name}", f"cms vm delete {self.name} --cloud={self.cloud}")
        (outcome,) = facade.boot(names=self.name, image=self.image, flavor=self.flavor,
                                 key=self.name, metadata=metadata)
        record = outcome.get()
        self._made("vm", f"VM {self.name} ({record.get('id')})",
                   f"cms vm delete {self.name} --cloud={self.cloud}")
        record = facade.call("wait", self.name, "running", timeout=max(1, self._remaining()),
                             interval=self.interval, progress=self._poll)
        return f"{record.get('id')} running"

    def _make_groups(self) -> None:
        """Make the cms-owned groups the boot will use that the cloud lacks, marked with the
        run id and journalled (cleanup and --cleanup remove exactly these); the boot uses them."""
        from cloudmesh.compute.bootspec import cloud_group_name

        wanted = self.facade.default("secgroup") or []
        if isinstance(wanted, str):
            wanted = [g.strip() for g in wanted.split(",") if g.strip()]
        present = {g["name"] for g in self.facade.secgroups()}
        for local in wanted:
            definition = self.state.secgroup_get(local)
            name = cloud_group_name(local)
            if definition is None or name in present:
                continue  # a cloud's own group, or one already there: used as it is
            described = definition.get("description") or name
            self.state.set(f"{JOURNAL}{self.cloud}.{GROUP_JOURNAL}{name}", self.run_id)
            self._made(f"group:{name}", f"group {name}",
                       f"cms secgroup delete {name} --cloud={self.cloud}")
            self.groups_made.append(name)
            self.facade.call("secgroup_upload", {
                **definition, "name": name,
                "description": f"({DEEP_KEY}={self.run_id}) {described}"})

    def _ssh(self) -> str:
        from cloudmesh.compute.sshclient import known_hosts_path
        from cloudmesh.compute.sshtarget import _Discard, run_ssh

        last: Exception | None = None
        while True:
            try:
                target = self.facade.ssh_target(self.name)
                if self.known_host is None:
                    path = known_hosts_path()
                    known = path.read_text() if path.is_file() else ""
                    name = target.host_key_name
                    self.known_host = "" if f"\n{name} " in f"\n{known}" else name
                if run_ssh(target, "true", timeout=max(1.0, min(10.0, self._remaining())),
                           stdout=_Discard(), stderr=_Discard()) == 0:
                    return f"{target.username}@{target.host}:{target.port}"
            except CmsError as error:
                last = error
            try:
                self._poll()
            except Stopped:
                if self.stop.is_set():
                    raise
                raise WaitTimeout(f"cloud '{self.cloud}': SSH on {self.name} did not answer "
                                  f"within {self.timeout:g}s (last error: {last})",
                                  "give more time with --timeout=SECONDS") from None
            time.sleep(self.interval)

    def _uname(self) -> str:
        result = self.facade.ssh(self.name, "uname -a", timeout=max(1, min(30, self._remaining())))
        if result["exit_code"] != 0:
            raise CloudError(f"{self.name}: 'uname -a' exited {result['exit_code']}: "
                             f"{result['stderr'].strip()[:200]}")
        return (result["stdout"].strip().splitlines() or [""])[0]

    # ---- cleanup -------------------------------------------------------------------------
    def _delete(self) -> str:
        if "vm" not in self.left:
            return "no VM was made"
        if not vm_present(self.facade, self.name):  # the create was refused or lost
            self._removed("vm")
            return "no VM was made"
        removed = remove_vm(self.facade, self.name, self._remaining)
        self._removed("vm")
        return removed

    def _cleanup(self) -> str:
        facade, done, problems = self.facade, [], []
        if facade is not None and "keypair" in self.left:
            try:
                facade.call("key_delete", self.name)
            except NotFound:
                pass
            except CmsError as error:
                problems.append(str(error))
            else:
                done.append(f"key pair {self.name}")
            if not any("key pair" in p for p in problems):
                self._removed("keypair")
        for group in self.groups_made:
            try:
                if "vm" in self.left:
                    raise CloudError(f"group {group} is kept while VM {self.name} may use it")
                retry(lambda g=group: facade.call("secgroup_delete", g), self._remaining)
            except CmsError as error:
                problems.append(str(error))
                continue
            self._removed(f"group:{group}")
            self.state.delete(f"{JOURNAL}{self.cloud}.{GROUP_JOURNAL}{group}")
            done.append(f"group {group}")
        if "registry" in self.left:
            self.state.key_delete(self.name)
            self._removed("registry")
        if self.key_dir:
            shutil.rmtree(self.key_dir, ignore_errors=True)
            self._removed("files")
        if self.known_host:
            forget_host(self.known_host)
        if "vm" not in self.left and "keypair" not in self.left:
            # kept while the VM is there: 'cms check --deep --cleanup' finds it by this
            self.state.delete(f"{JOURNAL}{self.cloud}.{self.name}")
        if problems:
            raise CloudError("; ".join(problems))
        return ", ".join(done + ["local key"]) if self.key_dir else "nothing was made"

    def _gone(self) -> str:
        if self.facade is None:
            return "nothing was made"
        if vm_present(self.facade, self.name):
            if "vm" not in self.left:
                self._made("vm", f"VM {self.name}",
                           f"cms vm delete {self.name} --cloud={self.cloud}")
            raise CloudError(f"VM {self.name} is still on cloud '{self.cloud}'")
        if self.facade.provider.key_delivery == "keypair" \
                and self.facade.provider.supports("keys") \
                and self.name in {k["name"] for k in self.facade.keys()}:
            self._made("keypair", f"key pair {self.name}",
                       f"cms key delete {self.name} --cloud={self.cloud}")
            raise CloudError(f"key pair {self.name} is still on cloud '{self.cloud}'")
        if self.left:
            raise CloudError(f"left behind: {self.leftovers()}")
        return f"VM {self.name} and its key are gone"


def retry(action: Callable[[], Any], remaining: Callable[[], float], attempts: int = 3) -> Any:
    """``action`` again after a failure (a delete that fails once must not leave a VM);
    the pause doubles from a hundredth of the time left (at most 1 s), as the polling."""
    pause = min(1.0, max(0.05, remaining() / 100))
    for attempt in range(attempts):
        try:
            return action()
        except NotFound:
            return None
        except CmsError:
            if attempt == attempts - 1 or remaining() <= 0:
                raise
        time.sleep(min(pause * 2 ** attempt, max(0.0, remaining())))


def vm_present(facade: Any, name: str) -> bool:
    try:
        return facade.call("info", name)["status"] != "terminated"
    except NotFound:
        return False


def remove_vm(facade: Any, name: str, remaining: Callable[[], float]) -> str:
    """Delete a VM (tried again after a failure), wait until it is terminated, and purge
    it where the kind keeps deleted VMs (multipass)."""
    import inspect

    attempts: list[str] = []

    def destroy() -> Any:
        try:
            return facade.call("destroy", name)
        except NotFound:
            raise
        except CmsError as error:
            attempts.append(str(error))
            raise

    retry(destroy, remaining)
    try:
        facade.call("wait", name, "terminated", timeout=max(1.0, remaining()),
                    interval=min(2.0, max(0.05, remaining() / 100)))
    except NotFound:
        pass
    delete = getattr(facade.provider, "delete", None)
    if delete is not None and "purge" in inspect.signature(delete).parameters:
        facade.call("delete", name, purge=True)
    facade.state.boot_forget(facade.name, name)
    facade.state.cache_remove(facade.name, "vm", name)
    note = f" after {len(attempts)} failed attempt(s): {attempts[0]}" if attempts else ""
    return f"deleted{note}"


def forget_host(host_key_name: str) -> None:
    """Remove the known_hosts lines of a throwaway VM's address (its IP will be reused)."""
    import fcntl

    from cloudmesh.compute.sshclient import known_hosts_path

    path = known_hosts_path()
    if not path.is_file():
        return
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        lines = handle.readlines()
        kept = [line for line in lines if not line.startswith(host_key_name + " ")]
        if kept != lines:
            handle.seek(0)
            handle.writelines(kept)
            handle.truncate()

