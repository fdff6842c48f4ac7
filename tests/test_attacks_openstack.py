"""Issue 21 on the openstack kind: hostile servers that answer as Nova and Neutron do, but
hostile. 127.0.0.2 stands for a host nobody configured. Each test asserts that the harm
did not happen: no token reached 127.0.0.2, the command ended within its deadline with
exit code 1 and a one-line reason, vm-1 kept its address. cm.timeout bounds each request
(a dripped answer ends), never a whole list: a slow account with many pages lists; an
endless list stops at the page limit (lowered in this process for the test)."""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cloudmesh.compute.provider import Provider
from cloudmesh.compute.testing.fixtures import write_config
from conftest import cms_here, run_cms
from fakes.openstack import FakeOpenStack
from hostile import send_json, unconfigured_host

pytest.importorskip("openstack")

TIMEOUT = 3  # cm.timeout of the hostile clouds: every command must end near it


class HostileNova(FakeOpenStack):
    """Nova whose server list pages as ``pages`` says: ``elsewhere`` (the next link on
    another host), ``endless`` (each page one new server and a new next link), ``repeat``
    (the same next link again and again), ``slow`` (``SLOW_PAGES`` pages of one server, each
    answered ``SLOW_SECONDS`` late), ``drip`` (the first page's answer a byte at a time)."""

    pages = "elsewhere"
    elsewhere = ""
    SLOW_PAGES, SLOW_SECONDS = 5, 0.4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_requests = 0  # server list pages asked for

    def drip_seconds(self, method: str, path: str) -> float:
        return 0.2 if self.pages == "drip" and "/servers/detail" in path else 0.0

    def _server_list(self, mv, query, detail: bool):
        status, result = super()._server_list(mv, query, detail)
        self.list_requests += 1
        base = f"{self.public_url}/compute/v2.1/servers/detail"
        if self.pages == "elsewhere":
            # a page with a server: the SDK follows a next link only after a full page
            result["servers"] = [self._phantom(str(uuid.uuid4()))]
            result["servers_links"] = [{"rel": "next", "href":
                                        f"{self.elsewhere}/compute/v2.1/servers/detail"
                                        "?marker=x"}]
        elif self.pages == "endless":
            fake_id = str(uuid.uuid4())
            result["servers"] = [self._phantom(fake_id)]
            result["servers_links"] = [{"rel": "next", "href": f"{base}?marker={fake_id}"}]
        elif self.pages == "repeat":
            result["servers"] = [self._phantom("11111111-1111-1111-1111-111111111111")]
            result["servers_links"] = [{"rel": "next", "href": f"{base}?marker=same"}]
        elif self.pages == "slow":
            number = self.list_requests
            time.sleep(self.SLOW_SECONDS)
            result["servers"] = [self._phantom(f"00000000-0000-0000-0000-{number:012d}")]
            result["servers_links"] = [{"rel": "next", "href": f"{base}?marker=page-{number}"}
                                       ] if number < self.SLOW_PAGES else []
        return status, result

    def _page(self, items, query, key, url, max_limit):
        if self.pages in ("endless", "repeat", "slow") and "servers" in url:
            return [], []  # any marker: the hostile list makes its own page
        return super()._page(items, query, key, url, max_limit)

    def _phantom(self, server_id: str) -> dict:
        return {"id": server_id, "name": f"ghost-{server_id[:8]}", "status": "ACTIVE",
                "addresses": {}, "metadata": {}, "flavor": {"original_name": "m1.tiny"},
                "image": {"id": "x"}, "created": "2024-01-01T00:00:00Z"}


@pytest.fixture
def hostile(cms_home: Path):
    fake = HostileNova(secrets.token_urlsafe(16), build_seconds=0.1, delete_seconds=0.05,
                       action_seconds=0.05)
    fake.start()
    try:
        # 127.0.0.2, a host nobody configured: it notes every request it gets
        with unconfigured_host(lambda h: send_json(h, {"servers": []})) as recorder:
            fake.elsewhere = recorder.url
            configure(cms_home, fake, TIMEOUT)
            yield fake, recorder
    finally:
        fake.stop()


def configure(cms_home: Path, fake: FakeOpenStack, timeout: float) -> None:
    """The cloud ``evil`` on the hostile fake, with cm.timeout ``timeout``."""
    spec = {"cm": {"kind": "openstack", "timeout": timeout, "retries": 0},
            "credentials": {"auth_url": fake.auth_url, "username": "demo",
                            "password": fake.password, "project_name": "demo",
                            "region_name": "RegionOne"},
            "default": {"image": "ubuntu-24.04", "flavor": "m1.small"}}
    write_config(cms_home, {"evil": spec}, default="evil")


def one_line_failure(result, started: float) -> str:
    elapsed = time.monotonic() - started
    assert result.code == 1, result
    assert elapsed < TIMEOUT + 10, f"took {elapsed:.1f} s"
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) <= 2 and "Traceback" not in result.err, result.err
    return result.err


def test_a_next_link_to_another_host_gets_no_token(hostile):
    fake, recorder = hostile
    started = time.monotonic()
    result = cms_here("vm", "list", "--cloud=evil", "--refresh")
    err = one_line_failure(result, started)
    assert "refused to send credentials to http://127.0.0.2" in err
    assert not recorder.seen  # not a byte reached the other host


def test_endless_new_next_links_stop_at_the_page_limit(hostile, monkeypatch):
    from cloudmesh.compute.kit import paging

    monkeypatch.setattr(paging, "MAX_PAGES", 25)  # 10,000 in use: too many for a test
    fake, _ = hostile
    fake.pages = "endless"
    started = time.monotonic()
    err = one_line_failure(cms_here("vm", "list", "--cloud=evil", "--refresh"), started)
    assert "named more than 25 pages; stopped" in err, err
    assert fake.list_requests == 25  # it followed every page up to the limit, no more


def test_a_repeated_page_stops_the_list(hostile):
    fake, _ = hostile
    fake.pages = "repeat"
    started = time.monotonic()
    err = one_line_failure(cms_here("vm", "list", "--cloud=evil", "--refresh"), started)
    # the SDK notices a marker asked for twice; cms any link asked for twice
    assert "repeated page link" in err or "pagination loop" in err, err
    assert fake.list_requests <= 3


def test_cm_timeout_bounds_each_page_not_the_whole_list(hostile, cms_home: Path):
    """Five pages of 0.4 s each take 2 s in all, twice cm.timeout (1 s): a large
    account lists, since each request is on time."""
    fake, _ = hostile
    configure(cms_home, fake, 1)
    fake.pages = "slow"
    started = time.monotonic()
    result = cms_here("vm", "list", "--cloud=evil", "--refresh", "--output=json")
    seconds = time.monotonic() - started
    assert result.code == 0, result
    assert seconds > 2, f"the pages came faster than the test meant ({seconds:.1f} s)"
    assert sorted(vm["id"] for vm in result.json()) == [
        f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 6)]
    assert fake.list_requests == 5


def test_a_dripped_answer_ends_at_cm_timeout(hostile, cms_home: Path):
    """Each byte of the page comes 0.2 s after the last, well within a read timeout:
    only a deadline on the whole request ends it. A process: it must exit while its
    request is still stuck on the dripping answer."""
    fake, _ = hostile
    configure(cms_home, fake, 1)
    fake.pages = "drip"
    started = time.monotonic()
    err = one_line_failure(run_cms("vm", "list", "--cloud=evil", "--refresh", timeout=60),
                           started)
    assert time.monotonic() - started < 10
    assert "no answer from cloud 'evil' (GET /compute/v2.1/servers/detail) within 1 s " \
           "(cm.timeout)" in err, err


@pytest.mark.parametrize("description", ["cms-owner={vm0}", "cms:server={vm0}"])
def test_a_floating_ip_labelled_for_another_vm_stays(hostile, description: str):
    """vm-1's floating IP says it belongs to vm-0 (it moved, or anyone wrote so):
    deleting vm-0 releases vm-0's own address only."""
    fake, _ = hostile
    fake.pages = "normal"
    provider = Provider("evil")
    for name in ("vm-0", "vm-1"):
        (outcome,) = provider.boot(names=name, image="ubuntu-24.04", flavor="m1.small")
        assert outcome.ok, outcome.error
    vm0, = fake.server_by_name("vm-0")
    vm1, = fake.server_by_name("vm-1")
    (theirs,) = [f for f in fake.floatingips.values()
                 if fake.ports[f["port_id"]]["device_id"] == vm1["id"]]
    theirs["description"] = description.format(vm0=vm0["id"])
    address = theirs["floating_ip_address"]
    result = cms_here("vm", "delete", "vm-0", "--yes", "--cloud=evil")
    assert result.code == 0, result
    assert theirs["id"] in fake.floatingips, "vm-1's floating IP was released"
    assert provider.info("vm-1")["public_ips"] == [address]
    assert not [f for f in fake.floatingips.values() if f["id"] != theirs["id"]]


def test_a_floating_ip_of_an_earlier_cms_is_released_with_its_server(hostile):
    """Earlier cms versions described their floating IPs ``cms:server=<id>``: such an
    address, on that server's port, goes with the server; a boot writes only the kit's
    ``cms-owner=<id>``."""
    fake, _ = hostile
    fake.pages = "normal"
    provider = Provider("evil")
    (outcome,) = provider.boot(names="vm-0", image="ubuntu-24.04", flavor="m1.small")
    assert outcome.ok, outcome.error
    vm0, = fake.server_by_name("vm-0")
    (ours,) = fake.floatingips.values()
    assert ours["description"] == f"cms-owner={vm0['id']}"
    ours["description"] = f"cms:server={vm0['id']}"
    result = cms_here("vm", "delete", "vm-0", "--yes", "--cloud=evil")
    assert result.code == 0, result
    assert ours["id"] not in fake.floatingips, "the earlier cms's floating IP was left"
