"""The oracle provider through cms against the OCI fake (tests/fakes/oracle), driven by the
real oci SDK with a throwaway API signing key: the conformance suite, the fault suite, and
what is particular to OCI (paging, discovery, key injection, launch failures, boot
volumes, network security groups, credentials)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

pytest.importorskip("oci")

from cloudmesh.compute.errors import (CloudError, CredentialError, NotFound,  # noqa: E402
                                      UsageError)
from cloudmesh.compute.provider import Provider  # noqa: E402
from cloudmesh.compute.testing import ComputeProviderSuite  # noqa: E402
from conftest import run_cms, write_config  # noqa: E402
from fakes.oracle import OciFake  # noqa: E402
from fakes.oracle.harness import cloud_spec, delivered_keys, make_api_key  # noqa: E402

IMAGE = "Oracle-Linux-9.4-2024.09.30-0"
UBUNTU = "Canonical-Ubuntu-24.04-2024.10.09-0"
FLAVOR = "VM.Standard.E2.1.Micro"


@pytest.fixture
def fake():
    server = OciFake(delay=0.1, page_size=4)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api_key(tmp_path: Path) -> tuple[Path, str]:
    return make_api_key(tmp_path / "oci")


@pytest.fixture
def oracle(cms_home: Path, fake: OciFake, api_key) -> str:
    """A configured cloud 'oci' of kind oracle on the fake, the default cloud."""
    key_file, fingerprint = api_key
    fake.api_keys = {fingerprint}
    write_config(cms_home, {"oci": cloud_spec(fake.url, key_file, fingerprint)}, default="oci")
    return "oci"


class TestOracleConformance(ComputeProviderSuite):
    image = IMAGE
    flavor = FLAVOR
    timeout = 30
    interval = 0.05

    @pytest.fixture
    def cloud(self, oracle: str, fake: OciFake) -> str:
        self._fake = fake  # delivered_keys reads the fake's state
        yield oracle

    def delivered_keys(self, provider, vm) -> list[str]:
        instance = self._fake.instances[vm["id"]]
        keys = delivered_keys(instance)
        return sorted({k for found in keys.values() for k in found})
