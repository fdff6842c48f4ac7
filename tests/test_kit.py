"""The provider kit (cloudmesh.compute.kit): every helper on its own, without a cloud.

Deadlines run on an injected clock and sleep, so no test here sleeps.
"""

from __future__ import annotations

import threading
import time

import pytest
import yaml

from cloudmesh.compute.errors import (CloudError, CmsError, CredentialError, NotFound,
                                      UsageError, WaitTimeout)
from cloudmesh.compute.kit import (MAX_EMPTY_PAGES, MAX_PAGES, OWNER_KEY, RETRY_AFTER_CAP, Deadline,
                                   OriginGuard, add_user, bounded, classify_http,
                                   client_on_first_use, find_one, label_safe, live, marker,
                                   marker_text, origin_of, owned_by, pages, poll_until,
                                   read_marker, retry_after_seconds)

pytest_plugins = ["pytester"]  # the conformance suite run inside a test

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx0c2Vzc2lvbi1rZXk alice@laptop"


class FakeClock:
    """time.monotonic and time.sleep for tests: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


# ---- errors and classify_http ------------------------------------------------------------
def test_cms_error_carries_status_and_code_through_subclasses():
    error = NotFound("gone", status=404, code="NoSuchThing")
    assert (error.status, error.code, str(error)) == (404, "NoSuchThing", "gone")
    assert CmsError("x").status is None and CmsError("x").code is None


@pytest.mark.parametrize("status, kind, retryable", [
    (401, CredentialError, False), (403, CredentialError, False), (404, NotFound, False),
    (408, CloudError, True), (429, CloudError, True), (500, CloudError, True),
    (503, CloudError, True), (599, CloudError, True), (400, CloudError, False),
    (409, CloudError, False), (None, CloudError, False)])
def test_classify_http_by_status(status, kind, retryable):
    error = classify_http(status, "SomeCode", "the cloud's words", cloud="c1")
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.status, error.code) == (status, "SomeCode")
    assert "the cloud's words" in error.message and "c1" in error.message


def test_classify_http_keeps_a_given_hint():
    assert classify_http(400, None, "bad", hint="fix it").hint == "fix it"


# ---- poll_until ------------------------------------------------------------------------------
def test_poll_until_returns_when_done_with_doubling_capped_backoff():
    time_ = FakeClock()
    answers = iter(["a", "b", "c", "d", "e", "done"])
    result = poll_until(lambda: next(answers), lambda r: r == "done", timeout=100,
                        what="op", interval=1, max_interval=4,
                        clock=time_.clock, sleep=time_.sleep)
    assert result == "done"
    assert time_.sleeps == [1, 2, 4, 4, 4]


def test_poll_until_times_out_naming_what_and_seconds_and_never_sleeps_past_deadline():
    time_ = FakeClock()
    with pytest.raises(WaitTimeout) as caught:
        poll_until(lambda: "busy", lambda r: False, timeout=10, what="deleting sg1",
                   interval=3, clock=time_.clock, sleep=time_.sleep)
    assert isinstance(caught.value, CloudError)
    assert "deleting sg1" in str(caught.value) and "10 s" in str(caught.value)
    assert sum(time_.sleeps) == pytest.approx(10)


def test_poll_until_turns_a_failed_operation_into_the_clouds_message():
    time_ = FakeClock()
    with pytest.raises(CloudError, match="QuotaExceeded: no cores left"):
        poll_until(lambda: {"state": "Failed", "error": "QuotaExceeded: no cores left"},
                   lambda r: r["state"] == "Succeeded", timeout=10, what="create vm",
                   failed=lambda r: r.get("error"), clock=time_.clock, sleep=time_.sleep)
    assert time_.sleeps == []


def test_poll_until_caps_retry_after_and_ignores_negative_hints():
    time_ = FakeClock()
    hints = iter([86400.0, -5.0, None, 0.5])
    polls = iter(range(10))
    poll_until(lambda: next(polls), lambda r: r == 4, timeout=1000, what="op",
               interval=1, max_interval=8, retry_after=lambda r: next(hints),
               clock=time_.clock, sleep=time_.sleep)
    # 86400 capped to 60; -5 and None ignored (backoff 2, 4); 0.5 honoured
    assert time_.sleeps == [RETRY_AFTER_CAP, 2, 4, 0.5]


def test_poll_until_retry_after_is_capped_by_the_deadline():
    time_ = FakeClock()
    with pytest.raises(WaitTimeout):
        poll_until(lambda: 1, lambda r: False, timeout=5, what="op",
                   retry_after=lambda r: 86400, clock=time_.clock, sleep=time_.sleep)
    assert time_.sleeps == [5]


# ---- pages -------------------------------------------------------------------------------------
def test_pages_follows_tokens_until_none():
    book = {None: ([1, 2], "t1"), "t1": ([3], "t2"), "t2": ([], "t3"), "t3": ([4], None)}
    calls = []

    def fetch(token):
        calls.append(token)
        return book[token]

    assert list(pages(fetch, what="vm list")) == [1, 2, 3, 4]
    assert calls == [None, "t1", "t2", "t3"]


def test_pages_stops_on_a_repeated_token():
    book = {None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")}
    with pytest.raises(CloudError, match="vm list: the cloud repeated page token 'a'; stopped"):
        list(pages(lambda t: book[t], what="vm list"))


def test_pages_stops_at_the_page_limit_on_ever_new_tokens():
    calls = []

    def endless(token):
        calls.append(token)
        return [], f"token-{len(calls)}"

    with pytest.raises(CloudError, match="more than 5 pages"):
        list(pages(endless, what="vm list", max_pages=5))
    assert len(calls) == 5
    assert MAX_PAGES == 10_000


def test_pages_stops_after_a_run_of_empty_pages_each_naming_a_new_one():
    calls = []

    def endless_empty(token):
        calls.append(token)
        return [], f"token-{len(calls)}"

    with pytest.raises(CloudError, match="100 empty pages in a row"):
        list(pages(endless_empty, what="vm list"))
    assert len(calls) == MAX_EMPTY_PAGES == 100


def test_pages_accepts_empty_pages_between_full_ones():
    # EC2 may answer an empty page while it filters; a full page resets the run
    def fetch(token):
        n = int(token or 0)
        if n >= 500:
            return [n], None
        return ([n] if n % 50 == 0 else []), str(n + 1)

    assert list(pages(fetch, what="vm list")) == list(range(0, 501, 50))


def test_pages_refuses_a_next_link_on_another_origin_before_fetching_it():
    guard = OriginGuard(["http://127.0.0.1:8774/v2.1"])
    fetched = []

    def fetch(link):
        fetched.append(link)
        if link is None:
            return [1], "http://127.0.0.1:8774/v2.1/servers?marker=1"
        if link.endswith("marker=1"):
            return [2], "http://127.0.0.2:8774/v2.1/servers?marker=2"
        raise AssertionError(f"fetched {link}")

    with pytest.raises(CloudError, match=r"refused to send credentials to http://127\.0\.0\.2:8774"):
        list(pages(fetch, what="server list", guard=guard))
    assert fetched == [None, "http://127.0.0.1:8774/v2.1/servers?marker=1"]


# ---- origins -------------------------------------------------------------------------------
def test_origin_of_normalises_scheme_host_and_default_ports():
    assert origin_of("HTTPS://EC2.us-east-1.AmazonAWS.com/x?y") == \
        ("https", "ec2.us-east-1.amazonaws.com", 443)
    assert origin_of("http://127.0.0.1/") == ("http", "127.0.0.1", 80)
    assert origin_of("http://[::1]:8080/a") == ("http", "::1", 8080)
    with pytest.raises(CloudError):
        origin_of("/relative/path")


def test_origin_guard_allows_same_origin_and_refuses_others():
    guard = OriginGuard(["https://api.example.org/v1"])
    assert guard.check("https://API.example.org:443/v1/other") == \
        "https://API.example.org:443/v1/other"
    for other in ("http://api.example.org/v1", "https://api.example.org:8443/",
                  "https://evil.example.org/"):
        with pytest.raises(CloudError, match="refused to send credentials to") as caught:
            guard.check(other)
        assert "https://api.example.org:443" in str(caught.value)
    guard.allow("https://compute.example.org:8774/")
    assert guard.allows("https://compute.example.org:8774/servers")


def test_an_empty_origin_guard_refuses_everything():
    with pytest.raises(CloudError, match="none allowed"):
        OriginGuard().check("https://anything.example/")


def test_retry_after_seconds():
    assert retry_after_seconds("86400") == 60
    assert retry_after_seconds("86400", cap=10) == 10
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(" 7 ") == 7
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:50 GMT", now=lambda: now) == 30
    assert retry_after_seconds("Tue, 14 Nov 2023 22:00:00 GMT", now=lambda: now) == 0
    assert retry_after_seconds("Wed, 15 Nov 2023 22:13:20 GMT", now=lambda: now) == 60


# ---- deadline --------------------------------------------------------------------------------
def test_deadline_remaining_expired_and_check():
    time_ = FakeClock()
    deadline = Deadline(3, clock=time_.clock)
    assert deadline.remaining() == 3 and not deadline.expired()
    deadline.check("EC2")
    time_.now += 3.5
    assert deadline.remaining() == 0 and deadline.expired()
    with pytest.raises(CloudError, match=r"no answer from EC2 within 3 s \(cm.timeout\)") as caught:
        deadline.check("EC2")
    assert caught.value.retryable is False


def test_bounded_returns_the_value_and_raises_the_calls_own_error():
    assert bounded(lambda: 42, 5, "x") == 42
    with pytest.raises(NotFound, match="nope"):
        bounded(lambda: (_ for _ in ()).throw(NotFound("nope")), 5, "x")


def test_bounded_gives_up_on_a_stuck_call():
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(CloudError, match="no answer from a slow endpoint within 0.2 s"):
        bounded(lambda: release.wait(30), 0.2, "a slow endpoint")
    assert time.monotonic() - started < 5
    release.set()


# ---- find_one ----------------------------------------------------------------------------------
VMS = [
    {"id": "i-1", "name": "web", "status": "running"},
    {"id": "i-2", "name": "Test Server 2", "status": "stopped"},
    {"id": "i-3", "name": "db", "status": "running"},
    {"id": "i-4", "name": "db", "status": "booting"},
    {"id": "i-5", "name": "old", "status": "terminated"},
    {"id": "i-6", "name": "web", "status": "terminated"},
    {"id": "web", "name": "other", "status": "running"},
    {"id": "i-7", "name": "gone", "status": "deleted"},
]


def test_find_one_by_name_with_spaces_and_by_id():
    assert find_one(VMS, "Test Server 2", cloud="c")["id"] == "i-2"
    assert find_one(VMS, "i-3", cloud="c")["name"] == "db"


def test_find_one_prefers_an_id_over_a_name():
    assert find_one(VMS, "web", cloud="c")["name"] == "other"


def test_find_one_skips_terminated_and_deleted_records():
    assert find_one(VMS[:6], "web", cloud="c")["id"] == "i-1"
    for ref in ("old", "i-5", "gone"):
        with pytest.raises(NotFound):
            find_one(VMS, ref, cloud="c")
    assert [r["id"] for r in live(VMS)] == ["i-1", "i-2", "i-3", "i-4", "web"]


def test_find_one_on_duplicates_lists_the_ids():
    with pytest.raises(UsageError, match=r"2 VMs on cloud c are named 'db' \(i-3, i-4\)") as caught:
        find_one(VMS, "db", cloud="c")
    assert "use the id" in str(caught.value)


def test_find_one_none_is_not_found_with_the_list_hint():
    with pytest.raises(NotFound) as caught:
        find_one(VMS, "nothing", cloud="aws1")
    assert caught.value.message == "no VM named 'nothing' on cloud aws1"
    assert caught.value.hint == "cms vm list --cloud=aws1"


# ---- cloud-init ------------------------------------------------------------------------------
def _users(text: str) -> list:
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)["users"]


def test_add_user_on_empty_userdata():
    for empty in (None, "", "  \n"):
        users = _users(add_user(empty, "alice", KEY + "\n"))
        assert users[0] == "default"
        assert users[1]["name"] == "alice" and users[1]["ssh_authorized_keys"] == [KEY]
        assert users[1]["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
        assert users[1]["shell"] == "/bin/bash"


def test_add_user_merges_into_cloud_config():
    original = "#cloud-config\npackages: [nginx]\nusers:\n  - default\n  - name: bob\n"
    text = add_user(original, "alice", KEY)
    document = yaml.safe_load(text)
    assert document["packages"] == ["nginx"]
    assert [u if isinstance(u, str) else u["name"] for u in document["users"]] == \
        ["default", "bob", "alice"]
    # the same user again: the key is added to that entry, not a second entry
    again = yaml.safe_load(add_user(text, "alice", "ssh-rsa AAAAB3Nza other"))
    alice = [u for u in again["users"] if isinstance(u, dict) and u["name"] == "alice"]
    assert len(alice) == 1 and alice[0]["ssh_authorized_keys"] == [KEY, "ssh-rsa AAAAB3Nza other"]


def test_add_user_refuses_cloud_config_that_is_not_a_mapping():
    with pytest.raises(UsageError):
        add_user("#cloud-config\n- a\n- b\n", "alice", KEY)
    with pytest.raises(UsageError, match="not valid YAML"):
        add_user("#cloud-config\nusers: [\n", "alice", KEY)


def test_add_user_wraps_a_shell_script_as_mime_with_both_parts():
    from email import message_from_string

    script = "#!/bin/sh\necho hello > /tmp/hello\n"
    message = message_from_string(add_user(script, "alice", KEY))
    assert message.get_content_type() == "multipart/mixed"
    parts = [p for p in message.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/x-shellscript", "text/cloud-config"]
    assert parts[0].get_payload(decode=True).decode() == script
    assert _users(parts[1].get_payload(decode=True).decode())[1]["name"] == "alice"


def test_add_user_appends_to_existing_mime_userdata():
    from email import message_from_string

    first = add_user("#!/bin/sh\ntrue\n", "alice", KEY)
    message = message_from_string(add_user(first, "bob", KEY))
    types = [p.get_content_type() for p in message.walk() if not p.is_multipart()]
    assert types == ["text/x-shellscript", "text/cloud-config", "text/cloud-config"]


# ---- markers -----------------------------------------------------------------------------------
def test_one_marker_spelling():
    assert marker("i-123") == {OWNER_KEY: "i-123"} == {"cms-owner": "i-123"}
    assert marker_text("vm-0") == "cms-owner=vm-0"
    assert read_marker({"cms-owner": "i-1", "x": "y"}) == "i-1"
    assert read_marker([{"Key": "Name", "Value": "a"}, {"Key": "cms-owner", "Value": "i-9"}]) == "i-9"
    assert read_marker("made by cms: cms-owner=3f2a-11 for vm") == "3f2a-11"
    assert read_marker("cms:server=3f2a") is None and read_marker(None) is None
    assert read_marker({}) is None


def test_owned_by_needs_the_marker_and_the_attachment():
    assert owned_by("vm-0-id", "vm-0-id", attached_to_vm=True)
    assert not owned_by("vm-0-id", "vm-0-id", attached_to_vm=False)  # on another VM
    assert not owned_by("vm-1-id", "vm-0-id", attached_to_vm=True)
    assert not owned_by(None, "vm-0-id", attached_to_vm=True)
    assert owned_by(label_safe("My_VM.Example"), "My_VM.Example", attached_to_vm=True)


def test_label_safe():
    assert label_safe("My_VM.Example") == "my_vm-example"
    long = label_safe("x" * 100)
    assert len(long) <= 63 and long != label_safe("x" * 101)
    assert all(c.islower() or c.isdigit() or c in "_-" for c in label_safe("Ünïcode Name/1"))


# ---- client_on_first_use -----------------------------------------------------------------------
class Maker:
    def __init__(self) -> None:
        self.made = 0
        self.fail = False

    @client_on_first_use
    def client(self):
        if self.fail:
            raise CloudError("no client")
        self.made += 1
        time.sleep(0.05)  # a slow SDK: gives the other threads time to race
        return object()


def test_client_on_first_use_builds_once_under_16_threads():
    maker = Maker()
    barrier = threading.Barrier(16)
    seen = []

    def use():
        barrier.wait()
        seen.append(maker.client)

    threads = [threading.Thread(target=use) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert maker.made == 1
    assert len(seen) == 16 and len({id(c) for c in seen}) == 1
    assert Maker().client is not maker.client  # one per instance


def test_client_on_first_use_caches_nothing_on_failure():
    maker = Maker()
    maker.fail = True
    with pytest.raises(CloudError):
        maker.client  # noqa: B018
    maker.fail = False
    assert maker.client is maker.client and maker.made == 1


# ---- transport ---------------------------------------------------------------------------------
def test_guard_requests_session_refuses_before_sending():
    import requests

    from cloudmesh.compute.kit import guard_requests_session

    sent = []

    class Recorder(requests.adapters.HTTPAdapter):
        def send(self, request, *args, **kwargs):
            sent.append(request.url)
            response = requests.Response()
            response.status_code, response.url, response.request = 200, request.url, request
            response._content = b"ok"
            return response

    session = requests.Session()
    session.mount("http://", Recorder())
    guard_requests_session(session, OriginGuard(["http://127.0.0.1:9/"]))
    assert session.get("http://127.0.0.1:9/a").text == "ok"
    with pytest.raises(CloudError, match=r"refused to send credentials to http://127\.0\.0\.2:9"):
        session.get("http://127.0.0.2:9/b", headers={"Authorization": "Bearer x"})
    assert sent == ["http://127.0.0.1:9/a"]


def test_the_kit_imports_no_sdk_and_no_requests():
    import subprocess
    import sys

    code = ("import sys, cloudmesh.compute.kit; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('requests', 'boto3', 'botocore', 'yaml', 'azure', 'google', 'oci', "
            "'openstack', 'keystoneauth1')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_deadline_bounded_names_the_whole_deadline_not_what_was_left():
    release = threading.Event()
    deadline = Deadline(0.3)
    time.sleep(0.1)
    with pytest.raises(CloudError, match=r"within 0.3 s \(cm.timeout\)") as caught:
        deadline.bounded(lambda: release.wait(30), "EC2")
    assert caught.value.code == "deadline"
    release.set()


# ---- the conformance suite's own machinery (cloudmesh.compute.testing) -----------------
SUITE_SHARING_RUN = '''
import json
import shutil
from pathlib import Path

import pytest

import cloudmesh
from cloudmesh.compute.testing import ComputeProviderSuite
from cloudmesh.compute.testing.fixtures import cms_home_class, write_config  # noqa: F401

FAKE, VMS = Path("@FAKE@"), Path("@VMS@")


@pytest.fixture(scope="class")
def filecloud(tmp_path_factory):
    """The throwaway third-party kind (tests/fakes/filecloud) importable for the class."""
    root = tmp_path_factory.mktemp("src")
    (root / "cloudmesh" / "filecloud").mkdir(parents=True)
    shutil.copy(FAKE, root / "cloudmesh" / "filecloud" / "compute.py")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(cloudmesh, "__path__", [*cloudmesh.__path__,
                                                     str(root / "cloudmesh")])
        yield


class TestSharedFilecloud(ComputeProviderSuite):
    image, flavor = "tiny-os", "small"

    @pytest.fixture(scope="class")
    def cloud(self, filecloud, cms_home_class):
        write_config(cms_home_class, {"fc": {"cm": {"kind": "filecloud"},
                                             "credentials": {"path": str(VMS)}}})
        return "fc"

    def delivered_keys(self, provider, vm):
        stored = json.loads(VMS.read_text())[vm["name"]]
        return [key for keys in stored["authorized_keys"].values() for key in keys]
'''


def test_read_only_suite_tests_share_one_vm_per_class(pytester: pytest.Pytester) -> None:
    """With a class-scoped cloud, the suite's read-only tests boot one VM between them
    (and a second one that test_list_filters_by_names needs) and the SSH tests one more
    (booted with a key): nothing else is booted."""
    from pathlib import Path

    from cloudmesh.compute.testing.sshd import ssh_server_available

    fake = Path(__file__).parent / "fakes" / "filecloud" / "compute.py"
    vms = pytester.path / "vms.json"
    pytester.makepyfile(test_sharing=SUITE_SHARING_RUN.replace("@FAKE@", str(fake))
                        .replace("@VMS@", str(vms)))
    read_only = ("test_list_filters_by_names", "test_list_updates_cache",
                 "test_one_failure_does_not_hide_the_others",
                 "test_boot_refuses_an_existing_name", "test_suspend_resume_or_not_supported")
    ssh = ("test_ssh_reaches_the_vm_with_the_delivered_key", "test_ssh_command_from_the_cli",
           "test_ssh_refuses_a_changed_host_key")
    # without hypothesis's plugin: its terminal summary imports all of hypothesis (seconds)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist",
                                          "-p", "no:hypothesispytest", "-q",
                                          "-k", " or ".join(read_only + ssh))
    ssh_runs = ssh_server_available()
    result.assert_outcomes(passed=len(read_only) + (len(ssh) if ssh_runs else 0),
                           skipped=0 if ssh_runs else len(ssh))
    import json

    booted = json.loads(vms.read_text())
    assert len(booted) == (3 if ssh_runs else 2), sorted(booted)
