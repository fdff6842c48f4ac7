"""Every region, every cloud, at once (issue 24): ``--region=R1,R2|all`` over three regions
of moto and two regions of the OpenStack fake's catalog, ``--cloud=all`` with
``--filter``, a failing region as one error line beside the others' rows, ``--cached``
keeping regions apart, and the worker-process path (two kinds at once) giving the same
records as the in-process one."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from cloudmesh.compute.provider import Provider
from conftest import MOTO_UBUNTU_AMI, aws_cloud_spec, cms_here, ec2_client, write_config
from fakes.openstack import FakeOpenStack
from moto_catalog import small_moto_catalog  # noqa: F401  (a fixture)

REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")


@pytest.fixture(autouse=True)
def _small_catalog(small_moto_catalog: str) -> None:
    """Every test here: moto with a few images and instance types, since --region=all
    builds every one of moto's regions (see moto_catalog)."""


def run_in(endpoint: str, region: str, name: str) -> str:
    """One running instance named ``name`` in ``region`` of moto; its id."""
    answer = ec2_client(endpoint, region).run_instances(
        ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Name", "Value": name}]}])
    return answer["Instances"][0]["InstanceId"]


@pytest.fixture
def three_regions(moto: str, cms_home: Path) -> str:
    """moto with one VM in each of three regions; the cloud 'moto' lists them (us-east-1
    is its configured region)."""
    for region in REGIONS:
        run_in(moto, region, f"vm-{region}")
    write_config(cms_home, {"moto": aws_cloud_spec(moto)}, default="moto")
    return moto


@pytest.fixture
def two_region_openstack():
    """Two fakes behind one Keystone: RegionOne (the first fake, which answers the token
    requests) and RegionTwo (a second fake that shares its tokens), both in the catalog."""
    first = FakeOpenStack(secrets.token_urlsafe(16), build_seconds=0.1, delete_seconds=0.1,
                          action_seconds=0.1)
    second = FakeOpenStack(first.password, build_seconds=0.1, delete_seconds=0.1,
                           action_seconds=0.1, region="RegionTwo")
    second.tokens = first.tokens
    second.project, second.user = first.project, first.user
    first.start()
    second.start()
    first.other_regions["RegionTwo"] = second.public_url
    yield first, second
    first.stop()
    second.stop()


def openstack_spec(fake: FakeOpenStack, **extra) -> dict:
    return {"cm": {"kind": "openstack", "timeout": 10},
            "credentials": {"auth_url": fake.auth_url, "username": "demo",
                            "password": fake.password, "project_name": "demo",
                            "user_domain_name": "Default", "project_domain_name": "Default",
                            "region_name": "RegionOne"},
            "default": {"image": "ubuntu-24.04", "flavor": "m1.small"}, **extra}


def listed(*args: str, env: dict | None = None) -> list[dict]:
    result = cms_here("vm", "list", "-o", "json", *args, env=env)
    assert result.code == 0, result
    return result.json()


def by_name(records: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in records}


def test_three_regions_of_moto_listed_at_once(three_regions: str):
    records = listed("--region=" + ",".join(REGIONS))
    assert {(r["name"], r["region"]) for r in records} == {
        (f"vm-{region}", region) for region in REGIONS}
    assert {r["cloud"] for r in records} == {"moto"}
    # without --region: the configured region only, as before
    assert [r["name"] for r in listed()] == ["vm-us-east-1"]


def test_region_all_is_the_regions_list_else_every_region_of_the_account(
        three_regions: str, cms_home: Path):
    every = listed("--region=all")  # no regions: -> EC2 DescribeRegions
    assert {r["name"] for r in every} == {f"vm-{region}" for region in REGIONS}
    write_config(cms_home, {"moto": {**aws_cloud_spec(three_regions),
                                     "regions": ["eu-west-1", "ap-south-1"]}})
    chosen = listed("--cloud=moto", "--region=all")
    assert {r["region"] for r in chosen} == {"eu-west-1", "ap-south-1"}


def test_two_regions_of_the_openstack_catalog(two_region_openstack, cms_home: Path):
    write_config(cms_home, {"os": openstack_spec(two_region_openstack[0])}, default="os")
    for region in ("RegionOne", "RegionTwo"):
        (outcome,) = Provider("os", region=region).boot(names=f"web-{region.lower()}")
        outcome.get()
    records = listed("--region=all")  # the Keystone catalog's compute regions
    assert {(r["name"], r["region"]) for r in records} == {
        ("web-regionone", "RegionOne"), ("web-regiontwo", "RegionTwo")}
    assert listed("--region=RegionTwo")[0]["name"] == "web-regiontwo"


def test_a_failing_region_is_one_error_line_and_the_others_are_shown(
        two_region_openstack, cms_home: Path):
    write_config(cms_home, {"os": openstack_spec(two_region_openstack[0])}, default="os")
    Provider("os").boot(names="one")[0].get()
    result = cms_here("vm", "list", "-o", "json", "--region=RegionOne,RegionNowhere")
    assert result.code != 0, result
    assert [r["name"] for r in result.json()] == ["one"]
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "os region RegionNowhere" in errors[0], result.err
    assert "Traceback" not in result.err


def test_cached_keeps_regions_apart(three_regions: str):
    # the same name in two regions: both are kept, each with its region
    run_in(three_regions, "eu-west-1", "vm-us-east-1")
    live = listed("--region=us-east-1,eu-west-1")
    assert len(live) == 3
    cached = cms_here("vm", "list", "-o", "json", "--cached", "--region=all")
    assert cached.code == 0, cached
    assert sorted((r["name"], r["region"]) for r in cached.json()) == sorted(
        (r["name"], r["region"]) for r in live)
    only_eu = listed("--cached", "--region=eu-west-1")
    assert {r["region"] for r in only_eu} == {"eu-west-1"} and len(only_eu) == 2
    assert "moto@eu-west-1" in cms_here("vm", "list", "--cached",
                                        "--region=eu-west-1").err


def test_cloud_all_with_filter_over_two_kinds_in_worker_processes(
        three_regions: str, two_region_openstack, cms_home: Path):
    write_config(cms_home, {"moto": aws_cloud_spec(three_regions),
                            "os": openstack_spec(two_region_openstack[0])}, default="moto")
    for region in ("RegionOne", "RegionTwo"):
        regional = Provider("os", region=region)
        regional.boot(names=f"os-{region.lower()}")[0].get()
        # polled every 0.1 s: the fake builds in 0.1 s (boot's wait polls every 2 s)
        regional.wait(f"os-{region.lower()}", "running", timeout=30, interval=0.1)[0].get()
    ec2_client(three_regions, "eu-west-1").stop_instances(
        InstanceIds=[i["InstanceId"] for r in ec2_client(three_regions, "eu-west-1")
                     .describe_instances()["Reservations"] for i in r["Instances"]])
    arguments = ("--cloud=all", "--region=all", "--filter=status=running")
    in_workers = listed(*arguments)
    in_process = listed(*arguments, env={"CMS_IN_PROCESS": "1"})
    expected = {("moto", "vm-us-east-1", "us-east-1"), ("moto", "vm-ap-south-1", "ap-south-1"),
                ("os", "os-regionone", "RegionOne"), ("os", "os-regiontwo", "RegionTwo")}
    assert {(r["cloud"], r["name"], r["region"]) for r in in_workers} == expected
    assert by_name(in_workers) == by_name(in_process)


def test_worker_process_errors_keep_their_class_and_exit_code(
        three_regions: str, two_region_openstack, cms_home: Path):
    spec = openstack_spec(two_region_openstack[0])
    spec["credentials"]["password"] = "wrong-" + secrets.token_urlsafe(12)
    write_config(cms_home, {"moto": aws_cloud_spec(three_regions), "os": spec})
    result = cms_here("vm", "list", "--cloud=all", "-o", "json")
    assert result.code == 4, result  # refused credentials, as in-process
    assert [r["name"] for r in result.json()] == ["vm-us-east-1"]
    assert spec["credentials"]["password"] not in result.err + result.out
    in_process = cms_here("vm", "list", "--cloud=all", "-o", "json",
                          env={"CMS_IN_PROCESS": "1"})
    assert in_process.code == result.code
    assert in_process.err.splitlines()[-1] == result.err.splitlines()[-1]


def test_bad_region_values_are_usage_errors(three_regions: str):
    for value in ("all,us-east-1", "us-east-1,,eu-west-1"):
        result = cms_here("vm", "list", f"--region={value}")
        assert result.code == 2, result
    result = cms_here("vm", "stop", "vm-x", "--region=all")
    assert result.code == 2 and "one region" in result.err, result


def test_an_action_by_name_in_another_region(three_regions: str):
    result = cms_here("vm", "stop", "vm-eu-west-1", "--region=eu-west-1", "--wait",
                      "--timeout=30")
    assert result.code == 0, result
    assert listed("--region=eu-west-1")[0]["status"] == "stopped"
    assert cms_here("vm", "stop", "vm-eu-west-1").code == 3  # not in us-east-1


def test_image_and_flavor_lists_span_regions(three_regions: str):
    result = cms_here("flavor", "list", "-o", "json", "--region=us-east-1,eu-west-1",
                      "--filter=name=t3.micro")
    assert result.code == 0, result
    assert sorted(r["region"] for r in result.json()) == ["eu-west-1", "us-east-1"]
    cached = cms_here("flavor", "list", "-o", "json", "--cached", "--region=eu-west-1")
    assert cached.code == 0, cached
    assert {r["name"] for r in cached.json()} >= {"t3.micro"}


# ---- cms check over kinds, key and group lists over regions, oracle and azure regions --
def check_rows(*args: str, env: dict | None = None) -> tuple[int, list[dict], str]:
    result = cms_here("check", "--output=json", *args, env=env)
    rows = sorted(result.json(), key=lambda row: row["cloud"])
    return result.code, [{k: v for k, v in row.items() if k != "seconds"} for row in rows], \
        result.err


def test_check_over_two_kinds_in_worker_processes_gives_the_in_process_rows(
        three_regions: str, two_region_openstack, cms_home: Path):
    refused = openstack_spec(two_region_openstack[0])
    refused["credentials"]["password"] = "wrong-" + secrets.token_urlsafe(12)
    write_config(cms_home, {"moto": aws_cloud_spec(three_regions),
                            "os": openstack_spec(two_region_openstack[0]), "os-bad": refused},
                 default="moto")
    code, rows, err = check_rows()
    assert code == 4, (rows, err)  # the refused credentials, as in-process
    assert [(r["cloud"], r["kind"], r["status"]) for r in rows] == [
        ("moto", "aws", "ok"), ("os", "openstack", "ok"), ("os-bad", "openstack", "failed")]
    assert refused["credentials"]["password"] not in repr(rows) + err
    assert (code, rows) == check_rows(env={"CMS_IN_PROCESS": "1"})[:2]
    result = cms_here("check", "--output=json")
    assert all(isinstance(row["seconds"], (int, float)) for row in result.json())


def public_key(tmp_path: Path, name: str) -> str:
    from cloudmesh.compute.keys import generate_ed25519

    return generate_ed25519(tmp_path / name, "test")["public_key"]


def test_key_and_secgroup_lists_span_regions(three_regions: str, tmp_path: Path):
    suffix = secrets.token_hex(3)
    for region in ("us-east-1", "eu-west-1"):
        client = ec2_client(three_regions, region)
        client.import_key_pair(KeyName=f"k-{region}-{suffix}",
                               PublicKeyMaterial=public_key(tmp_path, region).encode())
        client.create_security_group(GroupName=f"g-{region}-{suffix}", Description="test")
    result = cms_here("key", "list", "--cloud=moto", "--region=us-east-1,eu-west-1",
                      "-o", "json", f"--filter=name=*-{suffix}")
    assert result.code == 0, result
    assert sorted((r["name"], r["region"], r["cloud"]) for r in result.json()) == [
        (f"k-{region}-{suffix}", region, "moto") for region in ("eu-west-1", "us-east-1")]
    result = cms_here("secgroup", "list", "--cloud=moto", "--region=us-east-1,eu-west-1",
                      "-o", "json", f"--filter=name=*-{suffix}")
    assert result.code == 0, result
    assert sorted((r["name"], r["region"]) for r in result.json()) == [
        (f"g-{region}-{suffix}", region) for region in ("eu-west-1", "us-east-1")]
    table = cms_here("secgroup", "list", "--cloud=moto", "--region=eu-west-1",
                     f"--filter=name=g-eu-west-1-{suffix}")
    assert table.code == 0 and "eu-west-1" in table.out and "region" in table.out, table
    local = cms_here("key", "list", "--region=eu-west-1")  # the local registry: no regions
    assert local.code == 2 and "--cloud" in local.err, local


def test_oracle_region_all_is_the_tenancys_ready_subscriptions(cms_home: Path,
                                                                tmp_path: Path):
    pytest.importorskip("oci")
    from fakes.oracle import OciFake
    from fakes.oracle.harness import cloud_spec, make_api_key

    fake = OciFake(delay=0.05)
    fake.region_subscriptions.update({"us-ashburn-1": ("IAD", "READY"),
                                      "eu-frankfurt-1": ("FRA", "IN_PROGRESS")})
    fake.start()
    try:
        key_file, fingerprint = make_api_key(tmp_path / "oci")
        write_config(cms_home, {"oci": cloud_spec(fake.url, key_file, fingerprint)},
                     default="oci")
        assert Provider("oci").call("regions") == ["us-ashburn-1", "us-phoenix-1"]
        Provider("oci").boot(names="web")[0].get()
        Provider("oci").wait("web", "running", timeout=30, interval=0.1)[0].get()
        # one fake answers for every region: the VM is listed once per subscribed region
        records = listed("--region=all")
        assert sorted((r["name"], r["region"]) for r in records) == [
            ("web", "us-ashburn-1"), ("web", "us-phoenix-1")]
        assert any(path.endswith("/regionSubscriptions") for _, path in fake.requests)
    finally:
        fake.stop()
    assert not fake.violations, fake.violations


def test_azure_region_all_is_every_resource_group_of_the_subscription(cms_home: Path):
    pytest.importorskip("azure.mgmt.compute")
    from fakes.azure import AzureFake

    fake = AzureFake(op_seconds=0.05, retry_after="0")
    fake.start()
    try:
        fake.seed_vms("rg-cms", 2, prefix="here")
        fake.seed_vms("rg-other", 1, location="westeurope", prefix="there")
        write_config(cms_home, {"az": {
            "cm": {"kind": "azure"},
            "credentials": {"subscription_id": fake.subscription, "resource_group": "rg-cms",
                            "location": "eastus", "access_token": fake.token,
                            "base_url": fake.url}}}, default="az")
        assert Provider("az").call("regions") == ["rg-cms", "rg-other"]
        records = listed("--region=all")
        assert sorted((r["name"], r["native"]["resource_group"]) for r in records) == [
            ("here-0000", "rg-cms"), ("here-0001", "rg-cms"), ("there-0000", "rg-other")]
        assert by_name(records)["there-0000"]["region"] == "westeurope"  # its location
        assert [r["name"] for r in listed()] == ["here-0000", "here-0001"]
    finally:
        fake.stop()
    assert not fake.violations, fake.violations


def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (every thread's children, from /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def test_ctrl_c_during_a_multi_kind_list_exits_130_and_ends_every_worker(
        three_regions: str, cms_home: Path, sigint_reaches_children: None):
    """A real process: SIGINT (to cms alone, as a signal from another terminal would be)
    while the openstack worker waits on a Keystone that never answers."""
    import signal
    import socket
    import subprocess
    import threading
    import time

    from conftest import CMS

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(silent.accept()[0]) for _ in range(8)],
                     daemon=True).start()
    hanging = {"cm": {"kind": "openstack", "timeout": 60},
               "credentials": {"auth_url": f"http://127.0.0.1:{silent.getsockname()[1]}/v3",
                               "username": "demo", "password": secrets.token_urlsafe(12),
                               "project_name": "demo", "user_domain_name": "Default",
                               "project_domain_name": "Default", "region_name": "RegionOne"}}
    write_config(cms_home, {"moto": aws_cloud_spec(three_regions), "os": hanging},
                 default="moto")
    process = subprocess.Popen([CMS, "vm", "list", "--cloud=all", "-o", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while not held and time.monotonic() < deadline:  # the openstack worker is waiting
            workers |= children_of(process.pid)
            time.sleep(0.05)
        workers |= children_of(process.pid)
        assert held and len(workers) == 2, (workers, process.poll())
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        silent.close()
        for connection in held:
            connection.close()
    assert process.returncode == 130, err
    assert "Traceback" not in err, err
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], workers
