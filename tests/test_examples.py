"""The lab's programs in examples/ run as a student runs them: against a sandbox started
by 'cms sandbox start' in a fresh HOME, each as its own Python process. The cms commands
around them (boot, list, delete) run in this process, in the student's environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cms_here, run_cms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def sandbox_env(tmp_path_factory: pytest.TempPathFactory):
    """The environment of a student with a fresh HOME and a running sandbox."""
    home = tmp_path_factory.mktemp("student")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CMS_", "MULTIPASS_FAKE_"))}
    env.update(HOME=str(home), CLOUDMESH_CONFIG_DIR=str(home / ".cloudmesh"),
               AWS_EC2_METADATA_DISABLED="true")
    started = run_cms("sandbox", "start", env=env)
    assert started.code == 0, started
    yield env
    run_cms("sandbox", "stop", env=env, timeout=60)
    pid_file = home / ".cloudmesh" / "sandbox" / "server.pid"
    if pid_file.exists():  # stop failed: never leave the process behind
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def student_cms(*args: str, env: dict[str, str]):
    """A cms command line in this process with exactly the student's environment ENV."""
    unset = {name: None for name in os.environ if name not in env}
    return cms_here(*args, env={**unset, **env})


def run_example(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_list_cloud_shows_images_flavors_and_vms(sandbox_env):
    assert student_cms("vm", "boot", "--cloud=sandbox", "--name=seen", "--wait",
                       env=sandbox_env).code == 0
    ran = run_example("list_cloud.py", sandbox_env, "sandbox")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    lines = ran.stdout.splitlines()
    assert "Cloud sandbox: kind aws" in lines[1]
    assert any(line.startswith("Images (5 of ") for line in lines)
    assert any(line.startswith("Flavors (5 of ") for line in lines)
    assert "  seen: running" in "\n".join(lines)
    assert "sandbox-not-a-secret" not in ran.stdout  # Config never shows a secret
    assert student_cms("vm", "delete", "seen", "--cloud=sandbox", env=sandbox_env).code == 0


def test_list_cloud_names_a_missing_cloud_in_one_line(sandbox_env):
    ran = run_example("list_cloud.py", sandbox_env, "nosuchcloud")
    assert ran.returncode == 4, ran
    assert len(ran.stderr.strip().splitlines()) == 1 and "nosuchcloud" in ran.stderr


def test_keys_and_groups_boots_sshes_and_deletes(sandbox_env):
    ran = run_example("keys_and_groups.py", sandbox_env, "sandbox")
    assert ran.returncode == 0, ran.stderr
    out = ran.stdout
    assert "Made the key lab-key: SHA256:" in out
    assert "Group lab-web: 3 rules" in out
    assert "Key on sandbox: uploaded" in out
    assert "Group on sandbox: created, 3 rules added" in out
    assert "'lab-web'" in out
    booted = next(line for line in out.splitlines() if line.startswith("Booted "))
    name = booted.split()[1].rstrip(":")
    assert f"{name}: {os.uname().sysname} " in out and "(exit code 0)" in out
    assert f"Deleted {name}" in out
    listed = student_cms("vm", "list", "--cloud=sandbox", "--output=json", env=sandbox_env)
    assert all(vm["name"] != name or vm["status"] == "terminated" for vm in listed.json())
    # what the program made through provider.keys and provider.secgroups is what the
    # CLI sees: the registry's key and the local group with its three rules
    keys = student_cms("key", "list", "--output=json", env=sandbox_env)
    assert [k["name"] for k in keys.json()] == ["lab-key"], keys
    groups = student_cms("secgroup", "list", "--filter=name=lab-web", "--output=json",
                         env=sandbox_env)
    (group,) = groups.json()
    assert {(r["protocol"], r["from_port"], r["to_port"]) for r in group["rules"]} == {
        ("tcp", 22, 22), ("tcp", 80, 443), ("icmp", None, None)}, groups.stdout

    again = run_example("keys_and_groups.py", sandbox_env, "sandbox")
    assert again.returncode == 0, again.stderr
    assert "Made the key" not in again.stdout  # made once, reused
    assert "Group lab-web: 3 rules" in again.stdout and "Key on sandbox: unchanged" in again.stdout
    assert "Group on sandbox: there, 0 rules added" in again.stdout  # nothing to change
