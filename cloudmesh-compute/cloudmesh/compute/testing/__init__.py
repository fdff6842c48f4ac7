"""The provider conformance suite (as SQLAlchemy's dialect suite and fsspec's abstract
tests are): every provider's tests subclass ``ComputeProviderSuite`` and provide a
``cloud`` fixture, so all kinds pass the same contract. Third-party providers run it too::

    from cloudmesh.compute.testing import ComputeProviderSuite

    class TestMyCloud(ComputeProviderSuite):
        image = "ubuntu-24.04"     # an image the test cloud has (name or id)
        flavor = "small"           # a flavor the test cloud has

        @pytest.fixture
        def cloud(self, tmp_path, monkeypatch):
            monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(tmp_path))
            ...write cloudmesh.yaml with a cloud "x" pointing at your fake...
            yield "x"

The suite talks to the provider only through the ``Provider`` facade, as cms does.
Needs pytest (``pip install cloudmesh-compute[testing]``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from cloudmesh.compute.abc import (FLAVOR_FIELDS, IMAGE_FIELDS, VM_FIELDS, VM_STATUSES)
from cloudmesh.compute.errors import NotFound, NotSupported, UsageError, WaitTimeout
from cloudmesh.compute.provider import Provider


def assert_record(record: dict[str, Any], fields: tuple[str, ...], cloud: str,
                  kind: str) -> None:
    """A record has every field of its type, for this cloud and kind."""
    assert isinstance(record, dict), f"a record must be a dict, not {type(record).__name__}"
    missing = [f for f in fields if f not in record]
    assert not missing, f"record lacks {missing}: {record}"
    if "cloud" in fields:
        assert record["cloud"] == cloud
        assert record["kind"] == kind
    assert record["name"], f"record without a name: {record}"
    if "created" in record and record["created"] is not None:
        assert record["created"].endswith("Z"), f"created is not UTC: {record['created']}"
        datetime.fromisoformat(record["created"].replace("Z", "+00:00"))


def assert_vm_record(record: dict[str, Any], cloud: str, kind: str) -> None:
    assert_record(record, VM_FIELDS, cloud, kind)
    assert record["status"] in VM_STATUSES, f"status {record['status']!r} is not normalised"
    for field in ("public_ips", "private_ips", "secgroups"):
        assert isinstance(record[field], list), f"{field} must be a list: {record}"
    assert isinstance(record["metadata"], dict)


class ComputeProviderSuite:
    """The contract every provider must pass. Subclasses set ``image`` and ``flavor`` and
    provide the ``cloud`` fixture; they may tune ``timeout`` and ``interval``."""

    image: str = ""
    flavor: str = ""
    timeout: float = 60
    interval: float = 0.1

    @pytest.fixture
    def cloud(self):  # pragma: no cover - every subclass provides its own
        raise NotImplementedError("a provider's test class must provide a 'cloud' fixture")

    @pytest.fixture
    def provider(self, cloud: str) -> Provider:
        return Provider(cloud)

    @staticmethod
    def new_name() -> str:
        return f"conf-{uuid.uuid4().hex[:8]}"

    def boot(self, provider: Provider, name: str | None = None) -> dict[str, Any]:
        name = name or self.new_name()
        (outcome,) = provider.boot(names=name, image=self.image, flavor=self.flavor,
                                   wait=True, timeout=self.timeout)
        assert outcome.ok, f"boot failed: {outcome.error}"
        return outcome.result

    def wait(self, provider: Provider, name: str, status: str) -> dict[str, Any]:
        (outcome,) = provider.wait(name, status, timeout=self.timeout, interval=self.interval)
        assert outcome.ok, f"waiting for {status} failed: {outcome.error}"
        return outcome.result

    def act(self, provider: Provider, verb: str, name: str) -> dict[str, Any]:
        (outcome,) = provider.act(verb, name)
        assert outcome.ok, f"{verb} failed: {outcome.error}"
        return outcome.result

    # ---- VMs -----------------------------------------------------------------------
    def test_boot_list_info_delete(self, provider: Provider) -> None:
        vm = self.boot(provider)
        assert_vm_record(vm, provider.name, provider.kind)
        assert vm["status"] == "running"
        names = [r["name"] for r in provider.list()]
        assert vm["name"] in names
        for record in provider.list():
            assert_vm_record(record, provider.name, provider.kind)
        info = provider.info(vm["name"])
        assert info["name"] == vm["name"] and info["id"] == vm["id"]
        deleted = self.act(provider, "destroy", vm["name"])
        assert deleted["status"] in ("deleting", "terminated")
        self.wait(provider, vm["name"], "terminated")
        live = [r for r in provider.list() if r["name"] == vm["name"]]
        assert all(r["status"] in ("deleting", "terminated") for r in live)

    def test_list_filters_by_names(self, provider: Provider) -> None:
        first, second = self.boot(provider), self.boot(provider)
        listed = provider.list(names=first["name"])
        assert [r["name"] for r in listed] == [first["name"]]
        assert second["name"] in [r["name"] for r in provider.list()]

    def test_list_updates_cache(self, provider: Provider) -> None:
        vm = self.boot(provider)
        provider.list()
        cached = provider.list(cached=True)
        assert vm["name"] in [r["name"] for r in cached]

    def test_generated_names_count_up(self, provider: Provider) -> None:
        outcomes = provider.boot(count=2, image=self.image, flavor=self.flavor)
        assert all(o.ok for o in outcomes), [str(o.error) for o in outcomes]
        numbers = [int(o.item.rsplit("-", 1)[1]) for o in outcomes]
        assert numbers[1] == numbers[0] + 1
        assert all("-vm-" in o.item for o in outcomes)

    def test_stop_start(self, provider: Provider) -> None:
        vm = self.boot(provider)
        self.act(provider, "stop", vm["name"])
        assert self.wait(provider, vm["name"], "stopped")["status"] == "stopped"
        self.act(provider, "start", vm["name"])
        assert self.wait(provider, vm["name"], "running")["status"] == "running"

    def test_reboot(self, provider: Provider) -> None:
        vm = self.boot(provider)
        record = self.act(provider, "reboot", vm["name"])
        assert record["status"] in ("rebooting", "running", "booting")
        assert self.wait(provider, vm["name"], "running")["status"] == "running"

    def test_suspend_resume_or_not_supported(self, provider: Provider) -> None:
        vm = self.boot(provider)
        if not provider.provider.supports("suspend"):
            with pytest.raises(NotSupported) as raised:
                provider.act("suspend", vm["name"])
            assert provider.kind in str(raised.value)
            return
        self.act(provider, "suspend", vm["name"])
        assert self.wait(provider, vm["name"], "suspended")["status"] == "suspended"
        self.act(provider, "resume", vm["name"])
        assert self.wait(provider, vm["name"], "running")["status"] == "running"

    def test_unsupported_verbs_say_why(self, provider: Provider) -> None:
        for verb, reason in provider.provider.unsupported.items():
            assert reason, f"{verb} is unsupported without a reason"
            error = provider.provider.not_supported(verb)
            assert isinstance(error, NotSupported)
            assert provider.kind in str(error) and reason in str(error)

    def test_unknown_vm_is_not_found(self, provider: Provider) -> None:
        name = self.new_name()
        with pytest.raises(NotFound):
            provider.info(name)
        (outcome,) = provider.act("stop", name)
        assert isinstance(outcome.error, NotFound)

    def test_one_failure_does_not_hide_the_others(self, provider: Provider) -> None:
        vm = self.boot(provider)
        missing = self.new_name()
        outcomes = provider.infos([vm["name"], missing])
        assert outcomes[0].ok and outcomes[0].result["name"] == vm["name"]
        assert isinstance(outcomes[1].error, NotFound)

    def test_boot_refuses_an_existing_name(self, provider: Provider) -> None:
        vm = self.boot(provider)
        before = len(provider.list())
        (outcome,) = provider.boot(names=vm["name"], image=self.image, flavor=self.flavor)
        assert isinstance(outcome.error, UsageError)
        assert len(provider.list()) == before

    def test_wait_times_out(self, provider: Provider) -> None:
        vm = self.boot(provider)
        (outcome,) = provider.wait(vm["name"], "stopped", timeout=0.3, interval=0.1)
        assert isinstance(outcome.error, WaitTimeout)

    def test_bad_name_expression_is_a_usage_error(self, provider: Provider) -> None:
        with pytest.raises(UsageError):
            provider.act("stop", "vm[3-1]")

    # ---- images and flavors --------------------------------------------------------
    def test_images(self, provider: Provider) -> None:
        images = provider.images()
        assert images, "the test cloud should offer at least one image"
        for record in images:
            assert_record(record, IMAGE_FIELDS, provider.name, provider.kind)
        found = provider.image(self.image)
        assert self.image in (found["name"], found["id"])
        assert provider.image(found["id"])["id"] == found["id"]

    def test_unknown_image_is_not_found(self, provider: Provider) -> None:
        with pytest.raises(NotFound):
            provider.image(f"no-such-image-{uuid.uuid4().hex[:6]}")

    def test_flavors(self, provider: Provider) -> None:
        flavors = provider.flavors()
        assert flavors, "the test cloud should offer at least one flavor"
        for record in flavors:
            assert_record(record, FLAVOR_FIELDS, provider.name, provider.kind)
        found = provider.flavor(self.flavor)
        assert self.flavor in (found["name"], found["id"])
        assert isinstance(found["vcpus"], int) and found["vcpus"] > 0
        assert isinstance(found["ram_mb"], int) and found["ram_mb"] > 0

    def test_unknown_flavor_is_not_found(self, provider: Provider) -> None:
        with pytest.raises(NotFound):
            provider.flavor(f"no-such-flavor-{uuid.uuid4().hex[:6]}")

    def test_check(self, provider: Provider) -> None:
        assert isinstance(provider.check(), str)
