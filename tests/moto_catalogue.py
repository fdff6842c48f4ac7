"""A small moto catalogue for tests that list images or flavors but are not about the
catalogue's size: moto (its server runs in the test process, see conftest.moto_server)
builds its whole catalogue, about 1,400 instance types and 1,300 images, on every
describe request; on a loaded machine one full listing takes seconds, past a cm.timeout.

``small_moto_catalogue`` leaves moto the t3 instance types and one image (the AMI the
tests boot). The instance types come back after the test (monkeypatch); the images with
the next test's reset of moto (the ``moto`` fixture)."""

from __future__ import annotations

import pytest

from conftest import MOTO_UBUNTU_AMI


def trim_moto_catalogue(monkeypatch: pytest.MonkeyPatch,
                        flavor_prefixes: tuple[str, ...] = ("t3.",), images: int = 1,
                        region: str = "us-east-1") -> None:
    """Leave moto the instance types named FLAVOR_PREFIXES* and IMAGES images in REGION:
    MOTO_UBUNTU_AMI and the first others by id."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instance_types import InstanceTypeBackend

    monkeypatch.setattr(InstanceTypeBackend, "instance_types", [
        t for t in InstanceTypeBackend.instance_types
        if t["InstanceType"].startswith(flavor_prefixes)])
    known = ec2_backends[DEFAULT_ACCOUNT_ID][region].amis
    kept = {MOTO_UBUNTU_AMI, *sorted(set(known) - {MOTO_UBUNTU_AMI})[:images - 1]}
    for image in set(known) - kept:
        del known[image]


@pytest.fixture
def small_moto_catalogue(moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto (reset) with the t3 instance types and the one AMI the tests boot; its URL."""
    trim_moto_catalogue(monkeypatch)
    return moto
