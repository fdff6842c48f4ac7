"""moto's EC2 server as a separate process on 127.0.0.1, and filling its regions.

Nothing here talks to anything but 127.0.0.1: the server binds there, every client is
given that endpoint and fake credentials.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MOTO_UBUNTU_AMI = "ami-1e749f67"   # ships with moto
FAKE_KEY_ID = "bench-key-id"        # moto accepts any credentials; not secrets
FAKE_SECRET = "bench-not-a-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """``with MotoServer(log) as url:`` starts moto_server and stops it on exit."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        moto_server = Path(sys.executable).parent / "moto_server"
        argv = ([str(moto_server)] if moto_server.exists()
                else [sys.executable, "-m", "moto.server"])
        env = dict(os.environ)
        # moto accepts the AMI and instance type we use either way; do not validate
        # key pairs (we pass none)
        for name in ("MOTO_ENABLE_KEYPAIR_VALIDATION",):
            env.pop(name, None)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(argv + ["-H", "127.0.0.1", "-p", str(self.port)],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env,
                                            start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}; "
                                   f"see {self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self.url
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto_server did not start within 60 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) moto's server has used so far, from
        /proc (clock-tick resolution)."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ec2_client(url: str, region: str):
    import boto3
    from botocore.config import Config

    return boto3.client("ec2", region_name=region, endpoint_url=url,
                        aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET,
                        config=Config(retries={"mode": "standard", "max_attempts": 4}))


def populate(url: str, region: str, count: int, prefix: str, batch: int = 5) -> int:
    """Boot ``count`` instances in ``region`` in batches of ``batch`` (one reservation
    each, so that describe_instances pages when there are over 100 reservations), then
    give each a unique Name tag as cms would. Returns the number of instances."""
    client = ec2_client(url, region)
    ids: list[str] = []
    done = 0
    while done < count:
        step = min(batch, count - done)
        response = client.run_instances(ImageId=MOTO_UBUNTU_AMI, InstanceType="t3.micro",
                                        MinCount=step, MaxCount=step)
        ids += [i["InstanceId"] for i in response["Instances"]]
        done += step

    def tag(item: tuple[int, str]) -> None:
        number, instance_id = item
        client.create_tags(Resources=[instance_id],
                           Tags=[{"Key": "Name", "Value": f"{prefix}-{number:05d}"},
                                 {"Key": "project", "Value": "bench"}])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(tag, enumerate(ids, 1)))
    return len(ids)
