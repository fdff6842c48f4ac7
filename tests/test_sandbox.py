"""cms sandbox start|status|stop: a local cloud in a background process that outlives cms,
its entries in cloudmesh.yaml (and only its own), and what a newcomer does with it.

Starting a sandbox is the slow part (its server process imports moto): the tests that only
use a running sandbox share one per module (``shared_sandbox``, started by a real cms
that exits), and cms runs in the test process (cms_here) wherever a process is not what
the test is about."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cloudmesh.compute.testing.fixtures import isolate_home
from conftest import cms_here, run_cms


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return True


def _stop_for_good(config_dir: Path) -> None:
    """Stop whatever sandbox runs for this config dir, and kill its process if stop
    could not end it."""
    cms_here("sandbox", "stop")
    pid_file = config_dir / "sandbox" / "server.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.fixture
def sandbox_home(cms_home: Path):
    """A fresh config dir; whatever sandbox a test started is stopped afterwards."""
    yield cms_home
    _stop_for_good(cms_home)


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox started by a real ``cms sandbox start`` (which has exited since) in a
    home of this module's, for the tests that only use a running sandbox; its config
    dir. (The home and environment are cms_home's, kept for the module.)"""
    with pytest.MonkeyPatch.context() as monkeypatch:
        config_dir = isolate_home(tmp_path_factory.mktemp("sandbox") / "home", monkeypatch)
        started = run_cms("sandbox", "start")
        assert started.code == 0, started
        try:
            yield config_dir
        finally:
            _stop_for_good(config_dir)


def _config(cms_home: Path) -> dict:
    return yaml.safe_load((cms_home / "cloudmesh.yaml").read_text()) or {}


def test_start_status_stop(sandbox_home: Path):
    started = cms_here("sandbox", "start")
    assert started.code == 0, started
    where = sandbox_home / "sandbox"
    ports = json.loads((where / "ports.json").read_text())
    pid = int((where / "server.pid").read_text())
    assert pid == ports["pid"] and _alive(pid)
    assert f"127.0.0.1:{ports['ec2']}" in started.out and f"127.0.0.1:{ports['ssh']}" in started.out
    # private bookkeeping
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    for name in ("server.pid", "ports.json", "clouds.json", "server.log"):
        assert stat.S_IMODE((where / name).stat().st_mode) == 0o600, name
    entry = _config(sandbox_home)["cloudmesh"]["compute"]["sandbox"]
    assert entry["cm"] == {"kind": "aws", "sandbox": True, "label": entry["cm"]["label"]}
    assert entry["credentials"]["endpoint_url"] == f"http://127.0.0.1:{ports['ec2']}"
    assert entry["default"]["ssh_port"] == ports["ssh"]
    assert entry["default"]["image"] and entry["default"]["flavor"]

    status = cms_here("sandbox", "status", "--output=json")
    assert status.code == 0, status
    assert status.json() == {"status": "running", "pid": pid,
                             "ec2": f"127.0.0.1:{ports['ec2']}",
                             "ssh": f"127.0.0.1:{ports['ssh']}",
                             "clouds": status.json()["clouds"]}
    assert "sandbox" in status.json()["clouds"].split(",")

    stopped = cms_here("sandbox", "stop")
    assert stopped.code == 0, stopped
    assert "stopped" in stopped.out
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert not where.exists()
    assert not any(c for c in (_config(sandbox_home)["cloudmesh"].get("compute") or {}))
    after = cms_here("sandbox", "status")
    assert after.code == 0 and after.out.startswith("stopped"), after


def test_the_process_outlives_cms_and_serves_ec2(shared_sandbox: Path):
    # the cms that started it (shared_sandbox: a real process) has exited; the cloud
    # still answers
    listed = cms_here("image", "show", "ami-1e749f67", "--cloud=sandbox", "--output=json")
    assert listed.code == 0, listed
    assert listed.json()["id"] == "ami-1e749f67"


def test_second_start_says_it_is_running(shared_sandbox: Path):
    pid = (shared_sandbox / "sandbox" / "server.pid").read_text()
    again = cms_here("sandbox", "start")
    assert again.code == 0, again
    assert "already running" in again.out
    assert (shared_sandbox / "sandbox" / "server.pid").read_text() == pid


def test_stop_when_stopped(sandbox_home: Path):
    stopped = cms_here("sandbox", "stop")
    assert stopped.code == 0, stopped
    assert stopped.out.strip() == "The sandbox is not running."
    assert not (sandbox_home / "cloudmesh.yaml").exists()


def test_missing_moto_gives_the_pip_command(sandbox_home: Path,
                                           monkeypatch: pytest.MonkeyPatch):
    # moto absent as an import finds it: sys.modules[name] = None makes find_spec say so
    monkeypatch.setitem(sys.modules, "moto", None)
    result = cms_here("sandbox", "start")
    assert result.returncode == 4, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    import cloudmesh.compute

    checkout = Path(cloudmesh.compute.__file__).resolve().parents[2]
    assert "needs moto" in lines[0]
    assert f"{sys.executable} -m pip install -e '{checkout}[sandbox]'" in lines[0]
    assert not (sandbox_home / "sandbox").exists()


USER_CONFIG = """\
# my clouds; the sandbox must leave this file as it found it
cloudmesh:
  profile:
    user: alice
  default:
    cloud: mycloud
  compute:
    mycloud:
      cm:
        kind: aws
        label: my AWS account   # the real one
      credentials:
        region: eu-west-1
        profile: work
      default:
        image: ami-0c7217cdde317cfec
        flavor: t3.micro
"""


def test_other_entries_are_untouched(sandbox_home: Path):
    sandbox_home.mkdir(parents=True)
    path = sandbox_home / "cloudmesh.yaml"
    path.write_text(USER_CONFIG)
    path.chmod(0o600)
    assert cms_here("sandbox", "start").code == 0
    during = _config(sandbox_home)["cloudmesh"]
    original = yaml.safe_load(USER_CONFIG)["cloudmesh"]
    assert during["compute"]["mycloud"] == original["compute"]["mycloud"]
    assert during["default"] == original["default"] and during["profile"] == original["profile"]
    assert "# the real one" in path.read_text()
    assert cms_here("sandbox", "stop").code == 0
    assert path.read_text() == USER_CONFIG


def test_a_cloud_of_yours_named_sandbox_is_refused(sandbox_home: Path):
    sandbox_home.mkdir(parents=True)
    path = sandbox_home / "cloudmesh.yaml"
    mine = USER_CONFIG.replace("    mycloud:", "    sandbox:")
    path.write_text(mine)
    path.chmod(0o600)
    refused = cms_here("sandbox", "start")
    assert refused.code == 4, refused
    assert "cloud 'sandbox'" in refused.err and "--cloud=NAME" in refused.err
    assert path.read_text() == mine and not (sandbox_home / "sandbox").exists()
    # stop never removes an entry that is not marked as the sandbox's
    assert cms_here("sandbox", "stop").code == 0
    assert path.read_text() == mine


def test_boot_and_ssh_need_nothing_else(shared_sandbox: Path):
    assert cms_here("key", "gen", "mykey").code == 0
    booted = cms_here("vm", "boot", "--cloud=sandbox", "--key=mykey", "--wait",
                      "--output=json")
    assert booted.code == 0, booted
    name = booted.json()[0]["name"]
    assert cms_here("set", "cloud=sandbox").code == 0
    ran = cms_here("vm", "ssh", name, "--command=uname -a")
    assert ran.code == 0, ran
    assert ran.out.startswith(os.uname().sysname), ran


def test_a_key_uploaded_by_someone_else_is_not_trusted(shared_sandbox: Path, tmp_path: Path):
    """moto takes key pairs from anyone on this machine: the SSH server (which runs
    commands as you) trusts only keys of your own registry."""
    assert cms_here("key", "gen", "ownkey").code == 0
    booted = cms_here("vm", "boot", "--cloud=sandbox", "--key=ownkey", "--wait",
                      "--output=json")
    assert booted.code == 0, booted
    name = booted.json()[0]["name"]
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True) if shutil.which("ssh-keygen") else pytest.skip("no ssh-keygen")
    from conftest import ec2_client

    ports = json.loads((shared_sandbox / "sandbox" / "ports.json").read_text())
    ec2_client(f"http://127.0.0.1:{ports['ec2']}").import_key_pair(
        KeyName="stranger", PublicKeyMaterial=(stranger.with_suffix(".pub")).read_bytes())
    time.sleep(0.6)  # past the server's refresh
    refused = cms_here("vm", "ssh", name, "--cloud=sandbox", f"--key={stranger}",
                       "--command=true")
    assert refused.code != 0, refused
    assert refused.out == ""


@pytest.mark.skipif(shutil.which("multipass") is not None, reason="Multipass is installed")
def test_multipass_stand_in(sandbox_home: Path, tmp_path: Path):
    started = cms_here("sandbox", "start")
    assert started.code == 0, started
    assert "the cloud 'multipass'" in started.out
    images = cms_here("multipass", "images", "--output=json")
    assert images.code == 0, images
    assert any("24.04" in (image.get("name") or "") for image in images.json()), images
    launched = cms_here("multipass", "launch", "lab1")
    assert launched.code == 0, launched
    listed = cms_here("multipass", "list", "--output=json")
    assert [vm["name"] for vm in listed.json()] == ["lab1"]
    # the stand-in runs with what the 'sandbox' extra installs: no pytest
    no_pytest = tmp_path / "no-pytest"
    no_pytest.mkdir()
    (no_pytest / "pytest.py").write_text("raise ImportError('pytest is not installed')\n")
    search = os.pathsep.join(filter(None, [str(no_pytest), os.environ.get("PYTHONPATH")]))
    alone = subprocess.run([str(sandbox_home / "sandbox" / "multipass"), "list"],
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": search})
    assert alone.returncode == 0 and "lab1" in alone.stdout, alone.stderr
    assert cms_here("sandbox", "stop").code == 0
    assert "multipass" not in (_config(sandbox_home)["cloudmesh"].get("compute") or {})
