"""The conformance suite against real clouds (``make test-live``; issue 23).

Runs only with ``CMS_LIVE_CLOUDS=cloud1,cloud2`` naming clouds of the user's own
cloudmesh.yaml (``$CLOUDMESH_CONFIG_DIR`` or ~/.cloudmesh); without it every test here is
skipped and nothing is contacted, and ``make test`` deselects the ``live`` marker anyway.
It costs money: each test boots the cloud's default image and flavor for a few minutes.

Each test works in its own config directory holding a copy of that one cloud's entry (the
vendor's own files, such as ~/.aws, stay readable: HOME is kept), and after each test
every VM it booted (named ``conf-XXXXXXXX`` or ``cmslive-vm-N``, and absent before the
test) is deleted and waited for, whatever the test's outcome. The SSH tests need the
suite's loopback SSH server and are skipped here: ``cms check --deep`` is the SSH check
on a real cloud.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from cloudmesh.compute.testing import ComputeProviderSuite
from cloudmesh.compute.testing.fixtures import write_config

LIVE_CLOUDS = [c.strip() for c in os.environ.get("CMS_LIVE_CLOUDS", "").split(",") if c.strip()]
#: names of the VMs the suite boots here (new_name, and generated names of user cmslive)
SUITE_VM = re.compile(r"^(conf-[0-9a-f]{8}|cmslive-vm-\d+)$")

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not LIVE_CLOUDS,
                                 reason="CMS_LIVE_CLOUDS is not set: no real cloud is used")]


def users_cloud(name: str) -> dict[str, Any]:
    """The user's own cloudmesh.yaml entry for ``name`` (a copy)."""
    import copy

    from cloudmesh.compute.config import Config

    config = Config()
    clouds = config.clouds() if config.exists else {}
    if name not in clouds:
        pytest.fail(f"CMS_LIVE_CLOUDS names '{name}', which is not a cloud of "
                    f"{config.path}", pytrace=False)
    return copy.deepcopy(clouds[name])


@pytest.fixture(scope="module")
def live_entries() -> dict[str, dict[str, Any]]:
    # read before any test moves CLOUDMESH_CONFIG_DIR
    return {name: users_cloud(name) for name in LIVE_CLOUDS}


@pytest.mark.parametrize("live_cloud", LIVE_CLOUDS or ["unset"])
class TestLiveCloud(ComputeProviderSuite):
    timeout = 900
    interval = 5

    @pytest.fixture
    def cloud(self, live_cloud: str, live_entries: dict, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch):
        from cloudmesh.compute.provider import Provider

        entry = live_entries[live_cloud]
        defaults = entry.get("default") or {}
        self.image = str(defaults.get("image") or "")
        self.flavor = str(defaults.get("flavor") or defaults.get("size") or "")
        if not (self.image and self.flavor):
            pytest.fail(f"cloud '{live_cloud}' needs default.image and default.flavor in "
                        "cloudmesh.yaml for the live suite", pytrace=False)
        config_dir = tmp_path / "cloudmesh"
        write_config(config_dir, {live_cloud: entry}, user="cmslive")
        monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(config_dir))
        provider = Provider(live_cloud)
        before = {vm.get("id") for vm in provider.list()}
        try:
            yield live_cloud
        finally:  # the same cleanup guarantee as cms check --deep: whatever happened
            self._remove_booted(Provider(live_cloud), before)

    def _remove_booted(self, provider, before: set) -> None:
        mine = [vm["name"] for vm in provider.list()
                if vm.get("id") not in before and SUITE_VM.match(vm["name"])
                and vm.get("status") != "terminated"]
        if not mine:
            return
        provider.act("destroy", mine)
        left = [o.item for o in provider.wait(mine, "terminated", timeout=self.timeout)
                if not o.ok]
        assert not left, f"the live suite could not remove {left} from {provider.name}: " \
                         f"delete them with 'cms vm delete NAME --cloud={provider.name}'"

    # the test cloud's own state is a real account's here: what only a fake can show
    def delivered_keys(self, provider, vm: dict) -> list[str]:
        pytest.skip("a real cloud does not show the keys it delivered; "
                    "cms check --deep proves SSH there")

    def reboot_count(self, cloud_name: str, vm: dict) -> int:
        pytest.skip("a real cloud keeps no reboot counter the suite can read")

    def bad_credentials(self, spec: dict) -> dict:
        secretish = re.compile(r"secret|password|token|key|credential", re.IGNORECASE)
        changed = False
        for field in list((spec.get("credentials") or {})):
            if secretish.search(field) and isinstance(spec["credentials"][field], str):
                spec["credentials"][field] = "cms-live-refused-" + field
                changed = True
        if not changed:
            pytest.skip(f"no secret field to spoil in {spec.get('cm', {}).get('kind')}'s "
                        "credentials")
        return spec

    @pytest.fixture
    def ssh_vm(self):
        pytest.skip("the SSH tests need a loopback SSH server; use cms check --deep on a "
                    "real cloud")
