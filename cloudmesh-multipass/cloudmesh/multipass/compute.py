"""Multipass provider (kind ``multipass``): local Ubuntu VMs through the ``multipass`` CLI.

It runs the executable (``credentials.executable``, default ``multipass`` on PATH) with
argument lists, never a shell string, reads ``--format json`` wherever Multipass offers
it, and maps the documents to cms records. Parsing is tolerant of Multipass's versions:
states in any case, sizes as strings or integers, optional keys (``snapshot_count``,
``zone``, blueprints under ``blueprints`` or ``blueprints (deprecated)`` or absent),
``release`` "Not Available", several IPv4 addresses.

- A VM's id is its name: Multipass names are unique on a host and it has no other id.
- Multipass has no flavors. ``FLAVORS`` is a small fixed set of sizes that ``create``
  turns into ``--cpus/--memory/--disk``; ``NcpuM-G-DG`` (e.g. ``2cpu-4G-20G``) names any
  other size, and a VM's flavor is read back from its cpu, memory and disk.
- Multipass has no key pairs, security groups or metadata: ``create`` injects the boot
  key through cloud-init (``ssh_authorized_keys``), and the others are warnings (the
  records show no secgroups).
- ``destroy`` is ``multipass delete`` without purge: the VM is Deleted (status
  terminated) and can be recovered until ``cms multipass purge``.
- Multipass's exit codes (1 command line, 2 failed, 3 daemon, 4 retry) and its error text
  become the cms error types, each one line.

The pure parsers and argument builders are in ``parsing.py``; this module runs them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.boot import BootSpec
from cloudmesh.compute.errors import NOT_SET_UP
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound, UsageError, WaitTimeout)
from cloudmesh.multipass.parsing import (FLAVORS, check_name, flavor_name, flavor_sizes, ips,
                                         launch_argv, release, to_bytes, to_int,
                                         transfer_argv, with_authorized_key, zone_name)

#: Multipass instance state (any case) -> cms status
NODE_STATE_MAP = {
    "running": "running",
    "starting": "booting",
    "restarting": "rebooting",
    # still up, but on its way down: the shutdown was only delayed
    "delayed shutdown": "stopping",
    "suspending": "stopping",
    "suspended": "suspended",
    "stopped": "stopped",
    "off": "stopped",
    # deleted instances stay listed (recoverable) until 'multipass purge'
    "deleted": "terminated",
    "unknown": "unknown",
}

#: exit codes of the multipass client (include/multipass/cli/return_codes.h)
MP_COMMAND_LINE_ERROR = 1
MP_COMMAND_FAIL = 2
MP_DAEMON_FAIL = 3
MP_RETRY = 4
#: the client's own timer ran out (common_cli.cpp make_timer); the daemon goes on
MP_TIMEOUT = 5
#: verbs that only read: retried when the daemon could not answer
READ_VERBS = frozenset({"list", "info", "find", "version", "get", "networks"})

INSTALL_HINT = ("install it with 'sudo snap install multipass' on Linux, or the installer "
                "from https://canonical.com/multipass/install on macOS and Windows")
#: seconds for commands that only ask the daemon; launch/start/stop wait on Multipass's
#: own timeouts instead (5 minutes per instance by default)
QUICK_TIMEOUT = 120


def normalise_state(state: Any) -> str:
    """Multipass's state word (Running, RUNNING, Delayed Shutdown, DELAYED_SHUTDOWN...)
    as a cms status."""
    key = re.sub(r"[\s_-]+", " ", str(state or "")).strip().lower()
    return NODE_STATE_MAP.get(key, "unknown")


class Provider(ComputeNodeABC):
    kind = "multipass"
    #: a cloud named "multipass" works without a cloudmesh.yaml entry; these are the
    #: defaults it gets: Multipass's own default image (the current LTS) and sizes
    zero_config = {"default": {"image": "lts", "flavor": "tiny"}}
    #: default: keys beyond the common ones (cloudmesh.compute.settings): none
    settings: dict[str, Any] = {}
    unsupported = {
        "keys": "Multipass keeps no key pairs: 'cms vm boot --key=NAME' injects the key "
                "through cloud-init instead",
        "secgroups": "Multipass instances sit on a host-local network without security "
                     "groups",
        "metadata_set": "Multipass keeps no metadata for its instances",
        "metadata": "Multipass keeps no metadata for its instances",
        "public_ip": "Multipass instances have addresses on a host-local network only",
        "subnet": "Multipass attaches instances to its own host-local network",
        "zone": "Multipass runs instances on this machine only (zones are not released)",
    }
    #: the key goes into the instance's cloud-init (ssh_authorized_keys), for the image's
    #: default user ubuntu or a user cloud-init creates
    key_delivery = "inject"
    default_username = "ubuntu"

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        self._executable: str | None = None

    # ---- running multipass ---------------------------------------------------------
    @property
    def executable(self) -> str:
        """The multipass executable's path; ConfigError (exit 4) if it is not there."""
        if self._executable is None:
            configured = str(self.credentials.get("executable") or "multipass")
            path = os.path.expanduser(configured)
            if os.sep in path or (os.altsep and os.altsep in path):
                if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                    raise ConfigError(
                        f"cloud '{self.cloud}': credentials.executable {path} does not exist "
                        "or is not executable", INSTALL_HINT + ", or fix the path")
                found = path
            else:
                found = shutil.which(path)
                if not found:
                    raise self._not_installed(configured)
            self._executable = found
        return self._executable

    def _not_installed(self, name: str) -> ConfigError:
        return ConfigError(f"multipass is not installed ('{name}' is not on PATH)",
                           INSTALL_HINT + f", or set cloudmesh.compute.{self.cloud}."
                           "credentials.executable", code=NOT_SET_UP)

    def run(self, *args: str, timeout: float | None = QUICK_TIMEOUT,
            stdin_text: str | None = None) -> str:
        """Run ``multipass ARGS``, return its stdout; a failure is one CmsError. Reads
        are tried again when the daemon could not answer."""
        if args and args[0] in READ_VERBS:
            return self.retry(self._run_once, *args, timeout=timeout, stdin_text=stdin_text)
        return self._run_once(*args, timeout=timeout, stdin_text=stdin_text)

    def _run_once(self, *args: str, timeout: float | None = QUICK_TIMEOUT,
                  stdin_text: str | None = None) -> str:
        argv = [self.executable, *map(str, args)]
        try:
            # stdin is closed unless we feed it: Multipass must never wait on a prompt
            done = subprocess.run(argv, input=stdin_text, capture_output=True, text=True,
                                  timeout=timeout,
                                  stdin=subprocess.DEVNULL if stdin_text is None else None)
        except FileNotFoundError:
            raise self._not_installed(argv[0]) from None
        except PermissionError:
            raise ConfigError(f"cloud '{self.cloud}': cannot execute {argv[0]}",
                              "check its mode, or reinstall multipass") from None
        except subprocess.TimeoutExpired:
            raise CloudError(f"cloud '{self.cloud}': multipass {args[0]} did not answer "
                             f"within {timeout:g}s",
                             "check that multipassd runs ('multipass version')") from None
        if done.returncode != 0:
            raise self.error_for(str(args[0]), done.returncode, done.stderr or done.stdout)
        return done.stdout

    def run_json(self, *args: str, timeout: float | None = QUICK_TIMEOUT) -> dict[str, Any]:
        """``multipass ARGS --format json`` as a dict."""
        text = self.run(*args, "--format", "json", timeout=timeout)
        try:
            document = json.loads(text)
        except ValueError:
            first = text.strip().splitlines()[0][:80] if text.strip() else "nothing"
            raise CloudError(f"cloud '{self.cloud}': multipass {args[0]} did not print JSON "
                             f"(got: {first})", "upgrade multipass") from None
        if not isinstance(document, dict):
            raise CloudError(f"cloud '{self.cloud}': multipass {args[0]} printed JSON that "
                             "is not an object", "upgrade multipass")
        return document

    def run_interactive(self, *args: str) -> int:
        """Run multipass with this terminal's stdin/stdout/stderr (shell, exec, streaming
        transfer) and return its exit status unchanged."""
        import signal

        argv = [self.executable, *map(str, args)]
        # ^C belongs to the session inside (multipass passes it on), not to cms; a no-op
        # handler, not SIG_IGN, which the child would inherit
        previous = signal.signal(signal.SIGINT, lambda number, frame: None)
        try:
            return subprocess.run(argv).returncode
        except FileNotFoundError:
            raise self._not_installed(argv[0]) from None
        finally:
            signal.signal(signal.SIGINT, previous)

    def error_for(self, verb: str, code: int, text: str) -> CmsError:
        """Multipass's error text and exit code as one cms error line."""
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            # "info failed: The following errors occurred:" then one line per instance
            first = lines[0].replace("The following errors occurred:", "").strip()
            rest = "; ".join(lines[1:])
            joiner = " " if first.endswith(":") else "; "
            detail = joiner.join(part for part in (first, rest) if part)
        else:
            detail = f"exit code {code}"
        if not detail.startswith(f"{verb} failed"):
            detail = f"{verb} failed: {detail}"
        message = f"cloud '{self.cloud}': multipass {detail}"
        low = detail.lower()
        if code == MP_DAEMON_FAIL or "cannot connect to the multipass socket" in low:
            # a daemon that is restarting answers again shortly: worth another try
            return CloudError(message, "is multipassd running? 'sudo snap restart multipass' "
                                       "on Linux, restart the Multipass service on macOS/Windows",
                              retryable=True)
        if "not authenticated" in low:
            return CredentialError(message, "run 'multipass authenticate'")
        if "does not exist" in low:
            hint = "see 'cms multipass list'" if "instance" in low else None
            return NotFound(message, hint)
        if "timed out" in low or code == MP_TIMEOUT:
            # the client gave up, the daemon carries on: the facade looks before retrying
            return WaitTimeout(message, "raise --timeout, or see 'cms multipass info'",
                               retryable=True)
        if code == MP_COMMAND_LINE_ERROR:
            return UsageError(message, f"see 'multipass help {verb}'")
        if "is deleted" in low:
            return UsageError(message, "recover it with 'cms multipass recover NAME' or "
                                       "remove it with 'cms multipass purge'")
        if "already exists" in low or "invalid" in low or "unrecognized settings key" in low:
            return UsageError(message)
        if code == MP_RETRY:
            return CloudError(message, "try again", retryable=True)
        return CloudError(message)

    def translate_error(self, error: Exception) -> CmsError | None:
        if isinstance(error, subprocess.SubprocessError):
            return CloudError(f"cloud '{self.cloud}': multipass: {error}")
        if isinstance(error, OSError):
            return CloudError(f"cloud '{self.cloud}': cannot run multipass: {error}")
        return None

    # ---- mappers -------------------------------------------------------------------
    @record_mapper("instance")
    def _to_vm(self, name: str, info: dict | None, row: dict | None = None) -> dict[str, Any]:
        """A vm record from ``info`` (one entry of info's "info") and/or ``row`` (one
        entry of list's "list"); either may be missing or partial."""
        info, row = info or {}, row or {}
        state = str(info.get("state") or row.get("state") or "Unknown")
        memory = info.get("memory") if isinstance(info.get("memory"), dict) else {}
        disks = info.get("disks") if isinstance(info.get("disks"), dict) else {}
        disk_sizes = [to_bytes(d.get("total")) for d in disks.values() if isinstance(d, dict)]
        disk = sum(s for s in disk_sizes if s) or None
        cpus = to_int(info.get("cpu_count"))
        addresses = info.get("ipv4") if info.get("ipv4") is not None else row.get("ipv4")
        return self.vm_record(
            name=name,
            id=name,
            status=normalise_state(state),
            state=state,
            image=release(info.get("image_release")) or release(row.get("release")),
            flavor=flavor_name(cpus, to_bytes(memory.get("total")), disk),
            public_ips=[],
            private_ips=ips(addresses),
            region="local",
            zone=zone_name(info.get("zone") or row.get("zone")),
            created=None,  # Multipass does not say when an instance was launched
            native={**row, **info},
        )

    @record_mapper("image")
    def _to_image(self, key: str, entry: dict, blueprint: bool = False) -> dict[str, Any]:
        entry = entry if isinstance(entry, dict) else {}
        os_name = " ".join(p for p in (str(entry.get("os") or ""),
                                       str(entry.get("release") or "")) if p)
        return self.image_record(
            name=key,
            id=key,
            os=os_name or None,
            version=entry.get("version") or None,
            status="blueprint" if blueprint else "available",
            created=None,  # 'version' is a build serial, not always a date
            native={"aliases": list(entry.get("aliases") or []),
                    "remote": entry.get("remote") or "", "release": entry.get("release")},
        )

    # ---- VMs -----------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        rows = [r for r in self.run_json("list").get("list") or () if isinstance(r, dict)]
        names = [str(r["name"]) for r in rows if r.get("name")]
        details: dict[str, Any] = {}
        if names:
            try:
                # one more call for sizes and images, for all instances at once
                details = self.run_json("info", *names).get("info") or {}
            except NotFound:  # one went away between the two calls
                details = {}
        return [self._to_vm(str(r["name"]), details.get(r["name"]), r)
                for r in rows if r.get("name")]

    def info(self, name: str) -> dict[str, Any]:
        check_name(name)
        found = (self.run_json("info", name).get("info") or {}).get(name)
        if not isinstance(found, dict):
            raise NotFound(f"no VM named '{name}' on cloud '{self.cloud}'",
                           "see 'cms multipass list'")
        return self._to_vm(name, found)

    def check_name(self, name: str) -> None:
        check_name(name)

    def create(self, spec: BootSpec) -> dict[str, Any]:
        vcpus, ram_mb, disk_gb = flavor_sizes(spec.flavor, self.cloud)
        userdata = spec.userdata
        if spec.key:
            userdata = with_authorized_key(userdata, spec.username, spec.key["public_key"])
        return self.launch(spec.name, image=spec.image, cpus=vcpus, memory=f"{ram_mb}M",
                           disk=f"{spec.disk_gb or disk_gb:g}G", userdata=userdata,
                           networks=[spec.network] if spec.network else ())

    def launch(self, name: str, image: str | None = None, userdata: str | None = None,
               **options: Any) -> dict[str, Any]:
        """Launch one instance (Multipass waits until it runs); returns its record.
        ``userdata`` is cloud-init text, fed on stdin (a snap cannot read /tmp)."""
        cloud_init = options.pop("cloud_init", None)
        argv = launch_argv(name, image=image, cloud_init="-" if userdata else cloud_init,
                                **options)
        self.run(*argv, timeout=None, stdin_text=userdata)
        return self.info(name)

    def _act(self, verb: str, name: str) -> dict[str, Any]:
        self.run(verb, check_name(name), timeout=None)
        return self.info(name)

    def start(self, name: str) -> dict[str, Any]:
        return self._act("start", name)

    def stop(self, name: str) -> dict[str, Any]:
        return self._act("stop", name)

    def reboot(self, name: str) -> dict[str, Any]:
        return self._act("restart", name)

    def suspend(self, name: str) -> dict[str, Any]:
        return self._act("suspend", name)

    def resume(self, name: str) -> dict[str, Any]:
        # 'multipass start' resumes a suspended instance
        return self._act("start", name)

    def destroy(self, name: str) -> dict[str, Any]:
        return self.delete(name)

    def delete(self, name: str, purge: bool = False) -> dict[str, Any]:
        """``multipass delete`` (recoverable) or, with ``purge``, gone for good."""
        self.run("delete", check_name(name), *(["--purge"] if purge else []), timeout=None)
        if purge:
            return self.vm_record(name=name, id=name, status="terminated", state="Purged",
                                  region="local")
        return self.info(name)

    def recover(self, name: str) -> dict[str, Any]:
        return self._act("recover", name)

    def purge(self) -> None:
        """Remove every deleted instance for good."""
        self.run("purge", timeout=None)

    # ---- files, mounts, settings, networks -----------------------------------------
    def mount(self, source: str, name: str, target: str | None = None) -> None:
        check_name(name)
        source = os.path.abspath(os.path.expanduser(source))
        self.run("mount", source, f"{name}:{target}" if target else name, timeout=None)

    def umount(self, name: str, path: str | None = None) -> None:
        check_name(name)
        self.run("umount", f"{name}:{path}" if path else name)

    def transfer(self, paths: list[str], recursive: bool = False) -> None:
        self.run(*transfer_argv(paths, recursive), timeout=None)

    def networks(self) -> list[dict[str, Any]]:
        rows = self.run_json("networks").get("list") or ()
        return [{"name": r.get("name"), "type": r.get("type"),
                 "description": r.get("description")} for r in rows if isinstance(r, dict)]

    def version(self) -> dict[str, Any]:
        """{"multipass": client version, "multipassd": daemon version (if it answers)}."""
        return self.run_json("version")

    def get(self, key: str) -> str:
        value = self.run("get", key).strip()
        # newer clients print <empty> for an empty value unless --raw (older lack --raw)
        return "" if value == "<empty>" else value

    def set(self, key: str, value: str) -> None:
        self.run("set", f"{key}={value}")

    # ---- images and flavors --------------------------------------------------------
    def images(self) -> list[dict[str, Any]]:
        document = self.run_json("find")
        records = [self._to_image(key, entry) for key, entry in
                   (document.get("images") or {}).items()]
        # blueprints: "blueprints" (newest), "blueprints (deprecated)" (1.16), or absent
        for section in ("blueprints", "blueprints (deprecated)"):
            records += [self._to_image(key, entry, blueprint=True) for key, entry in
                        (document.get(section) or {}).items()]
        return records

    def image(self, name: str) -> dict[str, Any]:
        """An image by its name or any of its aliases (``jammy``, ``lts``, ``daily:devel``)."""
        for record in self.images():
            native = record.get("native") or {}
            aliases, remote = native.get("aliases") or [], native.get("remote")
            known = {record["name"], *aliases, *(f"{remote}:{a}" for a in aliases if remote)}
            if name in known:
                return record
        raise NotFound(f"no image '{name}' on cloud '{self.cloud}'",
                       "see 'cms multipass images'")

    def flavors(self) -> list[dict[str, Any]]:
        return [self.flavor_record(name=name, id=name, vcpus=vcpus, ram_mb=ram_mb,
                                   disk_gb=disk_gb)
                for name, (vcpus, ram_mb, disk_gb) in FLAVORS.items()]

    def flavor(self, name: str) -> dict[str, Any]:
        vcpus, ram_mb, disk_gb = flavor_sizes(name, self.cloud)
        return self.flavor_record(name=name, id=name, vcpus=vcpus, ram_mb=ram_mb,
                                  disk_gb=disk_gb)

    def check(self) -> str:
        versions = self.version()
        if not versions.get("multipassd"):
            raise CloudError(f"cloud '{self.cloud}': multipassd does not answer",
                             "start the Multipass service ('sudo snap start multipass')")
        return f"multipass {versions.get('multipass')}, multipassd {versions['multipassd']}"
