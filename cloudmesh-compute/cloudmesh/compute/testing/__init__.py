"""The provider conformance suite (as SQLAlchemy's dialect suite and fsspec's abstract
tests are): every provider's tests subclass ``ComputeProviderSuite`` and provide a
``cloud`` fixture and ``delivered_keys``, so all kinds pass the same contract. Third-party
providers run it too::

    import pytest
    from cloudmesh.compute.testing import ComputeProviderSuite
    from cloudmesh.compute.testing.fixtures import write_config

    pytest_plugins = ["cloudmesh.compute.testing.fixtures"]   # cms_home, sshd

    class TestMyCloud(ComputeProviderSuite):
        image = "ubuntu-24.04"     # an image the test cloud has (any notation of the kind)
        flavor = "small"           # a flavor the test cloud has

        @pytest.fixture
        def cloud(self, cms_home, my_fake):
            write_config(cms_home, {"x": {"cm": {"kind": "mycloud"},
                                          "credentials": {"endpoint_url": my_fake.url}}})
            yield "x"

        def delivered_keys(self, provider, vm):
            # the public keys the boot request carried to this VM, read back from the
            # fake's own state (key pair, metadata, osProfile or cloud-init)
            return my_fake.authorized_keys(vm["id"])

        def reboot_count(self, cloud_name, vm):
            # how often the test cloud's own state saw this VM reboot (a counter, or the
            # number of boot times it recorded): the suite asserts a reboot raises it by one
            return my_fake.reboots(vm["id"])

        def bad_credentials(self, spec):
            # the cloud's cloudmesh.yaml entry (a copy) with credentials the test cloud
            # refuses: the suite asserts check() raises CredentialError (exit 4 in the CLI)
            spec["credentials"]["token"] = "refused"
            return spec

The three hooks are required: a class lacking one fails the tests that need it with a
message naming the hook.

Tests that only read share one running VM per test class (``shared_vm``; the SSH tests
one booted with a key, ``ssh_vm``); tests that change a VM boot their own. The VM is
booted once per class when the ``cloud`` fixture is class-scoped and its test cloud lives
as long (``cms_home_class`` in the fixtures gives a home for that); with a
function-scoped ``cloud`` (a fresh test cloud per test) it is booted per test. Waits use
the class's ``timeout`` and ``interval``: set them to what the test cloud needs (a fake
that finishes in 0.1 s wants ``interval = 0.05``).

The suite talks to the provider only through the ``Provider`` facade, as cms does. Its SSH
tests boot a VM with a key, reach it at the address the provider reports (a fake hands
out 127.0.0.0/8 addresses), start an SSH server there that trusts exactly the keys the
boot delivered, and set nothing but the cloud's ``ssh_port``. ``FaultSuite``
(cloudmesh.compute.testing.faults) is the same for a cloud that fails. Needs pytest
(``pip install cloudmesh-compute[testing]``).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cloudmesh.compute.abc import (FLAVOR_FIELDS, IMAGE_FIELDS, VM_FIELDS, VM_STATUSES)
from cloudmesh.compute.errors import (CloudError, NotFound, NotSupported, UsageError,
                                      WaitTimeout)
from cloudmesh.compute.provider import Provider
from cloudmesh.compute.testing.ssh_tests import SshTests


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


class ComputeProviderSuite(SshTests):
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

    def delivered_keys(self, provider: Provider, vm: dict[str, Any]) -> list[str]:
        """The OpenSSH public key lines the cloud would install on ``vm``, read back from
        the test cloud's own state (the key pair the VM names, its ssh-keys metadata, its
        osProfile, its cloud-init). Every provider's test class implements it: the SSH
        tests trust exactly these keys, so they pass only if the boot delivered the key."""
        self.hook_missing("delivered_keys(self, provider, vm) -> list[str]")

    def reboot_count(self, cloud_name: str, vm: dict[str, Any]) -> int:
        """How many reboots of ``vm`` the test cloud's own state has seen (a counter, or
        the boot times it recorded). Every provider's test class implements it: a reboot
        must raise it by one, so a reboot that does nothing fails."""
        self.hook_missing("reboot_count(self, cloud_name: str, vm: dict) -> int")

    def bad_credentials(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The cloud's configuration entry ``spec`` (a copy to change) with credentials the
        test cloud refuses. Every provider's test class implements it: check() must then
        raise CredentialError, and 'cms check' exit with 4."""
        self.hook_missing("bad_credentials(self, spec: dict) -> dict")

    def hook_missing(self, signature: str) -> None:
        pytest.fail(f"{type(self).__name__} lacks the conformance hook {signature} "
                    "(see cloudmesh.compute.testing)", pytrace=False)

    @staticmethod
    def new_public_key(tmp_path: Path, name: str) -> str:
        """A throwaway ed25519 public key, made at run time."""
        from cloudmesh.compute.keys import generate_ed25519

        return generate_ed25519(tmp_path / f"{name}-{uuid.uuid4().hex[:6]}", "test")["public_key"]

    @staticmethod
    def new_name() -> str:
        return f"conf-{uuid.uuid4().hex[:8]}"

    def boot(self, provider: Provider, name: str | None = None,
             **options: Any) -> dict[str, Any]:
        name = name or self.new_name()
        (outcome,) = provider.boot(names=name, image=self.image, flavor=self.flavor,
                                   wait=True, timeout=self.timeout, **options)
        assert outcome.ok, f"boot failed: {outcome.error}"
        return outcome.result

    @pytest.fixture(scope="class")
    @classmethod
    def shared_vms(cls) -> dict[tuple, dict[str, Any]]:
        """The class's shared VMs, by the test cloud they live in."""
        return {}

    @staticmethod
    def cloud_identity(provider: Provider) -> tuple:
        """Which test cloud ``provider`` talks to, as far as the suite can tell: the cloud's
        name and its home (a function-scoped ``cloud`` gives each test a home of its own)."""
        return (provider.name, os.environ.get("CLOUDMESH_CONFIG_DIR"), os.environ.get("HOME"))

    @staticmethod
    def still_running(provider: Provider, vm: dict[str, Any]) -> dict[str, Any] | None:
        """``vm``'s fresh record if the test cloud still runs that very VM, else None."""
        (outcome,) = provider.infos([vm["name"]])
        if outcome.ok and outcome.result["id"] == vm["id"] and \
                outcome.result["status"] == "running":
            return outcome.result
        return None

    def shared(self, provider: Provider, shared_vms: dict[tuple, dict[str, Any]],
               slot: str = "") -> dict[str, Any]:
        """The class's running VM ``slot`` in this test cloud (the cloud's name and its
        home): booted on first use, and again if the test cloud no longer runs it."""
        where = (*self.cloud_identity(provider), slot)
        vm = shared_vms.get(where)
        if vm is not None:
            fresh = self.still_running(provider, vm)
            if fresh is not None:
                return fresh
        shared_vms[where] = vm = self.boot(provider)
        return vm

    @pytest.fixture
    def shared_vm(self, provider: Provider,
                  shared_vms: dict[tuple, dict[str, Any]]) -> dict[str, Any]:
        """A running VM for tests that only read: booted once per class and test cloud,
        booted again if a test cloud no longer has it."""
        return self.shared(provider, shared_vms)

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

    def test_list_filters_by_names(self, provider: Provider, shared_vm: dict[str, Any],
                                   shared_vms: dict[tuple, dict[str, Any]]) -> None:
        first, second = shared_vm, self.shared(provider, shared_vms, "second")
        listed = provider.list(names=first["name"])
        assert [r["name"] for r in listed] == [first["name"]]
        assert second["name"] in [r["name"] for r in provider.list()]

    def test_list_updates_cache(self, provider: Provider, shared_vm: dict[str, Any]) -> None:
        vm = shared_vm
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
        before = self.reboot_count(provider.name, vm)
        record = self.act(provider, "reboot", vm["name"])
        assert record["status"] in ("rebooting", "running", "booting")
        assert self.wait(provider, vm["name"], "running")["status"] == "running"
        after = self.reboot_count(provider.name, vm)
        assert after == before + 1, (
            f"the test cloud saw {after - before} reboots of {vm['name']}, not 1")

    def test_suspend_resume_or_not_supported(self, provider: Provider,
                                             request: pytest.FixtureRequest) -> None:
        if not provider.provider.supports("suspend"):
            # nothing changes: the refusal is tried on the class's shared VM
            vm = request.getfixturevalue("shared_vm")
            with pytest.raises(NotSupported) as raised:
                provider.act("suspend", vm["name"])
            assert provider.kind in str(raised.value)
            return
        vm = self.boot(provider)
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

    def test_one_failure_does_not_hide_the_others(self, provider: Provider,
                                                   shared_vm: dict[str, Any]) -> None:
        vm = shared_vm
        missing = self.new_name()
        outcomes = provider.infos([vm["name"], missing])
        assert outcomes[0].ok and outcomes[0].result["name"] == vm["name"]
        assert isinstance(outcomes[1].error, NotFound)

    def test_boot_refuses_an_existing_name(self, provider: Provider,
                                           shared_vm: dict[str, Any]) -> None:
        vm = shared_vm
        before = len(provider.list())
        (outcome,) = provider.boot(names=vm["name"], image=self.image, flavor=self.flavor)
        assert isinstance(outcome.error, UsageError)
        assert len(provider.list()) == before

    def test_wait_times_out(self, provider: Provider, shared_vm: dict[str, Any]) -> None:
        vm = shared_vm
        (outcome,) = provider.wait(vm["name"], "stopped", timeout=0.3, interval=0.1)
        assert isinstance(outcome.error, WaitTimeout)

    def test_invalid_name_is_refused_before_any_request(self, provider: Provider) -> None:
        before = len(provider.list())
        for bad in ("Bad Name", "-leading-dash", "x" * 300, "semi;colon"):
            with pytest.raises(UsageError):
                provider.boot(names=bad, image=self.image, flavor=self.flavor)
        assert len(provider.list()) == before

    def test_parallel_boots_of_one_name_make_one_vm(self, provider: Provider) -> None:
        import threading

        name, results = self.new_name(), []

        def boot_it() -> None:
            results.extend(Provider(provider.name).boot(names=name, image=self.image,
                                                         flavor=self.flavor))

        threads = [threading.Thread(target=boot_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.timeout)
        assert len(results) == 4
        assert sum(o.ok for o in results) == 1, [str(o.error) for o in results]
        assert all(isinstance(o.error, UsageError) for o in results if not o.ok)
        live = [r for r in provider.list() if r["name"] == name
                and r["status"] not in ("terminated", "deleting")]
        assert len(live) == 1

    def test_resolve_image_takes_the_suite_image(self, provider: Provider) -> None:
        image = provider.provider.resolve_image(self.image)
        assert_record(image, IMAGE_FIELDS, provider.name, provider.kind)

    def test_features_say_yes_or_why_not(self, provider: Provider) -> None:
        from cloudmesh.compute.abc import FEATURES

        row = type(provider.provider).features()
        assert set(row) == set(FEATURES)
        # each a Feature: supported, or not with the reason (never "no: no: ...")
        assert all(v.supported == (v.reason is None) and not str(v.reason).startswith("no:")
                   for v in row.values()), row
        assert provider.provider.key_delivery in ("keypair", "inject", None)
        assert provider.provider.default_username

    #: a value for each boot option a kind may declare unsupported, and the words its
    #: warning names it by
    UNSUPPORTED_BOOT_OPTIONS = {
        "secgroups": ("web", "--secgroup"), "public_ip": (False, "public IP"),
        "network": ("conformance-net", "network"), "subnet": ("conformance-subnet", "subnet"),
        "zone": ("conformance-zone", "zone"), "disk_gb": (20, "disk_gb"),
        "userdata": ("#cloud-config\n", "userdata"), "metadata": ({"suite": "yes"}, "metadata"),
    }

    def test_unsupported_boot_options_are_warnings(self, provider: Provider) -> None:
        unsupported = {option: value for option, value in self.UNSUPPORTED_BOOT_OPTIONS.items()
                       if not provider.provider.supports(option)}
        if not unsupported:
            pytest.skip(f"{provider.kind} honours every boot option")
        warnings: list[str] = []
        quiet = Provider(provider.name, warn=warnings.append)
        vm = self.boot(quiet, **{option: value for option, (value, _) in unsupported.items()})
        for option, (_, words) in unsupported.items():
            # a kind without the secgroup verbs need not list "secgroups" with a reason
            reason = provider.provider.unsupported.get(option, "")
            assert any(words in w and reason in w for w in warnings), (
                f"no warning that {option} is ignored ({reason!r}): {warnings}")
        if "secgroups" in unsupported:
            assert vm["secgroups"] == []

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

    def test_check_reports_the_cloud_reachable(self, provider: Provider) -> None:
        from cloudmesh.compute.testing.fixtures import run_in_process

        detail = provider.check()
        assert isinstance(detail, str) and detail.strip(), detail
        result = run_in_process("check", provider.name, "--output=json")
        assert result.returncode == 0, result
        (row,) = result.json()
        assert (row["cloud"], row["status"]) == (provider.name, "ok"), row

    def test_check_refuses_bad_credentials(self, provider: Provider, tmp_path: Path) -> None:
        """The cloud's entry with the credentials bad_credentials() gives, written to a
        cloudmesh.yaml of its own (the cloud's home stays as it was)."""
        import copy

        from cloudmesh.compute.config import Config
        from cloudmesh.compute.errors import CredentialError
        from cloudmesh.compute.testing.fixtures import run_in_process, write_config

        bad = self.bad_credentials(copy.deepcopy(provider.spec))
        config_dir = write_config(tmp_path / "bad-credentials", {"refused": bad}).parent
        with pytest.raises(CredentialError):
            Provider("refused", config=Config(config_dir / "cloudmesh.yaml")).check()
        result = run_in_process("check", "refused", "--output=json",
                                env={"CLOUDMESH_CONFIG_DIR": str(config_dir)})
        assert result.returncode == 4, result
        (row,) = result.json()
        assert row["cloud"] == "refused" and row["status"] != "ok", row

    # ---- keys ----------------------------------------------------------------------
    def test_key_upload_is_idempotent_and_refuses_another_key(self, provider: Provider,
                                                              tmp_path: Path) -> None:
        from cloudmesh.compute.keys import fingerprint

        if not provider.provider.supports("keys"):
            with pytest.raises(NotSupported):
                provider.keys()
            return
        name = self.new_name()
        public = self.new_public_key(tmp_path, name)
        provider.state.key_put({"name": name, "type": "ssh-ed25519",
                                "fingerprint": fingerprint(public), "public_key": public})
        uploaded = provider.upload_key(name)
        assert uploaded["action"] == "uploaded" and uploaded["fingerprint"] == fingerprint(public)
        listed = {k["name"]: k for k in provider.keys()}
        assert listed[name]["fingerprint"] == fingerprint(public)
        assert_record(listed[name], ("name", "fingerprint", "cloud", "kind"), provider.name,
                      provider.kind)
        assert provider.upload_key(name)["action"] == "unchanged"
        other = self.new_public_key(tmp_path, name)
        provider.state.key_put({"name": name, "type": "ssh-ed25519",
                                "fingerprint": fingerprint(other), "public_key": other})
        with pytest.raises(CloudError) as raised:
            provider.upload_key(name)
        assert fingerprint(public) in str(raised.value) and fingerprint(other) in str(raised.value)
        (deleted,) = provider.delete_keys(name)
        assert deleted.ok, deleted.error
        assert name not in {k["name"] for k in provider.keys()}
        (again,) = provider.delete_keys(name)
        assert isinstance(again.error, NotFound)

    # ---- security groups -----------------------------------------------------------
    def test_secgroup_upload_reconciles(self, provider: Provider) -> None:
        from cloudmesh.compute.secgroups import parse_rule, rule_key

        if not provider.provider.supports("secgroups"):
            with pytest.raises(NotSupported):
                provider.secgroups()
            return
        name = self.new_name()
        ssh, web = parse_rule("tcp", "22", "0.0.0.0/0"), parse_rule("tcp", "80:443", "10.0.0.0/8")
        provider.state.secgroup_put(name, "conformance", [ssh, web])
        dry = provider.upload_secgroup(name, dryrun=True)
        assert dry["created"] and name not in {g["name"] for g in provider.secgroups()}
        report = provider.upload_secgroup(name)
        assert report["created"] and {rule_key(r) for r in report["added"]} == {
            rule_key(ssh), rule_key(web)}

        def ingress() -> set:
            (group,) = [g for g in provider.secgroups() if g["name"] == name]
            return {rule_key(r) for r in group["rules"] if r["direction"] == "ingress"}

        assert ingress() == {rule_key(ssh), rule_key(web)}
        # drift: a rule added on the cloud, a rule removed there
        extra = parse_rule("udp", "53", "192.168.0.0/16")
        provider.call("secgroup_add_rules", name, [extra])
        provider.call("secgroup_remove_rules", name, [web])
        report = provider.upload_secgroup(name)
        assert not report["created"]
        assert [rule_key(r) for r in report["added"]] == [rule_key(web)]
        assert [rule_key(r) for r in report["extra"]] == [rule_key(extra)]
        assert ingress() == {rule_key(ssh), rule_key(web), rule_key(extra)}  # extra left
        report = provider.upload_secgroup(name, prune=True)
        assert [rule_key(r) for r in report["removed"]] == [rule_key(extra)]
        assert ingress() == {rule_key(ssh), rule_key(web)}
        (deleted,) = provider.delete_secgroups(name)
        assert deleted.ok, deleted.error
        assert name not in {g["name"] for g in provider.secgroups()}
