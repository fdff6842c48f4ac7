"""The fault suite: how a provider behaves when its cloud fails. A provider joins it by
subclassing ``FaultSuite`` with one fixture, ``faulty``, that yields a ``FaultSetup``: a
configured cloud whose endpoint is a ``FaultProxy`` in front of the provider's fake, and
the strings that pick out its list and create requests.

- transient errors on reads are retried (by the SDK or the provider) and the list succeeds;
- a create whose answer is lost after the cloud acted boots exactly one VM;
- a cloud that keeps failing is reported as a CloudError in bounded time;
- --dryrun of every VM mutation sends no request at all.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest

from cloudmesh.compute.errors import CloudError
from cloudmesh.compute.provider import Provider
from cloudmesh.compute.testing.faultproxy import FaultProxy


@dataclass
class FaultSetup:
    cloud: str
    proxy: FaultProxy
    list_match: str       # occurs in the request that lists VMs
    create_match: str     # occurs in the request that creates a VM
    transient: Callable[[], dict]  # status and body of a transient error (503, throttling)


class FaultSuite:
    image: str = ""
    flavor: str = ""
    bound_seconds: float = 60

    @pytest.fixture
    def faulty(self) -> FaultSetup:  # pragma: no cover - every subclass provides its own
        raise NotImplementedError("a provider's fault tests must provide a 'faulty' fixture")

    def test_list_survives_transient_errors(self, faulty: FaultSetup) -> None:
        faulty.proxy.add("status", faulty.list_match, times=2, **faulty.transient())
        assert isinstance(Provider(faulty.cloud).list(), list)
        answered = [s.answered for s in faulty.proxy.requests(faulty.list_match)]
        assert answered[:2] == ["status", "status"] and answered[-1] == "forwarded"

    def test_list_survives_a_dropped_connection(self, faulty: FaultSetup) -> None:
        faulty.proxy.add("drop", faulty.list_match, times=1)
        assert isinstance(Provider(faulty.cloud).list(), list)

    def test_create_with_a_lost_answer_boots_once(self, faulty: FaultSetup) -> None:
        name = f"fault-{uuid.uuid4().hex[:6]}"
        faulty.proxy.add("lose_answer", faulty.create_match, times=1)
        provider = Provider(faulty.cloud)
        (outcome,) = provider.boot(names=name, image=self.image, flavor=self.flavor)
        assert outcome.ok, outcome.error
        live = [r for r in provider.list() if r["name"] == name
                and r["status"] not in ("terminated", "deleting")]
        assert len(live) == 1
        assert len(faulty.proxy.requests(faulty.create_match)) == 1

    def test_persistent_failure_is_reported_in_bounded_time(self, faulty: FaultSetup) -> None:
        faulty.proxy.add("status", faulty.list_match, times=1000, **faulty.transient())
        started = time.monotonic()
        with pytest.raises(CloudError):
            Provider(faulty.cloud).list()
        assert time.monotonic() - started < self.bound_seconds

    def test_dryrun_sends_no_request(self, faulty: FaultSetup) -> None:
        provider = Provider(faulty.cloud)
        faulty.proxy.clear()
        provider.boot(names="dry[1-2]", image=self.image, flavor=self.flavor, dryrun=True)
        for verb in ("start", "stop", "reboot", "destroy"):
            provider.act(verb, "dry1", dryrun=True)
        assert faulty.proxy.requests() == []
