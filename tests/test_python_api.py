"""The Python API (README, "Use from Python"): the README's program is examples/lab.py,
and it runs as a subprocess against moto and against the Multipass fake, its SSH step
against a real SSH server at the VM's address; ``Provider(service=...)``; the lazy
``cloudmesh.compute`` names; and every public facade method raising only CmsErrors when
the cloud fails (a fault proxy in front of moto) or when a provider lets an exception
through that it does not know."""

from __future__ import annotations

import getpass
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cloudmesh.compute.errors import CloudError, CmsError, NotFound, UsageError
from cloudmesh.compute.testing.faultproxy import FaultProxy, ec2_error
from cloudmesh.compute.testing.fixtures import require_ssh_server
from cloudmesh.compute.testing.sshd import start_ssh_server
from conftest import MOTO_UBUNTU_AMI, aws_cloud_spec, cms_here, ec2_client, run_cms, write_config
from fakes.multipass import harness
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "examples" / "lab.py"
README = ROOT / "README.md"


def readme_program() -> str:
    """The ```python block of the README's section "Use from Python" that is a program
    (it has ``if __name__ == "__main__":``)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Use from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    programs = [b for b in blocks if 'if __name__ == "__main__":' in b]
    assert len(programs) == 1, "the README section has one complete program"
    return programs[0]


def run_lab(cloud: str, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAB), cloud], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def run_here(path: str, code: str, *args: str) -> subprocess.CompletedProcess:
    """Python CODE (from PATH) run as ``__main__`` in this process with ARGS as its
    arguments: its exit code and what it printed (an exception it lets through fails the
    test, as its traceback would show in a process)."""
    import contextlib
    import io

    out, err, saved_argv = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = [path, *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                exec(compile(code, path, "exec"), {"__name__": "__main__", "__file__": path})
                status = 0
            except SystemExit as exit_:
                status = (exit_.code if isinstance(exit_.code, int)
                          else int(exit_.code is not None))
    finally:
        sys.argv = saved_argv
    return subprocess.CompletedProcess([path, *args], status, out.getvalue(), err.getvalue())


def run_lab_here(cloud: str) -> subprocess.CompletedProcess:
    """examples/lab.py run in this process (run_here) with CLOUD as its argument."""
    return run_here(str(LAB), LAB.read_text(encoding="utf-8"), cloud)


def test_the_readme_program_is_examples_lab() -> None:
    assert readme_program() == LAB.read_text(encoding="utf-8")


def test_the_readme_snippets_compile() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Use from Python", 1)[1].split("\n## ", 1)[0]
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        compile(block, "README.md", "exec")


def test_the_readme_snippets_run(moto: str, cms_home: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The Config and error snippets, run as written (in this process) against a cloud
    'mycloud' on moto: no secret is printed, the errors look as the README says."""
    spec = aws_cloud_spec(moto)
    spec["credentials"]["secret_access_key"] = "${LAB_SECRET_KEY}"
    spec["credentials"]["session_token"] = "plain-session-token-value"
    write_config(cms_home, {"mycloud": spec})
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Use from Python", 1)[1].split("\n## ", 1)[0]
    snippets = [b for b in re.findall(r"```python\n(.*?)```", section, re.S)
                if 'if __name__ == "__main__":' not in b]
    assert len(snippets) == 2
    secret = "a-secret-from-the-environment"
    monkeypatch.setenv("LAB_SECRET_KEY", secret)
    for snippet in snippets:
        done = run_here("README.md", snippet)
        assert done.returncode == 0, done
        assert secret not in done.stdout + done.stderr
        assert "plain-session-token-value" not in done.stdout + done.stderr
        for comment in re.findall(r"^    # (.*)$", snippet, re.M):  # what it prints
            assert comment in done.stdout + done.stderr, (comment, done)
    config = (cms_home / "cloudmesh.yaml").read_text()
    assert "flavor: t3.small" in config and "${LAB_SECRET_KEY}" in config


# ---- the program against moto --------------------------------------------------------
def test_lab_program_on_moto(small_moto_catalog: str, cms_home: Path,
                             tmp_path: Path) -> None:
    """Lists, boots, waits for SSH, runs uname over SSH (at the test's SSH server, reached
    through default.ssh_host/ssh_port as a tunnel would be), deletes. (moto's catalogue is
    small: the program lists all of it.)"""
    moto = small_moto_catalog
    require_ssh_server()
    assert cms_here("key", "gen", "lab").code == 0
    public = (cms_home / "keys" / "lab.pub").read_text().strip()
    user = getpass.getuser()
    server = start_ssh_server(tmp_path / "sshd", authorized_keys=[public], user=user)
    try:
        write_config(cms_home, {"mycloud": aws_cloud_spec(
            moto, key="lab", username=user, ssh_host="127.0.0.1", ssh_port=server.port)})
        done = run_lab("mycloud")
    finally:
        server.stop()
    assert done.returncode == 0, done
    out = done.stdout
    assert "Images of mycloud:" in out and MOTO_UBUNTU_AMI in out
    assert "Flavors:" in out and " vCPUs, " in out
    booted = re.search(r"^Booted (\S+): running$", out, re.M)
    assert booted, out
    name = booted.group(1)
    assert name.startswith("tester-vm-")
    assert f"{name} runs Linux (exit code 0)" in out
    assert f"Deleted {name}" in out
    states = [i["State"]["Name"] for r in ec2_client(moto).describe_instances()["Reservations"]
              for i in r["Instances"]]
    assert states == ["terminated"]
    assert "Traceback" not in done.stderr


def test_lab_program_reports_errors_in_one_line(small_moto_catalog: str,
                                                cms_home: Path) -> None:
    """(In this process: the program's own output and exit code are the point; the
    program as a process runs in test_lab_program_on_moto.)"""
    moto = small_moto_catalog
    write_config(cms_home, {"mycloud": aws_cloud_spec(moto)})
    unknown = run_lab_here("nocloud")
    assert unknown.returncode == 4, unknown
    assert unknown.stderr.startswith("error: ") and len(unknown.stderr.splitlines()) == 1
    assert "nocloud" in unknown.stderr and "Traceback" not in unknown.stderr
    write_config(cms_home, {"mycloud": aws_cloud_spec(moto, image="ami-00000000")})
    bad_image = run_lab_here("mycloud")
    assert bad_image.returncode in (1, 3), bad_image
    assert "Booted" not in bad_image.stdout and "Traceback" not in bad_image.stderr
    assert ec2_client(moto).describe_instances()["Reservations"] == []


# ---- the program against the Multipass fake -------------------------------------------
def test_lab_program_on_multipass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same program on Multipass: the key reaches the instance by cloud-init for
    ubuntu, and SSH goes to the instance's own address (the fake hands out 127.0.0.N)."""
    require_ssh_server()
    executable = harness.install_fake(tmp_path / "bin")
    env = harness.environment(tmp_path, MULTIPASS_FAKE_SUBNET="127.0.0")
    for variable in ("HOME", "CLOUDMESH_CONFIG_DIR", "MULTIPASS_FAKE_STATE"):
        monkeypatch.setenv(variable, env[variable])
    monkeypatch.setenv("MULTIPASS_FAKE_SUBNET", "127.0.0")
    assert cms_here("key", "gen", "lab").code == 0
    public = (tmp_path / "config" / "keys" / "lab.pub").read_text().strip()
    # the fake gives its n-th instance 127.0.0.(10 + n)
    counter = harness.fake_state(tmp_path / "multipass-state.json").get("counter", 0)
    address = f"127.0.0.{10 + (counter + 1) % 240}"
    server = start_ssh_server(tmp_path / "sshd", host=address, authorized_keys=[public],
                              user="ubuntu")
    try:
        harness.write_config(tmp_path / "config", {"local": {
            "cm": {"kind": "multipass"}, "credentials": {"executable": str(executable)},
            "default": {"image": "24.04", "flavor": "tiny", "key": "lab",
                        "ssh_port": server.port}}})
        done = run_lab("local", env=env)
    finally:
        server.stop()
    assert done.returncode == 0, done
    out = done.stdout
    assert "Images of local:" in out and "Flavors:" in out and "tiny: 1 vCPUs" in out
    booted = re.search(r"^Booted (\S+): running$", out, re.M)
    assert booted, out
    name = booted.group(1)
    assert f"{name} runs Linux (exit code 0)" in out and f"Deleted {name}" in out
    instance = harness.fake_state(tmp_path / "multipass-state.json")["instances"][name]
    assert instance["ipv4"] == address and instance["deleted"] is True
    import yaml

    # the kit's cloud-init add_user: the key on the login's own users: entry, beside
    # cloud-init's 'default' user (cloud-init's documented users/ssh_authorized_keys)
    users = yaml.safe_load(instance["cloud_init"])["users"]
    assert "default" in users
    (ubuntu,) = [u for u in users if isinstance(u, dict) and u.get("name") == "ubuntu"]
    assert ubuntu["ssh_authorized_keys"] == [public]


# ---- Provider(service=...) and the package's names -------------------------------------
def test_service_is_name(aws_cloud: str) -> None:
    from cloudmesh.compute import Provider

    assert cms_here("vm", "boot", "--name=s1").code == 0
    by_name, by_service = Provider("moto"), Provider(service="moto")
    assert (by_service.name, by_service.kind) == (by_name.name, by_name.kind) == ("moto", "aws")
    assert by_service.list() == by_name.list()
    assert Provider(name="moto", service="moto").name == "moto"
    assert Provider().name == "moto"  # the default cloud
    with pytest.raises(UsageError) as both:
        Provider("moto", service="other")
    assert both.value.exit_code == 2
    with pytest.raises(CmsError) as unknown:
        Provider(service="nowhere")
    assert unknown.value.exit_code == 4 and "nowhere" in str(unknown.value)


def test_package_names_are_listed_and_stay_lazy() -> None:
    code = textwrap.dedent("""
        import json, sys
        import cloudmesh.compute as compute
        names = dir(compute)
        lazy = "cloudmesh.compute.provider" not in sys.modules
        from cloudmesh.compute import Provider, Config, ComputeNodeABC, CmsError, NotFound
        print(json.dumps({"names": names, "lazy": lazy,
                          "provider": Provider.__module__, "abc": ComputeNodeABC.__name__}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"Provider", "Config", "ComputeNodeABC", "CmsError", "CloudError",
            "NotFound"} <= set(result["names"])
    assert result["lazy"] and result["provider"] == "cloudmesh.compute.provider"


PUBLIC = ("list", "info", "infos", "boot", "act", "start", "stop", "reboot", "suspend",
          "resume", "delete", "wait", "wait_ssh", "images", "image", "flavors", "flavor",
          "keys", "upload_key", "upload_keys", "delete_keys", "secgroups", "upload_secgroup",
          "delete_secgroups", "check", "ssh_target", "ssh")


def test_help_documents_every_public_method() -> None:
    import pydoc

    from cloudmesh.compute import Provider

    from cloudmesh.compute.keysgroups import Keys, SecGroups

    methods = [getattr(Provider, name) for name in PUBLIC if name not in ("keys", "secgroups")]
    # provider.keys and provider.secgroups are objects (keys.gen, secgroups.rule_add, ...)
    for part in (Keys, SecGroups):
        assert inspect.getdoc(part) and inspect.getdoc(getattr(Provider, part.what))
        methods += [getattr(part, name) for name in ("__call__", "get", "list", "add",
                                                      "upload", "delete")]
    methods += [Keys.gen, SecGroups.rule_add, SecGroups.rule_delete]
    for method in methods:
        name = method.__qualname__
        assert inspect.getdoc(method), f"Provider.{name} has no docstring"
        signature = inspect.signature(method)
        assert signature.return_annotation is not inspect.Signature.empty, name
        for parameter in list(signature.parameters.values())[1:]:
            assert parameter.annotation is not inspect.Parameter.empty, (name, parameter)
    text = pydoc.render_doc(Provider, renderer=pydoc.plaintext)
    assert "service" in text and "CmsError" in text and "exit_code" in text


# ---- SSH from Python ----------------------------------------------------------------------
def test_ssh_returns_output_and_exit_code(aws_cloud: str, cms_home: Path,
                                          tmp_path: Path) -> None:
    from cloudmesh.compute import Provider

    require_ssh_server()
    assert cms_here("key", "gen", "k").code == 0
    public = (cms_home / "keys" / "k.pub").read_text().strip()
    user = getpass.getuser()
    server = start_ssh_server(tmp_path / "sshd", authorized_keys=[public], user=user)
    try:
        assert cms_here("set", "moto.ssh_host=127.0.0.1", f"moto.ssh_port={server.port}",
                       f"moto.username={user}", "moto.key=k").code == 0
        provider = Provider(service="moto")
        (booted,) = provider.boot(names="sshvm", wait=True, timeout=60)
        assert booted.get()["status"] == "running"
        result = provider.ssh("sshvm", "echo out; echo err >&2; exit 3")
        assert result == {"name": "sshvm", "host": "127.0.0.1", "exit_code": 3,
                          "stdout": "out\n", "stderr": "err\n"}
    finally:
        server.stop()
    with pytest.raises(CloudError):  # nobody listens there any more
        provider.ssh("sshvm", "true", timeout=2)
    with pytest.raises(NotFound):
        provider.ssh("ghost", "true")


# ---- one-VM conveniences ---------------------------------------------------------------
def test_one_vm_conveniences(aws_cloud: str) -> None:
    from cloudmesh.compute import Provider

    provider = Provider(service="moto")
    vm = provider.boot(names="c1", wait=True, timeout=60)[0].get()
    assert vm["name"] == "c1" and vm["status"] == "running"
    assert provider.stop("c1", wait=True, timeout=60)["status"] == "stopped"
    assert provider.start("c1", wait=True, timeout=60)["status"] == "running"
    assert provider.reboot("c1")["name"] == "c1"
    with pytest.raises(NotFound):
        provider.stop("ghost")
    with pytest.raises(UsageError):
        provider.stop(["c1", "c2"])  # one VM only; act() takes several
    with pytest.raises(NotFound):
        provider.stop("c[1-2]")  # a one-VM verb takes the name literally (issue 26)
    assert provider.delete("c1", wait=True, timeout=60)["status"] == "terminated"
    (failed,) = provider.boot(names="c1", image="ami-00000000")
    assert not failed.ok and isinstance(failed.error, CmsError)
    with pytest.raises(CmsError):
        failed.get()


# ---- the cloud fails: only CmsErrors ------------------------------------------------------
FAULTS = {
    "500": dict(kind="status", status=500, body=ec2_error("InternalError", "down")),
    "auth": dict(kind="status", status=401, body=ec2_error("AuthFailure", "who are you")),
    "garbage": dict(kind="status", status=200, body=b"<<<not xml at all"),
    "html": dict(kind="status", status=502, body=b"<html><body>Bad gateway</body></html>"),
    "drop": dict(kind="drop"),
    "hang": dict(kind="hang", seconds=1),
}


#: cm.timeout of cloud 'f': every request is answered by a fault at once, except under
#: "hang", where each of the 28 calls waits out the time-out (the proxy holds 1 s)
TIMEOUTS = {"hang": 0.1}


@pytest.fixture
def faulty(moto: str, cms_home: Path, fault: str) -> FaultProxy:
    """Cloud 'f' reaches moto through a fault proxy (0.5 s per request, TIMEOUTS for the
    test's fault; no retries); a VM 'vm1', a local key and the local group 'default' exist
    (made through 'direct')."""
    proxy = FaultProxy(moto)
    proxy.url = proxy.start()
    spec = aws_cloud_spec(proxy.url, key="k", ssh_host="127.0.0.1", ssh_port=9)
    spec["cm"].update(timeout=TIMEOUTS.get(fault, 0.5), retries=0)
    write_config(cms_home, {"f": spec, "direct": aws_cloud_spec(moto)}, default="f")
    assert cms_here("init").code == 0
    assert cms_here("key", "gen", "k").code == 0
    assert cms_here("vm", "boot", "--name=vm1", "--cloud=direct").code == 0
    yield proxy
    proxy.stop()


def every_public_call(provider) -> dict:
    """Each public method of the facade once, on the VM vm1 and the key k."""
    return {
        "list": lambda: provider.list(),
        "info": lambda: provider.info("vm1"),
        "infos": lambda: provider.infos("vm1"),
        "boot": lambda: provider.boot(names="new1", wait=True, timeout=2),
        "boot-count": lambda: provider.boot(count=2),
        "act": lambda: provider.act("stop", "vm1"),
        "start": lambda: provider.start("vm1"),
        "stop": lambda: provider.stop("vm1", wait=True, timeout=2),
        "reboot": lambda: provider.reboot("vm1"),
        "suspend": lambda: provider.suspend("vm1"),
        "resume": lambda: provider.resume("vm1"),
        "delete": lambda: provider.delete("vm1"),
        "wait": lambda: provider.wait("vm1", timeout=2, interval=0.2),
        "wait-ssh": lambda: provider.wait("vm1", status="ssh", timeout=2, interval=0.2),
        "images": lambda: provider.images(),
        "image": lambda: provider.image(MOTO_UBUNTU_AMI),
        "flavors": lambda: provider.flavors(),
        "flavor": lambda: provider.flavor("t3.micro"),
        "keys": lambda: provider.keys(),
        "upload_key": lambda: provider.upload_key("k"),
        "upload_keys": lambda: provider.upload_keys("k"),
        "delete_keys": lambda: provider.delete_keys("k"),
        "secgroups": lambda: provider.secgroups(),
        "upload_secgroup": lambda: provider.upload_secgroup("default"),
        "delete_secgroups": lambda: provider.delete_secgroups("default"),
        "check": lambda: provider.check(),
        "ssh_target": lambda: provider.ssh_target("vm1"),
        "ssh": lambda: provider.ssh("vm1", "true", timeout=2),
    }


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_public_method_raises_only_cms_errors(faulty: FaultProxy, fault: str) -> None:
    from cloudmesh.compute import Provider

    provider = Provider(service="f")
    faulty.add(match="", times=100_000, **FAULTS[fault])
    failed = []
    for method, call in every_public_call(provider).items():
        started = time.monotonic()
        try:
            result = call()
        except CmsError as error:
            failed.append(method)
            assert error.exit_code in (1, 2, 3, 4), (method, error)
            assert str(error) and "\n" not in str(error), (method, error)
        except Exception as error:  # the test's point: nothing else may escape
            pytest.fail(f"{method} raised {type(error).__name__}: {error}")
        else:
            if isinstance(result, list):
                for outcome in result:
                    if hasattr(outcome, "ok") and not outcome.ok:
                        failed.append(method)
                        assert isinstance(outcome.error, CmsError), (method, outcome)
        assert time.monotonic() - started < 30, method
    # every method that needs the cloud failed (ssh_target and the rest read it first)
    assert set(failed) >= set(every_public_call(provider)) - {"boot-count"}, failed


def test_an_exception_the_provider_does_not_know_is_a_cloud_error(
        tmp_path: Path, cms_home: Path) -> None:
    """A third party's provider whose SDK raises something its translate_error does not
    know: the facade raises a CloudError with the original as __cause__, and cms prints
    it in one line (exit 1)."""
    package = tmp_path / "plugins" / "cloudmesh" / "pyapiboom"
    package.mkdir(parents=True)
    (package / "compute.py").write_text(textwrap.dedent('''
        from cloudmesh.compute.abc import ComputeNodeABC


        class SdkSurprise(Exception):
            """What an SDK raises that nobody expected."""


        class Provider(ComputeNodeABC):
            kind = "pyapiboom"

            def _boom(self, *args, **kwargs):
                raise SdkSurprise("socket said something odd\\nsecond line")

            list = info = create = start = stop = reboot = destroy = _boom
            images = flavors = check = _boom
    '''))
    write_config(cms_home, {"boom": {"cm": {"kind": "pyapiboom"}}}, default="boom")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"),
                                          os.environ.get("PYTHONPATH", "")])}
    code = textwrap.dedent("""
        from cloudmesh.compute import CloudError, Provider
        provider = Provider(service="boom")
        for call in (provider.list, provider.images, provider.check,
                     lambda: provider.info("x"), lambda: provider.stop("x")):
            try:
                call()
            except CloudError as error:
                assert type(error.__cause__).__name__ == "SdkSurprise", error.__cause__
                assert error.exit_code == 1
                print(error)
        (outcome,) = provider.act("start", "x")
        assert isinstance(outcome.error, CloudError), outcome
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("cloud 'boom': pyapiboom list failed unexpectedly: "
                               "SdkSurprise: socket said something odd; ")
    cli = run_cms("vm", "list", env=env)
    assert cli.code == 1 and len(cli.err.splitlines()) == 1, cli
    assert "SdkSurprise" in cli.err and "Traceback" not in cli.err
    debug = run_cms("--debug", "vm", "list", env=env)
    assert debug.code == 1 and "class SdkSurprise" not in debug.err
    assert "SdkSurprise: socket said something odd" in debug.err  # the cause's traceback
