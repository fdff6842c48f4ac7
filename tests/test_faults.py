"""Faults from the cloud, through a fault-injecting proxy in front of moto's EC2: cms
retries what is safe to retry with backoff in bounded time, never boots a VM twice, and
reports the rest in one line. --dryrun sends nothing to the cloud."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import aws_cloud_spec, cms_here, ec2_client, write_config
from cloudmesh.compute.testing.faultproxy import FaultProxy, ec2_error
from cloudmesh.compute.testing.faults import FaultSetup, FaultSuite
from test_cli import assert_one_line_error


@pytest.fixture
def proxy(moto: str) -> FaultProxy:
    server = FaultProxy(moto)
    server.url = server.start()
    yield server
    server.stop()


@pytest.fixture
def cloud(proxy: FaultProxy, cms_home: Path, moto: str) -> str:
    """Cloud 'f' reaches moto through the proxy, with a short request timeout."""
    spec = aws_cloud_spec(proxy.url)
    spec["cm"].update(timeout=2, retries=3)
    write_config(cms_home, {"f": spec, "direct": aws_cloud_spec(moto)}, default="f")
    return "f"


def instances(moto: str) -> list[dict]:
    return [i for r in ec2_client(moto).describe_instances()["Reservations"]
            for i in r["Instances"]]


@pytest.mark.parametrize("fault", [
    dict(kind="status", status=503, body=ec2_error("Unavailable", "try later")),
    dict(kind="status", status=500, body=ec2_error("InternalError", "oops")),
    dict(kind="status", status=503, body=ec2_error("RequestLimitExceeded", "slow down")),
    dict(kind="status", status=400, body=ec2_error("Throttling", "Rate exceeded")),
    dict(kind="drop"),
    dict(kind="hang", seconds=3),
])
def test_reads_are_retried(cloud: str, proxy: FaultProxy, fault: dict) -> None:
    proxy.add(match="Action=DescribeInstances", times=2, **fault)
    result = cms_here("vm", "list", "--output=json")
    assert result.code == 0, result
    assert result.json() == []
    tried = proxy.requests("Action=DescribeInstances")
    assert [s.answered for s in tried][:2] == [fault["kind"]] * 2
    assert tried[-1].answered == "forwarded"


def test_persistent_failure_is_one_line_in_bounded_time(cloud: str, proxy: FaultProxy) -> None:
    proxy.add("status", "Action=DescribeInstances", times=100, status=500,
              body=ec2_error("InternalError", "the service is down"))
    started = time.monotonic()
    result = cms_here("vm", "list")
    elapsed = time.monotonic() - started
    assert_one_line_error(result, 1, "InternalError", "the service is down")
    assert len(proxy.requests("Action=DescribeInstances")) == 4  # 1 + cm.retries
    assert elapsed < 30, elapsed


def test_a_hanging_cloud_times_out(cloud: str, proxy: FaultProxy, cms_home: Path) -> None:
    # one retry, not three: each hanging attempt costs the whole cm.timeout, and the
    # number of attempts is test_persistent_failure_is_one_line_in_bounded_time's subject
    spec = aws_cloud_spec(proxy.url)
    spec["cm"].update(timeout=2, retries=1)
    write_config(cms_home, {"f": spec}, default="f")
    proxy.add("hang", "Action=DescribeInstances", times=100, seconds=8)
    started = time.monotonic()
    result = cms_here("vm", "list")
    elapsed = time.monotonic() - started
    assert_one_line_error(result, 1, "did not answer within 2s")
    assert len(proxy.requests("Action=DescribeInstances")) == 2  # 1 + cm.retries, each hung
    assert elapsed < 40, elapsed


def test_create_with_a_lost_answer_boots_one_vm(cloud: str, proxy: FaultProxy,
                                                moto: str) -> None:
    proxy.add("lose_answer", "Action=RunInstances", times=1)
    result = cms_here("vm", "boot", "--name=once", "--output=json")
    assert result.code == 0, result
    assert [i["InstanceId"] for i in instances(moto)] == [result.json()[0]["id"]]
    assert len(proxy.requests("Action=RunInstances")) == 1  # looked, found it, did not boot again


def test_create_refused_before_it_reached_the_cloud_is_tried_again(cloud: str,
                                                                    proxy: FaultProxy,
                                                                    moto: str) -> None:
    proxy.add("status", "Action=RunInstances", times=2, status=503,
              body=ec2_error("Unavailable", "busy"))
    result = cms_here("vm", "boot", "--name=again", "--output=json")
    assert result.code == 0, result
    assert len(instances(moto)) == 1
    assert [s.answered for s in proxy.requests("Action=RunInstances")] == [
        "status", "status", "forwarded"]


def test_create_error_that_is_not_transient_is_not_retried(cloud: str, proxy: FaultProxy,
                                                           moto: str) -> None:
    proxy.add("status", "Action=RunInstances", times=5, status=400,
              body=ec2_error("InvalidParameterValue", "bad value"))
    result = cms_here("vm", "boot", "--name=nope")
    assert_one_line_error(result, 1, "InvalidParameterValue")
    assert len(proxy.requests("Action=RunInstances")) == 1
    assert instances(moto) == []


def test_multi_cloud_list_with_one_failing(cloud: str, proxy: FaultProxy, moto: str) -> None:
    assert cms_here("vm", "boot", "--name=ok1", "--cloud=direct").code == 0
    proxy.add("status", "Action=DescribeInstances", times=100, status=500,
              body=ec2_error("InternalError", "down"))
    result = cms_here("vm", "list", "--cloud=direct,f", "--output=json")
    assert result.code == 1
    assert [vm["name"] for vm in result.json()] == ["ok1"]
    assert "InternalError" in result.err


def test_dryrun_only_reads(cloud: str, proxy: FaultProxy, moto: str) -> None:
    # a boot's dryrun looks whether the name is taken (the real boot refuses it), so it may
    # read; nothing it sends may change the cloud
    assert cms_here("vm", "boot", "--name=d[1-2]").code == 0
    proxy.clear()
    for argv in (["vm", "boot", "--name=new1", "--dryrun"], ["vm", "boot", "--n=3", "--dryrun"],
                 ["vm", "delete", "d[1-2]", "--dryrun"], ["vm", "stop", "d1", "--dryrun"],
                 ["vm", "start", "d1", "--dryrun"], ["vm", "reboot", "d[1-2]", "--dryrun"]):
        result = cms_here(*argv)
        assert result.code == 0, (argv, result)
        assert "would" in result.err
    actions = {s.body.decode().split("Action=")[1].split("&")[0] for s in proxy.requests()}
    assert actions <= {"DescribeInstances"}, actions
    assert {i["State"]["Name"] for i in instances(moto)} == {"running"}
    taken = cms_here("vm", "boot", "--name=d1", "--dryrun")
    assert taken.code == 2 and "d1" in taken.err, taken


def test_secgroup_upload_dryrun_only_reads(cloud: str, proxy: FaultProxy) -> None:
    cms_here("secgroup", "add", "g1")
    cms_here("secgroup", "rule", "add", "g1", "tcp", "22", "0.0.0.0/0")
    proxy.clear()
    result = cms_here("secgroup", "upload", "g1", "--cloud=f", "--dryrun")
    assert result.code == 0 and "would create" in result.err
    actions = {s.body.decode().split("Action=")[1].split("&")[0] for s in proxy.requests()}
    assert actions == {"DescribeSecurityGroups"}


def test_wide_destructive_expression_needs_confirmation(cloud: str, proxy: FaultProxy,
                                                       moto: str, cms_home: Path) -> None:
    assert cms_here("vm", "boot", "--name=w[01-12]").code == 0
    refused = cms_here("vm", "delete", "w[01-12]")
    assert_one_line_error(refused, 2, "delete 12 VMs on f", "--yes")
    assert {i["State"]["Name"] for i in instances(moto)} == {"running"}
    answered_no = cms_here("vm", "stop", "w[01-12]", stdin="n\n")
    assert answered_no.code == 2  # stdin is not a terminal: still refused
    assert cms_here("set", "confirm_above=20").code == 0
    assert cms_here("vm", "stop", "w[01-12]").code == 0
    assert cms_here("vm", "delete", "w[01-12]", "--yes").code == 0
    assert {i["State"]["Name"] for i in instances(moto)} <= {"shutting-down", "terminated"}


class TestAWSFaultSuite(FaultSuite):
    """The provider-neutral fault suite, joined by AWS through one fixture."""

    image = "ami-1e749f67"
    flavor = "t3.micro"

    @pytest.fixture
    def faulty(self, cloud: str, proxy: FaultProxy) -> FaultSetup:
        return FaultSetup(cloud=cloud, proxy=proxy, list_match="Action=DescribeInstances",
                          create_match="Action=RunInstances",
                          transient=lambda: {"status": 503,
                                             "body": ec2_error("Unavailable", "busy")})


EMPTY_DESCRIBE = (b'<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse '
                  b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>hidden'
                  b'</requestId><reservationSet/></DescribeInstancesResponse>')


def test_retried_create_carries_the_same_client_token(cloud: str, proxy: FaultProxy) -> None:
    """EC2's listing is eventually consistent: after a lost RunInstances answer the new VM
    may not show yet, so cms boots again, and only the ClientToken keeps EC2 from making
    a second VM. Every RunInstances of one boot must carry the same token. (moto does not
    implement ClientToken idempotency, so the instance count says nothing here.)"""
    from urllib.parse import parse_qs

    proxy.add("lose_answer", "Action=RunInstances", times=1)
    proxy.add("status", "Action=DescribeInstances", times=2, status=200, body=EMPTY_DESCRIBE)
    result = cms_here("vm", "boot", "--name=tokened", "--output=json")
    assert result.code == 0, result
    sent = proxy.requests("Action=RunInstances")
    assert len(sent) == 2
    tokens = [parse_qs(s.body.decode())["ClientToken"] for s in sent]
    assert tokens[0] == tokens[1] and len(tokens[0][0]) >= 32


def test_parallel_boots_of_one_name_make_one_vm(cloud: str, moto: str) -> None:
    """Eight cms processes boot the same name at once: one VM; the others say why."""
    import subprocess

    from conftest import CMS

    processes = [subprocess.Popen([CMS, "vm", "boot", "--name=dup", "--cloud=direct"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(8)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    for process in processes:
        process.stdout.close(), process.stderr.close()
    assert sorted(code for code, _ in results) == [0] + [2] * 7, results
    for code, err in results:
        if code:
            assert len(err.strip().splitlines()) == 1
            assert "being booted" in err or "already exists" in err, err
    named = [i for i in instances(moto)
             if {"Key": "Name", "Value": "dup"} in (i.get("Tags") or [])]
    assert len(named) == 1


# ---- the FaultProxy itself (issue 20: a provider author's traps) -----------------------
@pytest.fixture
def rest_api():
    """A tiny REST API at http://127.0.0.1:P/v1 that answers every request with its own
    method and path, so the tests see what reached it."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        # headers and body are two writes: without this the body waits for the client's
        # delayed ACK (40 ms an answer)
        disable_nagle_algorithm = True
        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            found = self.path.startswith("/v1/")
            payload = json.dumps({"method": self.command, "path": self.path}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def call(url: str, method: str = "GET") -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_the_proxy_keeps_the_endpoints_path_and_stops_at_once(rest_api: str) -> None:
    proxy = FaultProxy(rest_api)
    url = proxy.start()
    assert url.endswith("/v1") and url != rest_api
    assert call(url + "/instances") == (200, {"method": "GET", "path": "/v1/instances"})
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 0.5


def test_a_method_and_path_match_exactly_not_as_a_substring(rest_api: str) -> None:
    from cloudmesh.compute.testing.faultproxy import matches

    proxy = FaultProxy(rest_api)
    url = proxy.start()
    try:
        proxy.add("status", "POST /v1/instances", times=5, status=503, body=b"{}")
        assert call(url + "/instances/i-1/start", "POST")[0] == 200  # not picked
        assert call(url + "/instances", "GET")[0] == 200  # another method: not picked
        assert call(url + "/instances?token=t", "POST")[0] == 503  # the query is ignored
        assert [s.path for s in proxy.requests("POST /v1/instances")] == [
            "/v1/instances?token=t"]
    finally:
        proxy.stop()
    assert matches("POST /v1/instances/*/start", "POST", "/v1/instances/i-1/start")
    assert not matches("POST /v1/instances/*/start", "POST", "/v1/instances/a/b/start")
    assert matches("GET /v1/instances?page=", "GET", "/v1/instances?page=2")
    assert not matches("GET /v1/instances?page=", "GET", "/v1/instances?limit=2")
    assert matches("Action=RunInstances", "POST", "/", b"Action=RunInstances&X=1")
