"""A small catalogue for moto's EC2, for tests that need a few images and instance types
rather than moto's whole catalogue.

moto builds every region's backend with ~1,400 AMIs (44 of its own and the region's
"latest" ones), builds them again for each region a reset re-initialises, and answers
DescribeInstanceTypes with ~1,400 types: one image or flavor list costs seconds of CPU
in moto and in botocore, and ``--region=all`` builds all of moto's ~38 regions.
``small_moto_catalog`` gives moto, for one test, only the AMIs and instance-type families
listed here (moto's own entries, unchanged), and resets moto at the end while the small
catalogue still holds, so that the next test's reset does not rebuild those regions with
the whole one. The test still talks to moto through the real SDK; the full catalogue
stays in test_aws's conformance suite (a field-by-field mapping of every type and image
moto knows).
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from conftest import MOTO_UBUNTU_AMI, _moto_api

#: the AMIs moto keeps: the tests' Ubuntu image (MOTO_UBUNTU_AMI) and a few of moto's others
KEPT_AMIS = (MOTO_UBUNTU_AMI, "ami-03cf127a", "ami-12c6146b")
#: the instance-type families moto keeps (t3.micro is the tests' flavor; m5.large a second)
KEPT_FAMILIES = ("t2", "t3", "m5")


@pytest.fixture
def small_moto_catalog(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto (its endpoint) with only KEPT_AMIS and the KEPT_FAMILIES instance types."""
    from moto.ec2.models import amis
    from moto.ec2.models.instance_types import InstanceTypeBackend

    kept = [a for a in amis.AMIS if a["ami_id"] in KEPT_AMIS]
    assert {a["ami_id"] for a in kept} == set(KEPT_AMIS), "moto's catalogue changed"
    monkeypatch.setattr(amis, "AMIS", kept)
    # its presence alone makes moto skip the per-region 'latest' AMI files; the file
    # itself is read only when moto is imported, long before this
    monkeypatch.setenv("MOTO_AMIS_PATH", os.devnull)
    monkeypatch.setattr(InstanceTypeBackend, "instance_types", [
        t for t in InstanceTypeBackend.instance_types
        if t["InstanceType"].split(".")[0] in KEPT_FAMILIES])
    yield moto
    _moto_api(moto, "reset")  # rebuilds this test's regions with the small catalogue
