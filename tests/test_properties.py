"""Property-based tests (hypothesis): the name expander, the config loader and the record
mappers raise nothing but cms's own errors, whatever they are given."""

from __future__ import annotations

import string
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudmesh.compute.config import Config
from cloudmesh.compute.errors import CmsError, UsageError
from cloudmesh.compute.names import MAX_NAMES, expand
from cloudmesh.compute.testing import assert_record, assert_vm_record

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
NAME_ALPHABET = string.ascii_letters + string.digits + "[]-,._ /é\x00"


# ---- names ---------------------------------------------------------------------------------
@SETTINGS
@given(st.text(alphabet=NAME_ALPHABET, max_size=40))
def test_expander_raises_only_usage_errors(expression: str) -> None:
    try:
        names = expand(expression)
    except UsageError:
        return
    assert 0 < len(names) <= MAX_NAMES
    assert len(set(names)) == len(names)
    assert all(isinstance(n, str) and n for n in names)


@SETTINGS
@given(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.integers(0, 200),
       st.integers(0, 50), st.booleans())
def test_ranges_expand_in_order(prefix: str, low: int, span: int, padded: bool) -> None:
    high = low + span
    width = len(str(high))
    low_text = str(low).zfill(width) if padded else str(low)
    names = expand(f"{prefix}[{low_text}-{high}]")
    assert len(names) == span + 1
    numbers = [int(n[len(prefix):]) for n in names]
    assert numbers == list(range(low, high + 1))
    if padded and width > 1:
        assert all(len(n) == len(prefix) + width for n in names)


# ---- the config loader -----------------------------------------------------------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12))
trees = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.text(string.ascii_lowercase + "_.", min_size=1, max_size=10), children,
                    max_size=5)), max_leaves=25)


def load_everything(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cloudmesh.yaml"
        path.write_bytes(text)
        path.chmod(0o600)
        config = Config(path)
        try:
            config.data
            for name in list(config.clouds()):
                config.cloud(str(name))
            config.default_cloud()
            config.masked()
            config.get("cloudmesh.compute.a.credentials.x", None)
        except CmsError:
            pass


@SETTINGS
@given(st.binary(max_size=300))
def test_config_loader_on_arbitrary_bytes(text: bytes) -> None:
    load_everything(text)


@SETTINGS
@given(trees)
def test_config_loader_on_arbitrary_documents(tree) -> None:
    load_everything(yaml.safe_dump({"cloudmesh": {"compute": tree}}).encode())
    load_everything(yaml.safe_dump({"cloudmesh": tree}).encode())


@SETTINGS
@given(st.dictionaries(st.sampled_from(["cm", "credentials", "default", "defaults", "x"]),
                       trees, max_size=4))
def test_provider_resolution_raises_only_our_errors(spec) -> None:
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.state import State

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cloudmesh.yaml"
        path.write_text(yaml.safe_dump({"cloudmesh": {"compute": {"c": spec}}}))
        path.chmod(0o600)
        try:
            Provider("c", config=Config(path), state=State(Path(directory) / "s.db"))
        except CmsError:
            pass


# ---- the AWS record mappers ---------------------------------------------------------------------
def maybe(strategy):
    return st.one_of(strategy, st.none(), st.integers(), st.text(max_size=5))


ip = st.ip_addresses(v=4).map(str)
instances = st.fixed_dictionaries({}, optional={
    "InstanceId": maybe(st.from_regex(r"i-[0-9a-f]{8}", fullmatch=True)),
    "State": maybe(st.fixed_dictionaries({"Name": maybe(st.sampled_from(
        ["pending", "running", "stopping", "stopped", "shutting-down", "terminated", "odd"]))})),
    "Tags": maybe(st.lists(st.fixed_dictionaries({"Key": st.text(max_size=8),
                                                  "Value": st.text(max_size=8)}), max_size=3)),
    "ImageId": maybe(st.text(max_size=12)), "InstanceType": maybe(st.text(max_size=10)),
    "PrivateIpAddress": maybe(ip), "PublicIpAddress": maybe(ip),
    "NetworkInterfaces": maybe(st.lists(st.fixed_dictionaries({}, optional={
        "PrivateIpAddresses": maybe(st.lists(st.fixed_dictionaries({}, optional={
            "PrivateIpAddress": maybe(ip),
            "Association": maybe(st.fixed_dictionaries({"PublicIp": maybe(ip)}))}),
            max_size=2))}), max_size=2)),
    "KeyName": maybe(st.text(max_size=8)),
    "SecurityGroups": maybe(st.lists(st.fixed_dictionaries({"GroupName": st.text(max_size=6)}),
                                     max_size=2)),
    "Placement": maybe(st.fixed_dictionaries({"AvailabilityZone": maybe(st.text(max_size=12))})),
    "LaunchTime": maybe(st.datetimes(timezones=st.just(timezone.utc))),
})


def aws_provider():
    from cloudmesh.aws.compute import Provider

    return Provider("prop", {"cm": {"kind": "aws"}, "credentials": {"region": "us-east-1"}})


@SETTINGS
@given(instances)
def test_aws_vm_mapper(instance: dict) -> None:
    provider = aws_provider()
    try:
        record = provider._to_vm(instance)
    except CmsError:
        return
    assert_vm_record(record, "prop", "aws")


@SETTINGS
@given(st.fixed_dictionaries({}, optional={
    "ImageId": maybe(st.text(max_size=12)), "Name": maybe(st.text(max_size=20)),
    "State": maybe(st.text(max_size=8)), "CreationDate": maybe(st.text(max_size=25)),
    "PlatformDetails": maybe(st.text(max_size=10))}),
    st.fixed_dictionaries({}, optional={
        "InstanceType": maybe(st.text(max_size=12)),
        "VCpuInfo": maybe(st.fixed_dictionaries({"DefaultVCpus": maybe(st.integers(1, 64))})),
        "MemoryInfo": maybe(st.fixed_dictionaries({"SizeInMiB": maybe(st.integers(1, 10**6))})),
        "InstanceStorageInfo": maybe(st.fixed_dictionaries({"TotalSizeInGB": st.integers(0, 99)}))}))
def test_aws_image_and_flavor_mappers(image: dict, instance_type: dict) -> None:
    provider = aws_provider()
    for mapper, item, fields in ((provider._to_image, image,
                                  ("name", "id", "cloud", "kind", "os", "status", "created")),
                                 (provider._to_flavor, instance_type,
                                  ("name", "id", "cloud", "kind", "vcpus", "ram_mb"))):
        try:
            record = mapper(item)
        except CmsError:
            continue
        if record.get("name"):
            assert_record(record, fields, "prop", "aws")


def test_iso_dates_from_the_mapper_are_utc() -> None:
    record = aws_provider()._to_vm({"InstanceId": "i-1", "State": {"Name": "running"},
                                    "LaunchTime": datetime(2026, 1, 2, 3, 4, 5,
                                                           tzinfo=timezone.utc)})
    assert record["created"] == "2026-01-02T03:04:05Z"


# ---- the fast table renderer ----------------------------------------------------------------
cell_text = st.text(alphabet=string.ascii_letters + string.digits + " .,:/_-", max_size=12)


@SETTINGS
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), min_size=n, max_size=n),
    st.lists(st.lists(cell_text, min_size=n, max_size=n), max_size=6))))
def test_simple_table_is_tabulates_simple_format(table) -> None:
    from tabulate import tabulate

    from cloudmesh.compute.output import simple_table

    headers, rows = table
    assert simple_table(headers, rows) == tabulate(rows, headers=headers, tablefmt="simple",
                                                   disable_numparse=True)


def test_simple_table_leaves_other_cells_to_tabulate() -> None:
    from cloudmesh.compute.output import simple_table

    assert simple_table(["a"], [[1]]) is None
    assert simple_table(["a"], [["two\nlines"]]) is None
    assert simple_table(["a"], [["é"]]) is None
