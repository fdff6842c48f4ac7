"""Shared fixtures: an isolated cms home per test, moto's EC2 server on 127.0.0.1, and two
ways to run cms: ``cms_here`` in this process (most CLI tests) and ``run_cms``, the real
``cms`` script as a subprocess (what only a process shows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

# longest files first across the xdist workers (tests/scheduling.py)
pytest_plugins = ["scheduling"]

CMS = str(Path(sys.executable).parent / "cms")
NETGUARD = Path(__file__).parent / "netguard"
# Every process the tests start loads the network guard (tests reach only 127.0.0.1) ...
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(NETGUARD), *filter(None, [os.environ.get("PYTHONPATH")])])
# ... and so does this one.
sys.path.insert(0, str(NETGUARD))
import sitecustomize as _netguard  # noqa: E402  (our guard, from tests/netguard)

assert hasattr(_netguard, "NetworkGuardError"), "tests/netguard/sitecustomize.py not loaded"
# no vendor SDK may look for instance metadata or a credential service off the machine
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2",
            "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
# moto validates AMIs and instance types as EC2 does (read per request by moto)
os.environ["MOTO_ENABLE_AMI_VALIDATION"] = "true"
os.environ["MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION"] = "true"


def _moto_ships_only_its_own_amis() -> None:
    """moto builds each region's ~1,300 "latest" AMIs (besides the 44 it ships) when the
    region is first used and again after every reset: 0.15 s of CPU per moto test, for
    images no test boots. MOTO_AMIS_PATH (a copy of moto's own list) makes it skip them;
    it is read when moto is imported, so it is set before, for every process the tests
    start too (the sandbox boots ami-1e749f67, one of the 44)."""
    import atexit
    import gzip
    import importlib.util
    import tempfile

    if "MOTO_AMIS_PATH" in os.environ:
        return
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:
        return
    shipped = Path(spec.origin).parent / "ec2" / "resources" / "amis.json.gz"
    handle, copy = tempfile.mkstemp(prefix="cms-tests-moto-amis-", suffix=".json")
    with os.fdopen(handle, "wb") as out:
        out.write(gzip.decompress(shipped.read_bytes()))
    atexit.register(os.unlink, copy)
    os.environ["MOTO_AMIS_PATH"] = copy


_moto_ships_only_its_own_amis()

MOTO_UBUNTU_AMI = "ami-1e749f67"   # ships with moto
TEST_KEY_ID = "testing-key-id"     # moto accepts any credentials; these are not secrets
TEST_SECRET = "testing-not-a-secret"


@pytest.fixture(scope="session")
def sigint_reaches_children():
    """The cms processes tests send SIGINT to (Ctrl-C tests) react to it even when pytest
    itself runs with SIGINT ignored (started in the background without job control): an
    ignored signal is inherited across exec, a handled one is reset to the default."""
    import signal

    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """moto's server in a thread of the test process; its URL."""
    # moto's request recorder (it reads this when moto is imported, here) writes to this
    # run's own file, never to ./moto_recording (see moto_requests)
    os.environ["MOTO_RECORDER_FILEPATH"] = str(tmp_path_factory.mktemp("moto") / "requests.jsonl")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto imports its EC2 backend on the first request (seconds on a busy machine): do
    # it now, not inside a test whose cm.timeout is 2 s
    ec2_client(f"http://{host}:{port}").describe_instances()
    yield f"http://{host}:{port}"
    server.stop()


def _moto_api(endpoint: str, path: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", method="POST")
    urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def moto(moto_server: str) -> str:
    """A moto server with no state left from earlier tests."""
    _moto_api(moto_server, "reset")
    recording = Path(os.environ["MOTO_RECORDER_FILEPATH"])
    if recording.exists() and recording.stat().st_size:  # a test recorded requests
        _moto_api(moto_server, "recorder/stop-recording")
        _moto_api(moto_server, "recorder/reset-recording")
    return moto_server


def moto_requests(endpoint: str, action: str) -> list[dict[str, list[str]]]:
    """The parameters of each EC2 ``action`` request moto received since the first call
    of this in the test (that call starts moto's recorder; the next test stops it)."""
    import base64
    from urllib.parse import parse_qs

    _moto_api(endpoint, "recorder/start-recording")  # no-op once it runs
    recording = Path(os.environ["MOTO_RECORDER_FILEPATH"])
    found = []
    for line in recording.read_text().splitlines() if recording.exists() else []:
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        parameters = parse_qs(body)
        if parameters.get("Action") == [action]:
            found.append(parameters)
    return found


# the fixtures a third party's provider tests use too (cms_home, write_config, sshd, cms)
from cloudmesh.compute.testing.fixtures import (  # noqa: E402,F401
    cms, cms_home, run_in_process, sshd, write_config)

#: ``cms_here("vm", "list", env=..., stdin=..., cwd=...)``: a cms command line run in this
#: process, isolated as a subprocess (its env, cwd, streams and signal handlers are put
#: back), returning the same ``.code``/``.out``/``.err``/``.json()`` as run_cms. Most CLI
#: tests use it; run_cms (a real process) stays for exit by signal, a terminal, the
#: network guard, start-up imports and the installed entry point.
cms_here = run_in_process


def aws_cloud_spec(endpoint: str, region: str = "us-east-1", **default: Any) -> dict[str, Any]:
    return {
        "cm": {"kind": "aws", "label": "moto"},
        "credentials": {"region": region, "endpoint_url": endpoint,
                        "access_key_id": TEST_KEY_ID, "secret_access_key": TEST_SECRET},
        "default": {"image": MOTO_UBUNTU_AMI, "flavor": "t3.micro", **default},
    }


@pytest.fixture
def aws_cloud(moto: str, cms_home: Path) -> str:
    """A configured cloud 'moto' of kind aws, the default cloud."""
    write_config(cms_home, {"moto": aws_cloud_spec(moto)}, default="moto")
    return "moto"


def ec2_client(endpoint: str, region: str = "us-east-1"):
    import boto3

    return boto3.client("ec2", region_name=region, endpoint_url=endpoint,
                        aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET)


class Result:
    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[-800:]!r}, err={self.err[-800:]!r})"


def run_cms(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
            timeout: float = 120) -> Result:
    """Run the installed ``cms`` script with the test's environment."""
    completed = subprocess.run([CMS, *args], capture_output=True, text=True, input=stdin,
                               env={**os.environ, **(env or {})}, timeout=timeout)
    return Result(completed)


def snapshot(config_dir: Path) -> dict[str, bytes]:
    """The bytes of the config file and a logical dump of the state database, to show
    that a failed command changed neither."""
    result: dict[str, bytes] = {}
    config = config_dir / "cloudmesh.yaml"
    if config.exists():
        result["config"] = config.read_bytes()
    db = config_dir / "cloudmesh.db"
    result["state"] = b"[]"  # no database and an empty one hold the same state
    if db.exists():
        import sqlite3

        connection = sqlite3.connect(db)
        rows = []
        for table in ("variables", "counters", "cache"):
            try:
                rows += [(table, *r[:4]) for r in connection.execute(
                    f"SELECT * FROM {table} ORDER BY 1, 2, 3" if table == "cache"
                    else f"SELECT * FROM {table} ORDER BY 1")]
            except sqlite3.OperationalError:
                pass
        connection.close()
        result["state"] = repr(rows).encode()
    return result
