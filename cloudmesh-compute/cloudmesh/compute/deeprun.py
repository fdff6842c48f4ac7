"""Running ``cms check --deep`` over several clouds: all at once with the Ctrl-C rules
(the first stops the steps and lets each cloud clean up, a second stops the cleanup and
lists what is left), ``--dryrun``'s plan, and ``--cleanup``'s sweep of what an
interrupted run left (only VMs and keys marked or journalled by a deep check).
The per-cloud check itself is :mod:`cloudmesh.compute.deepcheck`.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from cloudmesh.compute.deepcheck import (COLUMNS, DEEP_KEY, GROUP_JOURNAL,  # noqa: F401
                                         GROUP_MARK, JOURNAL, NAME_PATTERN, STEPS,
                                         DeepCheck, remove_vm, retry)
from cloudmesh.compute.errors import CloudError, CmsError
from cloudmesh.compute.kit.markers import read_marker


def run_all(clouds: list[str], config: Any, state: Any, image: str | None,
            flavor: str | None, timeout: float) -> tuple[list[dict], list[CmsError], bool]:
    """Every cloud's deep check at once. Returns the rows, the errors and whether the run
    was interrupted. A first Ctrl-C stops the steps and lets the cleanups run; a second one
    stops waiting for them, and each unfinished cloud's rows name what is left."""
    stop = threading.Event()
    checks = [DeepCheck(cloud, config, state, image, flavor, timeout, stop, say)
              for cloud in clouds]
    for check in checks:
        threading.Thread(target=check.run, name=f"cms-deep-{check.cloud}", daemon=True).start()
    interrupted = False
    try:
        _wait_for(checks)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        say("interrupted: cleaning up what was made (Ctrl-C again stops the cleanup and "
            "lists what is left)")
        try:
            with _second_interrupt_raises():
                _wait_for(checks)
        except KeyboardInterrupt:
            say("cleanup stopped: what is left is in the last column")
    rows: list[dict] = []
    errors: list[CmsError] = []
    for check in checks:
        with check.lock:
            done = {row["step"] for row in check.rows}
            rows += [dict(row) for row in check.rows]
            errors += check.errors
            if not check.done.is_set():  # abandoned mid-cleanup
                rows += [{"cloud": check.cloud, "kind": check.kind, "step": step,
                          "status": "interrupted", "seconds": 0.0,
                          "detail": "stopped by a second Ctrl-C", "left": ""}
                         for step in STEPS if step not in done]
                rows[-1]["left"] = "; ".join(f"{what} (remove: {command})"
                                             for what, command in check.left.values()) \
                    or "nothing"
    return rows, errors, interrupted


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _wait_for(checks: list[DeepCheck]) -> None:
    for check in checks:
        while not check.done.wait(0.2):  # a bounded wait: Ctrl-C is seen at once
            pass


class _second_interrupt_raises:
    """While the cleanups run, Ctrl-C raises KeyboardInterrupt again (the process's own
    handler would end the process at once, before the leftovers are printed)."""

    def __enter__(self) -> None:
        import signal

        self.previous = None
        try:
            self.previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:  # not the main thread: the caller's handler stays
            pass

    def __exit__(self, *exc_info: object) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def plan(clouds: list[str], config: Any, state: Any, image: str | None,
         flavor: str | None, timeout: float) -> list[dict]:
    """--dryrun: what the check would do on each cloud, without a request."""
    from cloudmesh.compute.provider import Provider

    rows = []
    for cloud in clouds:
        try:
            facade = Provider(cloud, config=config, state=state)
            kind = facade.kind
            chosen_image = facade.default("image", image) or "(none: the step fails)"
            chosen_flavor = facade.default("flavor", flavor) or "the smallest flavor"
        except CmsError as error:
            rows.append({"cloud": cloud, "kind": "?", "step": "credentials",
                         "status": "dryrun", "seconds": 0.0, "detail": str(error), "left": ""})
            continue
        what = {"credentials": "one authenticated request",
                "image": f"resolve {chosen_image}", "flavor": f"resolve {chosen_flavor}",
                "key": "make a throwaway ed25519 key (temporary registry entry)",
                "boot": f"boot one cms-deep-XXXXXXXX VM with it, marked {DEEP_KEY}",
                "ssh": f"wait until SSH answers (at most {timeout:g}s for the whole run)",
                "uname": "run 'uname -a' over SSH",
                "delete": "delete the VM and wait until it is gone",
                "cleanup": "remove its key pair, new cms-owned groups, the local key",
                "gone": "confirm nothing is left"}
        rows += [{"cloud": cloud, "kind": kind, "step": step, "status": "dryrun",
                  "seconds": 0.0, "detail": what[step], "left": ""} for step in STEPS]
    return rows


def sweep(clouds: list[str], config: Any, state: Any, timeout: float) -> tuple[list[dict],
                                                                             list[CmsError]]:
    """--cleanup: on each cloud, remove the VMs a deep check made (named cms-deep-XXXXXXXX
    and marked with both markers, or, where the kind keeps no metadata, journalled here),
    their key pairs, the cms-owned groups a deep check made (marked in their description,
    or journalled where the cloud keeps none) and this machine's journal and registry
    entries. Nothing else."""
    from cloudmesh.compute.fanout import fan_out

    outcomes = fan_out(lambda cloud: _sweep_one(cloud, config, state, timeout), clouds)
    rows, errors = [], []
    for outcome in outcomes:
        if outcome.ok:
            rows += outcome.result[0]
            errors += outcome.result[1]
        else:
            error = outcome.error
            errors.append(error)
            rows.append({"cloud": outcome.item, "kind": "?", "step": "cleanup",
                         "status": "failed", "seconds": 0.0, "detail": str(error),
                         "left": "unknown: the cloud could not be listed"})
    return rows, errors


def deep_check_vm(vm: dict, journal: dict[str, str], has_metadata: bool) -> bool:
    """Whether a VM was made by a deep check: its name, and both markers naming it (or,
    for a kind without metadata, an entry of this machine's journal)."""
    if not NAME_PATTERN.match(str(vm.get("name") or "")):
        return False
    if not has_metadata:
        return vm["name"] in journal
    metadata = vm.get("metadata") or {}
    return bool(metadata.get(DEEP_KEY)) and \
        read_marker(metadata) in (vm["name"], vm.get("id"))


def _sweep_one(cloud: str, config: Any, state: Any,
               timeout: float) -> tuple[list[dict], list[CmsError]]:
    import time

    from cloudmesh.compute.provider import Provider

    facade = Provider(cloud, config=config, state=state)
    prefix = f"{JOURNAL}{cloud}."
    entries = {name[len(prefix):]: value for name, value in state.variables().items()
               if name.startswith(prefix)}
    journal = {name: value for name, value in entries.items()
               if not name.startswith(GROUP_JOURNAL)}
    groups_journal = {name[len(GROUP_JOURNAL):] for name in entries
                      if name.startswith(GROUP_JOURNAL)}
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    errors: list[CmsError] = []

    def row(what: str, status: str, started: float, detail: str, left: str = "") -> None:
        rows.append({"cloud": cloud, "kind": facade.kind, "step": "cleanup", "status": status,
                     "seconds": round(time.monotonic() - started, 2),
                     "detail": f"{what}: {detail}", "left": left})

    has_metadata = facade.provider.supports("metadata")
    found = [vm for vm in facade.list()
             if vm.get("status") != "terminated" and deep_check_vm(vm, journal, has_metadata)]
    removed, failed = set(), set()
    for vm in found:
        started = time.monotonic()
        try:
            detail = remove_vm(facade, vm["name"], lambda: deadline - time.monotonic())
            removed.add(vm["name"])
            row(f"VM {vm['name']} ({vm.get('id')})", "ok", started, detail)
        except CmsError as error:
            errors.append(error)
            failed.add(vm["name"])
            row(f"VM {vm['name']} ({vm.get('id')})", "failed", started, str(error),
                f"VM {vm['name']} (remove: cms vm delete {vm['name']} --cloud={cloud})")
    if facade.provider.key_delivery == "keypair" and facade.provider.supports("keys"):
        for key in facade.keys():
            name = key["name"]
            if not NAME_PATTERN.match(name) or (name not in journal and name not in removed):
                continue
            started = time.monotonic()
            try:
                facade.call("key_delete", name)
                row(f"key pair {name}", "ok", started, "deleted")
            except CmsError as error:
                errors.append(error)
                row(f"key pair {name}", "failed", started, str(error),
                    f"key pair {name} (remove: cms key delete {name} --cloud={cloud})")
    if facade.provider.supports("secgroups"):
        errors += _sweep_groups(facade, state, groups_journal, failed, deadline, row)
    for name in journal:
        if name in failed:
            continue  # still on the cloud: the journal keeps finding it
        if state.key_get(name) is not None and NAME_PATTERN.match(name):
            state.key_delete(name)
        state.delete(prefix + name)
    if not rows:  # nothing was found
        rows.append({"cloud": cloud, "kind": facade.kind, "step": "cleanup", "status": "ok",
                     "seconds": 0.0, "detail": "no leftovers of a deep check", "left": "nothing"})
    return rows, errors


def _sweep_groups(facade: Any, state: Any, journalled: set[str], failed: set[str],
                  deadline: float, row: Any) -> list[CmsError]:
    """Remove the groups a deep check made: marked in their description (or, where the
    cloud keeps no description, journalled here). Kept while a deep-check VM that could
    not be removed may use them."""
    import time

    errors: list[CmsError] = []
    cloud = facade.name
    present = facade.secgroups()
    for group in present:
        name, description = group["name"], group.get("description")
        marked = bool(GROUP_MARK.search(description)) if description else name in journalled
        if not marked:
            continue
        started = time.monotonic()
        left = f"group {name} (remove: cms secgroup delete {name} --cloud={cloud})"
        if failed:
            error = CloudError(f"group {name} is kept: VM {', '.join(sorted(failed))} may "
                               "still use it", "run 'cms check --deep --cleanup' again")
            errors.append(error)
            row(f"group {name}", "failed", started, str(error), left)
            continue
        try:
            retry(lambda: facade.call("secgroup_delete", name),
                  lambda: deadline - time.monotonic())
        except CmsError as error:
            errors.append(error)
            row(f"group {name}", "failed", started, str(error), left)
            continue
        row(f"group {name}", "ok", started, "deleted")
        state.delete(f"{JOURNAL}{cloud}.{GROUP_JOURNAL}{name}")
    for name in journalled - {g["name"] for g in present}:
        state.delete(f"{JOURNAL}{cloud}.{GROUP_JOURNAL}{name}")  # already gone
    return errors
