"""Issue 15, "A new user's first hour": each finding of a new user's first session, played
through cms's own dispatch in this process (cms_here), with its exit code; a full disk,
the progress tick and the terminal through the real ``cms`` as a subprocess."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import (CMS, MOTO_UBUNTU_AMI, aws_cloud_spec, cms_here, ec2_client, run_cms,
                      snapshot, write_config)
from fakes.multipass import harness
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent


def one_error_line(result, code: int, *fragments: str) -> str:
    assert result.code == code, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr: {result.err!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in result.err, result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def active_values(node, path=""):
    """Every (dotted key, value) of a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from active_values(value, f"{path}.{key}" if path else str(key))
    else:
        yield path, node


# ---- the template ------------------------------------------------------------------------
def test_fresh_template_passes_its_own_checks(cms_home: Path, tmp_path: Path) -> None:
    """cms init in a fresh home, then config check (exit 0), check (a row per cloud, each
    failure with its hint; nothing leaves 127.0.0.1) and a multipass dry run with the
    template's own defaults (no 'flavor: default')."""
    init = cms_here("init", "--user=ada")
    assert init.code == 0, init
    text = (cms_home / "cloudmesh.yaml").read_text()
    data = yaml.safe_load(text)
    values = dict(active_values(data))
    assert not [k for k, v in values.items() if "${" in str(v)], values  # no unset ${VAR}
    clouds = data["cloudmesh"]["compute"]
    assert set(clouds) == {"aws", "multipass"}  # the others are commented examples
    assert clouds["multipass"]["default"]["flavor"] == "tiny"
    assert "key" not in clouds["aws"]["default"]  # a key the registry lacks would fail
    for kind in ("openstack", "azure", "google", "oracle"):
        assert f"#     kind: {kind}" in text
    checked = cms_here("config", "check")
    assert checked.code == 0 and "ok (2 clouds)" in checked.out, checked
    rows = cms_here("check", "--output=json")
    # no credentials and no Multipass here: "not set up", which a fresh template is (exit
    # 0), not "failed"; each row says what to do
    assert rows.code == 0, rows
    by_cloud = {row["cloud"]: row for row in rows.json()}
    assert set(by_cloud) == {"aws", "multipass"}
    assert all(row["status"] == "not set up" and ";" in row["detail"]
               for row in by_cloud.values()), by_cloud
    assert "NetworkGuard" not in rows.out + rows.err
    env = {**harness.environment(tmp_path, PATH=f"{tmp_path / 'bin'}:"
                                 f"{Path(sys.executable).parent}:/usr/bin:/bin"),
           "CLOUDMESH_CONFIG_DIR": str(cms_home)}
    harness.install_fake(tmp_path / "bin")
    dry = cms_here("vm", "boot", "--cloud=multipass", "--name=t1", "--dryrun", env=env)
    assert dry.code == 0 and "flavor=tiny" in dry.err, dry


def test_init_writes_the_state_only_after_the_config(cms_home: Path, tmp_path: Path) -> None:
    cms_home.mkdir(parents=True)
    (cms_home / "cloudmesh.yaml").symlink_to(tmp_path / "nowhere" / "cloudmesh.yaml")
    one_error_line(cms_here("init"), 4, "symbolic link")
    assert not (cms_home / "cloudmesh.db").exists()  # the group 'default' was not defined
    (cms_home / "cloudmesh.yaml").unlink()
    assert cms_here("init").code == 0
    groups = cms_here("secgroup", "list", "--output=json").json()
    assert [g["name"] for g in groups] == ["default"]


def test_empty_or_broken_config_is_not_a_dead_end(cms_home: Path) -> None:
    cms_home.mkdir(parents=True)
    path = cms_home / "cloudmesh.yaml"
    path.write_text("")
    path.chmod(0o600)
    one_error_line(cms_here("vm", "list"), 4, "is empty", "run 'cms init'")
    done = cms_here("init", "--user=ada")
    assert done.code == 0 and "wrote" in done.err, done  # an empty file is replaced
    assert cms_here("config", "check").code == 0
    broken = "cloudmesh:\n  compute: [unclosed\n"
    path.write_text(broken)
    one_error_line(cms_here("vm", "list"), 4, "invalid YAML", "cms init --force")
    refused = cms_here("init")
    one_error_line(refused, 4, "cannot be used", "cms init --force")
    assert path.read_text() == broken
    forced = cms_here("init", "--force", "--user=ada")
    assert forced.code == 0, forced
    assert (cms_home / "cloudmesh.yaml.bak").read_text() == broken
    assert (cms_home / "cloudmesh.yaml.bak").stat().st_mode & 0o777 == 0o600
    assert cms_here("config", "check").code == 0
    kept = cms_here("init")
    assert kept.code == 0 and "left as it is" in kept.err and "--force" in kept.err


# ---- cms check ---------------------------------------------------------------------------
def test_check_gives_a_row_per_cloud_never_an_abort(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {
        "broken": {"cm": {"kind": "aws"}, "credentials": {"profile": "${NOT_SET_ANYWHERE}"}},
        "good": aws_cloud_spec(moto),
        "nokind": {"cm": {"kind": "nosuchkind"}},
        "shape": {"cm": {"kind": "aws"}, "credentails": {}}})
    result = cms_here("check", "--output=json")
    assert result.code == 4, result
    rows = {row["cloud"]: row for row in result.json()}
    assert list(rows) == ["broken", "good", "nokind", "shape"]
    assert rows["good"]["status"] == "ok"
    assert "NOT_SET_ANYWHERE" in rows["broken"]["detail"] and "export" in rows["broken"]["detail"]
    assert "nosuchkind" in rows["nokind"]["detail"]
    assert "did you mean 'credentials'" in rows["shape"]["detail"]
    # the same rows in this process (CMS_IN_PROCESS): worker processes (two kinds) are
    # the first call's; each start costs a second or more
    here = {"CMS_IN_PROCESS": "1"}
    named = cms_here("check", "good,mars", "--output=json", env=here)
    assert named.code == 4
    assert [r["status"] for r in named.json()] == ["ok", "failed"]
    table = cms_here("check", env=here)
    assert table.code == 4 and len([l for l in table.out.splitlines() if l.strip()]) == 6


# ---- empty values, enumerated options, limits ---------------------------------------------
@pytest.mark.parametrize("argv,option", [
    (["vm", "boot", "--name="], "--name"), (["vm", "boot", "--name=a", "--image="], "--image"),
    (["vm", "boot", "--name=a", "--cloud="], "--cloud"), (["vm", "list", "--cloud="], "--cloud"),
    (["vm", "stop", ""], "NAMES"), (["key", "upload", "k", "--cloud="], "--cloud"),
    (["vm", "ssh", "a", "--command="], "--command"), (["image", "list", "--cloud="], "--cloud"),
])
def test_an_empty_value_is_a_usage_error(aws_cloud: str, cms_home: Path, moto: str,
                                         argv: list[str], option: str) -> None:
    before = snapshot(cms_home)
    one_error_line(cms_here(*argv), 2, f"{option} is empty")
    assert snapshot(cms_home) == before
    reservations = ec2_client(moto).describe_instances()["Reservations"]
    assert reservations == []  # no VM was booted under a generated name


def test_wait_state_is_checked_before_any_request(cms_home: Path) -> None:
    # the cloud's endpoint has nothing listening: a request would be an error, not exit 2
    write_config(cms_home, {"c": aws_cloud_spec(f"http://127.0.0.1:{free_port()}")},
                 default="c")
    started = time.monotonic()
    one_error_line(cms_here("vm", "wait", "a", "--state=flying"), 2, "--state=flying",
                   "running", "ssh")
    one_error_line(cms_here("vm", "wait", "a", "--state=runing"), 2, "did you mean running")
    assert time.monotonic() - started < 10


def test_dryrun_obeys_the_same_limit(aws_cloud: str) -> None:
    for extra in ([], ["--dryrun"]):
        result = cms_here("vm", "boot", "--n=100000", *extra)
        one_error_line(result, 2, "--n=100000", "limit of 1000")
        assert result.out == ""
    assert cms_here("vm", "boot", "--n=3", "--dryrun").err.count("would boot") == 3


# ---- the --cloud fallback, names as separate words, did-you-mean --------------------------
def test_key_and_secgroup_upload_use_cms_set_cloud(cms_home: Path, moto: str) -> None:
    write_config(cms_home, {"a": aws_cloud_spec(moto), "b": aws_cloud_spec(moto, "us-west-2")})
    assert cms_here("init").code == 0  # the config exists: it only defines 'default'
    assert cms_here("set", "cloud=a").code == 0
    assert cms_here("key", "gen", "k1").code == 0
    key = cms_here("key", "upload", "k1")
    assert key.code == 0 and "uploaded on a" in key.err, key
    group = cms_here("secgroup", "upload", "default")
    assert group.code == 0 and "on a" in group.err, group
    names = {g["GroupName"] for g in ec2_client(moto).describe_security_groups()[
        "SecurityGroups"]}
    assert "cms-default" in names
    assert [k["KeyName"] for k in ec2_client(moto).describe_key_pairs()["KeyPairs"]] == ["k1"]


@pytest.mark.parametrize("argv,hint", [
    (["vm", "stop", "a", "b"], "comma separated: 'a,b'"),
    (["vm", "delete", "a", "b", "c", "--dryrun"], "'a,b,c'"),
    (["key", "upload", "k1", "k2"], "'k1,k2'"),
    (["key", "delete", "k1", "k2", "--cloud", "x"], "'k1,k2'"),
    (["vm", "lst"], "did you mean 'cms vm list'"),
    (["vm", "list", "--outptu=json"], "did you mean --output"),
])
def test_usage_errors_say_what_to_write(cms_home: Path, argv: list[str], hint: str) -> None:
    one_error_line(cms_here(*argv), 2, hint)


def test_several_groups_upload_at_once(aws_cloud: str, moto: str) -> None:
    for name in ("g1", "g2"):
        assert cms_here("secgroup", "add", name).code == 0
    result = cms_here("secgroup", "upload", "g1,g2")
    assert result.code == 0, result
    names = {g["GroupName"] for g in ec2_client(moto).describe_security_groups()[
        "SecurityGroups"]}
    assert {"g1", "g2"} <= names


# ---- output errors -------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["vm", "list", "--cached"], ["help"], ["config", "cat"]])
def test_a_full_disk_is_one_line(aws_cloud: str, argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        completed = subprocess.run([CMS, *argv], check=False, stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=60)
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == 1, completed.stderr
    assert lines[-1] == ("error: cannot write the output: No space left on device; "
                         "free some space, or send the output elsewhere"), lines
    assert "internal error" not in completed.stderr and "Exception" not in completed.stderr


# ---- ssh ------------------------------------------------------------------------------------
def test_ssh_failure_in_plain_words(cms_home: Path, moto: str) -> None:
    port = free_port()
    write_config(cms_home, {"m": aws_cloud_spec(moto, ssh_host="127.0.0.1", ssh_port=port)},
                 default="m")
    # booted with a key: one booted without would be refused before any SSH attempt
    assert cms_here("key", "gen", "k").code == 0
    assert cms_here("vm", "boot", "--name=s1", "--key=k").code == 0
    result = cms_here("vm", "ssh", "s1", "--command=true", "--timeout=5")
    line = one_error_line(result, 1, f"127.0.0.1 port {port}", "connection refused")
    assert "Errno" not in line and "Unable to connect" not in line
    interactive = cms_here("ssh", "s1", "--timeout=5")
    one_error_line(interactive, 1, f"127.0.0.1 port {port}", "connection refused")


# ---- one record as field/value ----------------------------------------------------------------
def test_info_and_show_print_one_record_as_field_value(aws_cloud: str) -> None:
    assert cms_here("vm", "boot", "--name=v1").code == 0
    views = {"vm": cms_here("vm", "info", "v1"),
             "image": cms_here("image", "show", MOTO_UBUNTU_AMI),
             "flavor": cms_here("flavor", "show", "t3.micro")}
    for what, result in views.items():
        assert result.code == 0, result
        lines = result.out.splitlines()
        assert lines[0].split() == ["field", "value"], (what, lines[:3])
        assert lines[2].split()[0] == "name"
        assert max(map(len, lines)) < 100, (what, result.out)
    fields = dict(line.split(None, 1) for line in views["vm"].out.splitlines()[2:]
                  if len(line.split(None, 1)) == 2)
    assert fields["name"] == "v1" and fields["status"] == "running" and "cloud" in fields
    assert cms_here("vm", "info", "v1", "--output=json").json()["name"] == "v1"
    for argv in (["vm", "info", "v1"], ["image", "show", MOTO_UBUNTU_AMI],
                 ["flavor", "show", "t3.micro"]):
        csv = cms_here(*argv, "--output=csv").out.splitlines()
        assert len(csv) == 2 and csv[0].startswith("name,"), (argv, csv)


# ---- waits and the cache ----------------------------------------------------------------------
def test_a_wait_shows_progress_between_status_changes(aws_cloud: str) -> None:
    assert cms_here("vm", "boot", "--name=w1").code == 0
    started = time.monotonic()
    # the tick every half second (CMS_PROGRESS_INTERVAL) rather than every 5 s; 3 s leave
    # ticks after the first answer, which takes a second or more on a busy machine
    result = run_cms("vm", "wait", "w1", "--state=stopped", "--timeout=3", "--interval=0.5",
                     env={"CMS_PROGRESS_INTERVAL": "0.5"})
    assert result.code == 1 and "timed out after 3s" in result.err, result
    assert time.monotonic() - started < 30
    assert re.search(r"waiting for stopped: [1-4]s \(w1 running\)", result.err), result.err


def test_cached_says_how_old_its_rows_are(small_moto_catalog: str, aws_cloud: str) -> None:
    empty = cms_here("vm", "list", "--cached")
    assert empty.code == 0 and "none seen yet" in empty.err, empty
    assert cms_here("vm", "boot", "--name=c1").code == 0
    assert cms_here("vm", "list").code == 0
    cached = cms_here("vm", "list", "--cached")
    assert cached.code == 0 and "c1" in cached.out
    assert re.search(r"cached: 1 VMs of moto, as seen \d+ s ago \(since 20\d\d-", cached.err), \
        cached.err
    assert cms_here("flavor", "list").code == 0
    flavors = cms_here("flavor", "list", "--cached", "--output=json")
    assert json.loads(flavors.out) and "flavors of moto, as seen" in flavors.err


# ---- the README -------------------------------------------------------------------------------
def test_readme_is_honest() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    for link in links:
        assert not link.startswith(("..", "/")), link
        if not link.startswith(("http://", "https://", "#")):
            assert (ROOT / link.split("#")[0]).exists(), link
    assert "../shared" not in text and "DESIGN.md" not in text
    layout = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for folder in sorted(p.name for p in ROOT.glob("cloudmesh-*") if p.is_dir()):
        assert f"{folder}/" in layout, folder
    assert "## Troubleshooting" in text
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 130 |"):
        assert code in text
    assert "cms init --force" in text
    # the two commands first
    assert text.split("\n\n", 2)[1].strip().startswith("make demo")


def test_at_a_terminal_the_wait_is_one_updating_line(aws_cloud: str) -> None:
    import os
    import pty

    assert cms_here("vm", "boot", "--name=t1").code == 0
    master, slave = pty.openpty()
    process = subprocess.Popen([CMS, "vm", "wait", "t1", "--state=stopped", "--timeout=3",
                                "--interval=0.5"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=slave,
                               env={**os.environ, "CMS_PROGRESS_INTERVAL": "0.5"})
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert process.wait(timeout=60) == 1
    text = seen.decode()
    assert re.search(r"\r\x1b\[Kwaiting for stopped: [1-4]s \(t1 running\)", text), text
    # not a line of its own
    assert not re.search(r"waiting for stopped: \d+s \(t1 running\)\r?\n", text), text
    assert "timed out after 3s" in text


def test_config_set_takes_an_empty_value(cms_home: Path) -> None:
    assert cms_here("init").code == 0
    assert cms_here("config", "set", "cloudmesh.profile.note", "").code == 0
    assert yaml.safe_load((cms_home / "cloudmesh.yaml").read_text())["cloudmesh"][
        "profile"]["note"] == ""
