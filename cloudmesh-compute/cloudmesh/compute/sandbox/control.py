"""Start, stop and tell the state of the sandbox (see the package's docstring).

The bookkeeping lives in ``CONFIG_DIR/sandbox/``: ``server.pid`` (the background
process), ``ports.json`` (its ports, written by the process once it listens),
``clouds.json`` (the entries written into cloudmesh.yaml), ``server.log``, the SSH
server's keys and the Multipass stand-in's executable and state.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cloudmesh.compute.config import Config
from cloudmesh.compute.errors import CloudError, ConfigError
from cloudmesh.compute.files import config_dir, create_private, ensure_dir
from cloudmesh.compute.sandbox import entries

#: what the sandbox imports beyond cms's own dependencies (the extra 'sandbox')
NEEDS = {"moto": "moto", "flask": "flask", "flask_cors": "flask-cors", "asyncssh": "asyncssh"}
SERVER_MODULE = "cloudmesh.compute.sandbox.serve"
START_SECONDS = 60
STOP_SECONDS = 10


def directory() -> Path:
    return config_dir() / "sandbox"


def install_hint() -> str:
    """The exact pip command that installs the extra: the editable form when cms runs
    from a checkout (cloudmesh-compute/pyproject.toml beside the package)."""
    package_root = Path(__file__).resolve().parents[3]
    if (package_root / "pyproject.toml").is_file():
        target = f"-e '{package_root}[sandbox]'"
    else:
        target = "'cloudmesh-compute[sandbox]'"
    return f"install it with: {sys.executable} -m pip install {target}"


def require_extra() -> None:
    missing = [pip for module, pip in NEEDS.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"the sandbox needs {', '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not installed",
                          install_hint())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _server_pid() -> int | None:
    """The background process's pid if it is alive and is the sandbox's (a pid the
    system reused for another program is not ours to signal)."""
    try:
        pid = int((directory() / "server.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc (macOS): alive is the best we can tell
        except OSError:
            return None
        return pid
    return pid if SERVER_MODULE.encode() in command else None


def status() -> dict[str, Any]:
    """{"running": bool, "pid", "ec2", "ssh" (ports), "clouds": [names]} of the sandbox."""
    pid = _server_pid()
    ports = _read_json(directory() / "ports.json") if pid else {}
    clouds = _read_json(directory() / "clouds.json").get("clouds", [])
    return {"running": bool(pid and ports), "pid": pid, "ec2": ports.get("ec2"),
            "ssh": ports.get("ssh"), "clouds": clouds, "directory": str(directory())}


def _stand_in(where: Path) -> str:
    """An executable ``multipass`` that runs the stand-in with its state in ``where``."""
    path = where / "multipass"
    # the fake's file alone: importing it as cloudmesh.compute.testing.fake_multipass
    # would import the testing package, i.e. pytest (not in the 'sandbox' extra), per call
    fake = Path(__file__).resolve().parents[1] / "testing" / "fake_multipass.py"
    create_private(path, (
        f"#!{sys.executable}\n"
        "# the sandbox's Multipass stand-in (cms sandbox start); no VM runs\n"
        "import importlib.util, os, sys\n"
        f"os.environ['MULTIPASS_FAKE_STATE'] = {str(where / 'multipass-state.json')!r}\n"
        "sys.argv[0] = 'multipass'\n"
        f"spec = importlib.util.spec_from_file_location('fake_multipass', {str(fake)!r})\n"
        "fake = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(fake)\n"
        "sys.exit(fake.main(sys.argv[1:]))\n"
    ).encode())
    path.chmod(0o700)
    return str(path)


def _multipass_name(config: Config) -> str | None:
    """The stand-in's cloud name: 'multipass' (what 'cms multipass' uses) unless the
    user has that entry; None when Multipass is installed (the real one serves)."""
    if shutil.which("multipass"):
        return None
    taken = config.exists and "multipass" in config.clouds() \
        and not entries.is_sandbox(config.clouds()["multipass"])
    return "sandbox-multipass" if taken else "multipass"


def _spawn(where: Path) -> subprocess.Popen:
    log = os.open(where / "server.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    env = {**os.environ, "CLOUDMESH_CONFIG_DIR": str(config_dir().resolve())}
    try:
        # a session of its own: the process outlives cms and the terminal's ^C
        return subprocess.Popen([sys.executable, "-m", SERVER_MODULE, str(where)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(log)


def _wait_ready(process: subprocess.Popen, where: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        ports = _read_json(where / "ports.json")
        if ports.get("ec2") and ports.get("ssh"):
            return ports
        if process.poll() is not None:
            break
        time.sleep(0.1)
    last = [line for line in (where / "server.log").read_text(errors="replace").splitlines()
            if line.strip()][-1:] or ["no output"]
    _terminate(process.pid)
    raise CloudError(f"the sandbox did not start within {START_SECONDS} s: {last[0]}",
                     f"the whole log is {where / 'server.log'}")


def start(cloud: str = "sandbox") -> dict[str, Any]:
    """Start the sandbox (its EC2 cloud named ``cloud``); returns ``status()`` with
    "started": False when it was already running."""
    current = status()
    if current["running"]:
        return {**current, "started": False}
    require_extra()
    config = Config()
    entries.check_free(config, cloud)
    _clean_up(config)  # what a sandbox that died left behind
    config = Config()
    multipass = _multipass_name(config)
    if multipass:
        entries.check_free(config, multipass)
    ensure_dir(config_dir())  # 0700, as cms makes it
    where = ensure_dir(directory())
    process = _spawn(where)
    create_private(where / "server.pid", f"{process.pid}\n".encode(), exclusive=False)
    try:
        ports = _wait_ready(process, where)
        written = [cloud]
        create_private(where / "clouds.json", json.dumps({"clouds": written}).encode(),
                       exclusive=False)
        entries.write(config, cloud, entries.ec2_entry(ports["ec2"], ports["ssh"]))
        if multipass:
            written.append(multipass)
            create_private(where / "clouds.json", json.dumps({"clouds": written}).encode(),
                           exclusive=False)
            entries.write(config, multipass, entries.multipass_entry(_stand_in(where)))
    except BaseException:
        stop()
        raise
    return {**status(), "started": True, "multipass": multipass}


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)  # our own child (a failed start)
            if reaped:
                return
        except ChildProcessError:
            pass
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """The process exists and has not exited (an exited process whose parent is gone
    may stay a zombie until init reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # no /proc (macOS): it exists


def _forget_host_key(ssh_port: int | None) -> None:
    """Drop the SSH server's host key from cms's known_hosts: the next sandbox has
    another key, and may get the same port."""
    if not ssh_port:
        return
    from cloudmesh.compute.files import atomic_write
    from cloudmesh.compute.sshclient import known_hosts_path

    path = known_hosts_path()
    try:
        lines = path.read_text().splitlines(keepends=True)
    except OSError:
        return
    host = f"[127.0.0.1]:{ssh_port}"
    kept = [line for line in lines if host not in (line.split() or [""])[0].split(",")]
    if len(kept) != len(lines):
        atomic_write(path, "".join(kept))


def _clean_up(config: Config) -> list[str]:
    """Remove the sandbox's entries and files; returns the entries removed."""
    where = directory()
    ports = _read_json(where / "ports.json")
    names = _read_json(where / "clouds.json").get("clouds", [])
    removed = entries.remove(config, sorted(set(names) | set(entries.sandbox_names(config))))
    _forget_host_key(ports.get("ssh"))
    shutil.rmtree(where, ignore_errors=True)
    return removed


def stop() -> dict[str, Any]:
    """End the background process and remove what start wrote; returns
    {"was_running": bool, "removed": [cloud names]}."""
    pid = _server_pid()
    if pid:
        _terminate(pid)
    removed = _clean_up(Config())
    return {"was_running": bool(pid), "removed": removed}
