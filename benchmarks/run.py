"""``make bench``: cms side by side with the tools users would pick instead.

Every figure is measured in this run: medians of repeated whole-process runs, each row a
ratio of two things measured here (see benchmarks/README.md for what each row means).
The table is printed and written as JSON to benchmarks/results/latest.json.

Usage: python benchmarks/run.py [--quick] [--strict] [--readme] [--json=PATH]
                                [--only=SECTION,...]

  --quick    fewer repetitions and a smaller fleet (a smoke test of the suite itself)
  --strict   exit 1 when a target is missed (by default misses are reported, exit 0)
  --readme   also write the table into benchmarks/README.md (between its markers)
  --only     run only these sections: startup, list, cached, fanout, provider, kinds,
             regions (issue 24: benchmarks/regions.py)
             (comma-separated; cached needs startup)
  --kinds    the REST kinds of the kinds section (default: openstack,azure,google,oracle)

Nothing leaves 127.0.0.1: moto's server and the REST fakes bind there, every client is
pointed at them with fake credentials, and HOME is a throwaway directory (no ~/.aws is
read).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import kinds as kind_clouds  # noqa: E402
from harness import Measure, measure  # noqa: E402
from moto_fixture import FAKE_KEY_ID, FAKE_SECRET, MotoServer, populate  # noqa: E402

ROOT = HERE.parent
#: the tests' guard that refuses any connection beyond loopback (a sitecustomize module)
NETGUARD = ROOT / "tests" / "netguard"
BIN = Path(sys.executable).parent
PYTHON = sys.executable
CMS = str(BIN / "cms")
AWS = str(BIN / "aws")

# regions of moto's server: the fleet of each listing size and the fan-out clouds
LIST_CLOUDS = {1: ("l1", "ca-central-1"), 100: ("l100", "us-east-2"),
               1000: ("l1000", "us-east-1")}
FANOUT = {100: ["us-west-1", "us-west-2", "eu-west-1", "eu-central-1"],
          1: ["ap-south-1", "ap-northeast-1", "sa-east-1", "eu-north-1"]}
EMPTY_REGION = "eu-west-3"
CACHED_VMS = 10_000
SECTIONS = ("startup", "list", "shell", "multipass", "cached", "fanout", "provider",
            "kinds", "regions")
#: budget (docs/architecture.md): cms vm list --output=json at 1,000 VMs, client CPU over the bare SDK script
KIND_CPU_LIMIT = 1.15
#: budget (docs/architecture.md): first use of a kind, `cms vm list` wall time over the bare script's (google)
FIRST_USE_KINDS = {"google": 1.25}


@dataclass
class Row:
    section: str
    name: str
    measured: str
    compared: str
    ratio: str
    target: str
    ok: bool | None          # None: no target, shown for information
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("pass" if self.ok else "MISS")


def ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def progress(label: str):
    def show(done: int, total: int) -> None:
        if done == total or done % max(1, total // 4) == 0:
            say(f"  {label}: {done}/{total} rounds")
    return show


def ratio_row(section: str, name: str, value: float, base: float, what: str,
              base_label: str, limit: float | None, strict_below: bool = False,
              fmt=ms, numbers: dict | None = None) -> Row:
    """A row value/base against a limit (at most ``limit`` times, or below it)."""
    ratio = value / base if base else float("inf")
    if limit is None:
        target, ok = "-", None
    elif strict_below:
        target, ok = f"< {limit:.2f}x", ratio < limit
    else:
        target, ok = f"<= {limit:.2f}x", ratio <= limit
    return Row(section, name, f"{fmt(value)} {what}".strip(), f"{base_label}: {fmt(base)}",
               f"{ratio:.2f}x", target, ok,
               dict(numbers or {}, value=round(value, 4), base=round(base, 4),
                    ratio=round(ratio, 3)))


# ---- the environment -------------------------------------------------------------------
def child_env(home: Path, config_dir: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set in some sandboxes) would make every run compile
    # cms's sources again: users' machines keep the bytecode, so the runs do too
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CMS_", "MOTO_", "OS_", "AZURE_", "GOOGLE_",
                                "CLOUDSDK_", "OCI_")) and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "no_proxy",
               "pythondontwritebytecode")}
    env.update(HOME=str(home), CLOUDMESH_CONFIG_DIR=str(config_dir),
               AWS_ACCESS_KEY_ID=FAKE_KEY_ID, AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(home / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def guard_network(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the tests' network guard on PYTHONPATH: every Python process started
    with it refuses connections beyond loopback. It costs each process about 9 ms of
    start-up, the same for every tool, so it is used only where processes talk to moto."""
    if not (NETGUARD / "sitecustomize.py").is_file():
        return env
    return dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(NETGUARD),
                                                             env.get("PYTHONPATH")])))


def guard_this_process() -> bool:
    """Load the same guard into this process (it fills moto and the cache itself)."""
    import importlib.util

    path = NETGUARD / "sitecustomize.py"
    if not path.is_file():
        return False
    spec = importlib.util.spec_from_file_location("cms_bench_netguard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return True


def write_config(config_dir: Path, clouds: dict[str, tuple[str, str]], default: str) -> None:
    """clouds: name -> (region, endpoint)."""
    import yaml

    compute = {name: {"cm": {"kind": "aws", "label": f"moto {region}"},
                      "credentials": {"region": region, "endpoint_url": endpoint,
                                      "access_key_id": FAKE_KEY_ID,
                                      "secret_access_key": FAKE_SECRET}}
               for name, (region, endpoint) in clouds.items()}
    data = {"cloudmesh": {"profile": {"user": "bench"}, "default": {"cloud": default},
                          "compute": compute}}
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "cloudmesh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)


# ---- 1. startup ------------------------------------------------------------------------
def bench_startup(env: dict[str, str], runs: int) -> tuple[list[Row], dict[str, Measure]]:
    say(f"1. startup ({runs} rounds)")
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "python -c 'import yaml, docopt, tabulate'": [PYTHON, "-c",
                                                        "import yaml, docopt, tabulate"],
        "aws --version": [AWS, "--version"],
        "cms help": [CMS, "help"],
        "cms version": [CMS, "version"],
        "cms vm --help": [CMS, "vm", "--help"],
        "cms vm list (no cloud configured)": [CMS, "vm", "list"],
    }
    m = measure(commands, runs, env, expect={"cms vm list (no cloud configured)": (4,)},
                progress=progress("startup"))
    base, trio, aws = (m["python -c pass"], m["python -c 'import yaml, docopt, tabulate'"],
                       m["aws --version"])
    rows = []
    for label, limit in (("cms help", 4), ("cms version", 4), ("cms vm --help", 4),
                         ("cms vm list (no cloud configured)", 6)):
        rows.append(ratio_row("startup", f"{label}: wall", m[label].wall, base.wall, "",
                              "python -c pass", limit))
    for label in ("cms help", "cms version", "cms vm --help"):
        rss = m[label].rss_mb
        rows.append(Row("startup", f"{label}: peak RSS", f"{rss:.1f} MB",
                        f"python -c pass: {base.rss_mb:.1f} MB",
                        f"{rss / base.rss_mb:.2f}x", "< 30 MB", rss < 30,
                        {"value_mb": round(rss, 2), "base_mb": round(base.rss_mb, 2)}))
    for label in ("cms help", "cms version"):
        rows.append(ratio_row("startup", f"{label} vs aws --version", m[label].wall, aws.wall,
                              "", "aws --version", 0.2,
                              numbers={"aws_rss_mb": round(aws.rss_mb, 1)}))
    rows.append(ratio_row("startup", "cms help vs the imports (budget)", m["cms help"].wall,
                          trio.wall, "", "python -c 'import yaml, docopt, tabulate'", 2))
    return rows, m


# ---- 2. listing ------------------------------------------------------------------------
def bench_listing(env: dict[str, str], url: str, runs: dict[int, int], fleet: dict[int, int],
                  probe) -> tuple[list[Row], dict[str, Measure]]:
    rows: list[Row] = []
    everything: dict[str, Measure] = {}
    for size, (cloud, region) in LIST_CLOUDS.items():
        say(f"2. listing {fleet[size]} instances ({runs[size]} rounds)")
        endpoint = ["--endpoint-url", url, "--region", region]
        commands = {
            f"cms json {size}": [CMS, "vm", "list", f"--cloud={cloud}", "--output=json"],
            f"cms table {size}": [CMS, "vm", "list", f"--cloud={cloud}", "--output=table"],
            f"aws json {size}": [AWS, "ec2", "describe-instances", *endpoint, "--output", "json"],
            f"aws table {size}": [AWS, "ec2", "describe-instances", *endpoint,
                                  "--output", "table"],
            f"boto3 {size}": [PYTHON, str(HERE / "boto3_list.py"), url, region],
        }
        m = measure(commands, runs[size], env, progress=progress(f"{fleet[size]} instances"),
                    probe=probe)
        everything.update(m)
        cj, ct, aj, at, b3 = (m[f"cms json {size}"], m[f"cms table {size}"],
                              m[f"aws json {size}"], m[f"aws table {size}"], m[f"boto3 {size}"])
        big = size == 1000
        section = f"list {fleet[size]}"

        def cpu(x: Measure) -> str:
            return f"{ms(x.cpu)} CPU ({ms(x.wall)} wall)"

        def row(name: str, a: Measure, b: Measure, base_label: str, limit: float | None,
                strict: bool = False) -> Row:
            r = ratio_row(section, name, a.cpu, b.cpu, "", base_label, limit, strict,
                          numbers={"wall": round(a.wall, 4), "base_wall": round(b.wall, 4),
                                   "wall_ratio": round(a.wall / b.wall, 3),
                                   "moto_cpu": a.server_cpu, "base_moto_cpu": b.server_cpu})
            r.measured, r.compared = cpu(a), f"{base_label}: {cpu(b)}"
            return r

        rows.append(row("cms --output=json vs bare boto3 (client CPU)", cj, b3,
                        "boto3 paginator script", 1.1 if big else None))
        rows.append(row("cms --output=json vs aws --output json (client CPU)", cj, aj,
                        "aws ec2 describe-instances", 1.0 if big else None, strict=True))
        rows.append(row("cms --output=table vs aws --output table (client CPU)", ct, at,
                        "aws ec2 describe-instances", 1.0 if big else None, strict=True))
        extra = ct.cpu - cj.cpu
        rows.append(Row(section, "table over json in cms (client CPU)", cpu(ct),
                        f"cms --output=json: {cpu(cj)}", f"{extra:+.3f} s",
                        "<= +0.15 s" if big else "-", (extra <= 0.15) if big else None,
                        {"value": round(ct.cpu, 4), "base": round(cj.cpu, 4),
                         "delta": round(extra, 4)}))
    return rows, everything


# ---- 2c. a cms> session keeps its provider: the second list costs no new client -----------
def bench_shell(env: dict[str, str], workdir: Path, runs: int) -> tuple[list[Row], dict]:
    """``cms --file=SCRIPT`` with one and with two ``vm list`` lines (100 VMs on moto): the
    second line's cost (the difference) against a fresh ``cms vm list`` process."""
    cloud = LIST_CLOUDS[100][0]
    line = f"vm list --cloud={cloud} --output=json\n"
    one, two = workdir / "one-list.cms", workdir / "two-lists.cms"
    one.write_text(line)
    two.write_text(line * 2)
    say(f"2c. a second vm list inside one cms session ({runs} rounds)")
    m = measure({"fresh": [CMS, "vm", "list", f"--cloud={cloud}", "--output=json"],
                 "session 1": [CMS, f"--file={one}"], "session 2": [CMS, f"--file={two}"]},
                runs, env, progress=progress("session"))
    second = max(m["session 2"].wall - m["session 1"].wall, 0.0)
    row = ratio_row("shell", "second vm list in one cms session (wall)", second,
                    m["fresh"].wall, "", "a fresh cms vm list", 1.0, strict_below=True)
    row.measured = f"{ms(second)} (session of 2: {ms(m['session 2'].wall)}, of 1: " \
                   f"{ms(m['session 1'].wall)})"
    row.compared = f"a fresh cms vm list: {ms(m['fresh'].wall)}"
    return [row], m


# ---- 2d. multipass: running VMs from the fake multipass of the tests ------------------------
MULTIPASS_VMS = 20


def bench_multipass(env: dict[str, str], workdir: Path, runs: int) -> tuple[list[Row], dict]:
    """``cms vm list --cloud=local --output=json`` with 20 running instances in the tests'
    fake multipass (a Python executable that reads its state file) against the bare script
    that runs the same two multipass calls (list, then info of every name) and prints
    compact JSON. Both pay the same two multipass processes; the row is cms's own share."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.multipass import harness as multipass_fake

    executable = multipass_fake.install_fake(workdir / "multipass-bin")
    state = workdir / "multipass-state.json"
    multipass_fake.seed_instances(state, {f"vm{n:02d}": {"ipv4": f"10.218.69.{n + 10}"}
                                          for n in range(MULTIPASS_VMS)})
    config_dir = workdir / "multipass-config"
    multipass_fake.write_config(config_dir, {"local": {
        "cm": {"kind": "multipass"}, "credentials": {"executable": str(executable)}}})
    mp_env = dict(env, MULTIPASS_FAKE_STATE=str(state), CLOUDMESH_CONFIG_DIR=str(config_dir))
    say(f"2d. multipass: {MULTIPASS_VMS} running instances ({runs} rounds)")
    m = measure({"cms": [CMS, "vm", "list", "--cloud=local", "--output=json"],
                 "bare": [PYTHON, str(HERE / "multipass_list.py"), str(executable)]},
                runs, mp_env, progress=progress("multipass"))
    row = ratio_row("multipass", f"cms vm list, {MULTIPASS_VMS} running VMs (wall, with "
                    "the multipass processes)", m["cms"].wall, m["bare"].wall, "",
                    "bare multipass list + info script", KIND_CPU_LIMIT)
    return [row], m


# ---- 2b. the REST kinds, each on its fake --------------------------------------------------
def bench_kinds(env: dict[str, str], workdir: Path, runs: dict[str, int], fleet: int,
                wanted: list[str]) -> tuple[list[Row], dict[str, Measure]]:
    """For each kind: its fake as a process with ``fleet`` VMs, then ``cms vm list
    --output=json`` and the bare SDK script round robin (client CPU; the fake's CPU from
    /proc). Kinds in FIRST_USE_KINDS also get a fake with 1 VM, where the process's import
    and set-up cost dominates: wall time of the two. A kind whose fake does not start
    becomes a failed row; the other kinds still run."""
    rows: list[Row] = []
    everything: dict[str, Measure] = {}
    for kind in wanted:
        sizes = [(fleet, runs["big"], KIND_CPU_LIMIT, "cpu")]
        if kind in FIRST_USE_KINDS:
            sizes.append((1, runs["small"], FIRST_USE_KINDS[kind], "wall"))
        for count, rounds, limit, metric in sizes:
            section = f"list {count} {kind}"
            say(f"2b. {kind}: listing {count} VM{'s' * (count != 1)} on its fake "
                f"({rounds} rounds)")
            cloud = None
            try:
                name = f"{kind}{count}"
                cloud = kind_clouds.start(kind, name, count, env, workdir, PYTHON)
                config_dir = workdir / f"kind-{name}"
                kind_clouds.write_config(config_dir, [cloud])
                cms_env = dict(env, CLOUDMESH_CONFIG_DIR=str(config_dir))
                cms_label, bare_label = f"cms {name}", f"bare {name}"
                commands = {cms_label: [CMS, "vm", "list", f"--cloud={name}", "--output=json"],
                            bare_label: cloud.bare}
                m = measure(commands, rounds, cms_env, progress=progress(f"{kind} {count}"),
                            probe=cloud.fake.cpu_seconds,
                            envs={bare_label: dict(cms_env, **cloud.bare_env)})
            except Exception as error:  # noqa: BLE001 - one kind's failure is its row
                first = (str(error).strip().splitlines() or [type(error).__name__])
                say(f"{kind} failed: {error}")
                rows.append(Row(section, "failed", first[0][:80], " ".join(first[1:])[-80:],
                                "-", "-", False))
                continue
            finally:
                if cloud is not None:
                    cloud.fake.stop()
            everything.update(m)
            a, b = m[cms_label], m[bare_label]
            numbers = {"cpu": round(a.cpu, 4), "base_cpu": round(b.cpu, 4),
                       "wall": round(a.wall, 4), "base_wall": round(b.wall, 4),
                       "cpu_ratio": round(a.cpu / b.cpu, 3),
                       "wall_ratio": round(a.wall / b.wall, 3),
                       "fake_cpu": a.server_cpu, "base_fake_cpu": b.server_cpu,
                       "rss_mb": round(a.rss_mb, 1), "base_rss_mb": round(b.rss_mb, 1)}
            if metric == "cpu":
                row = ratio_row(section, "cms --output=json vs bare SDK script (client CPU)",
                                a.cpu, b.cpu, "", cloud.bare_label, limit, numbers=numbers)
                row.measured = (f"{ms(a.cpu)} CPU ({ms(a.wall)} wall, fake "
                                f"{ms(a.server_cpu or 0)})")
                row.compared = (f"{cloud.bare_label}: {ms(b.cpu)} CPU ({ms(b.wall)} wall, "
                                f"fake {ms(b.server_cpu or 0)})")
            else:
                row = ratio_row(section, "first use: cms --output=json vs bare SDK script "
                                "(wall)", a.wall, b.wall, "", cloud.bare_label, limit,
                                numbers=numbers)
                row.measured = f"{ms(a.wall)} wall ({ms(a.cpu)} CPU, {a.rss_mb:.0f} MB)"
                row.compared = (f"{cloud.bare_label}: {ms(b.wall)} wall ({ms(b.cpu)} CPU, "
                                f"{b.rss_mb:.0f} MB)")
            rows.append(row)
    return rows, everything


# ---- 3. cached -------------------------------------------------------------------------
def fill_cache(list_env: dict[str, str], cached_dir: Path) -> int:
    """Fill the cached cloud's state through the real code path: the 1,000 records that
    a live ``Provider.list()`` returned (which itself calls State.cache_replace), copied
    under new names and ids to 10,000, stored with State.cache_replace."""
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.provider import Provider
    from cloudmesh.compute.state import State

    list_dir = Path(list_env["CLOUDMESH_CONFIG_DIR"])
    live = Provider(LIST_CLOUDS[1000][0], config=Config(list_dir / "cloudmesh.yaml"),
                    state=State(list_dir / "cloudmesh.db")).list()
    records = []
    copies = -(-CACHED_VMS // len(live))
    for copy in range(copies):
        for record in live:
            if len(records) == CACHED_VMS:
                break
            record = dict(record, cloud="big", name=f"{record['name']}-{copy}",
                          id=f"{record['id']}{copy:x}")
            records.append(record)
    state = State(cached_dir / "cloudmesh.db")
    state.cache_replace("big", "vm", records)
    state.cache_replace("small", "vm", [dict(live[0], cloud="small")])
    count = len(state.cached("big"))
    state.close()
    return count


def bench_cached(env: dict[str, str], base: Measure, trio: Measure, runs: int
                 ) -> tuple[list[Row], dict[str, Measure]]:
    say(f"3. --cached with {CACHED_VMS:,} VMs ({runs} rounds)")
    commands = {
        "cms vm list --cached (10,000, table)": [CMS, "vm", "list", "--cloud=big", "--cached"],
        "cms vm list --cached (10,000, json)": [CMS, "vm", "list", "--cloud=big", "--cached",
                                                "--output=json"],
        "cms vm list --cached (1 VM, table)": [CMS, "vm", "list", "--cloud=small", "--cached"],
    }
    m = measure(commands, runs, env, progress=progress("cached"))
    rows = []
    for label in list(commands)[:2]:
        rows.append(ratio_row("cached", f"{label}: wall", m[label].wall, base.wall, "",
                              "python -c pass", 10,
                              numbers={"rss_mb": round(m[label].rss_mb, 1)}))
    label = "cms vm list --cached (1 VM, table)"
    rows.append(ratio_row("cached", f"{label} vs the imports (budget)", m[label].wall,
                          trio.wall, "", "python -c 'import yaml, docopt, tabulate'", 2))
    return rows, m


# ---- 4. fan-out ------------------------------------------------------------------------
def bench_fanout(env: dict[str, str], runs: int, fleet: dict[int, int], probe
                 ) -> tuple[list[Row], dict[str, Measure]]:
    rows: list[Row] = []
    everything: dict[str, Measure] = {}
    for size, regions in FANOUT.items():
        count = fleet[100] if size == 100 else 1
        say(f"4. fan-out over 4 clouds of {count} instances ({runs} rounds)")
        clouds = [f"f{size}{letter}" for letter in "abcd"]
        commands = {f"fan-out {size} {c}": [CMS, "vm", "list", f"--cloud={c}", "--output=json"]
                    for c in clouds}
        together = f"fan-out {size} {','.join(clouds)}"
        commands[together] = [CMS, "vm", "list", f"--cloud={','.join(clouds)}",
                              "--output=json"]
        m = measure(commands, runs, env, progress=progress(f"fan-out {count}"), probe=probe)
        everything.update(m)
        alone = [m[f"fan-out {size} {c}"] for c in clouds]
        slowest = max(alone, key=lambda x: x.wall)
        both = m[together]
        row = ratio_row(
            f"fan-out 4x{count}",
            f"cms vm list --cloud=a,b,c,d ({count} VM{'s' if count > 1 else ''} each): wall",
            both.wall, slowest.wall, "", "slowest cloud alone", 1.3,
            numbers={"alone_walls": [round(x.wall, 4) for x in alone],
                     "sum_alone": round(sum(x.wall for x in alone), 4),
                     "cpu": round(both.cpu, 4), "slowest_cpu": round(slowest.cpu, 4),
                     "moto_cpu": both.server_cpu, "slowest_moto_cpu": slowest.server_cpu,
                     "rss_mb": round(both.rss_mb, 1), "slowest_rss_mb": round(slowest.rss_mb, 1)})
        row.measured = (f"{ms(both.wall)} (client CPU {ms(both.cpu)}, "
                        f"moto CPU {ms(both.server_cpu or 0)})")
        row.compared = (f"slowest alone: {ms(slowest.wall)} (client CPU {ms(slowest.cpu)}, "
                        f"moto CPU {ms(slowest.server_cpu or 0)}); the four one after "
                        f"another: {ms(sum(x.wall for x in alone))}")
        rows.append(row)
    return rows, everything


# ---- 5. provider first use ---------------------------------------------------------------
FAKE_MULTIPASS = """#!/bin/sh
# a stand-in for the multipass client (a snap, not installable here): an empty host
case "$1" in
  list) echo '{"list": []}' ;;
  info) echo '{"errors": [], "info": {}}' ;;
  *) echo '{}' ;;
esac
"""


def bench_first_use(env: dict[str, str], url: str, workdir: Path, runs: int
                    ) -> tuple[list[Row], dict]:
    from cloudmesh.compute import registry

    rows: list[Row] = []
    raw: dict[str, Any] = {}
    script = str(HERE / "first_use.py")
    fake = workdir / "multipass"
    fake.write_text(FAKE_MULTIPASS)
    fake.chmod(0o755)
    recipes = {"aws": ([url, EMPTY_REGION], "import boto3 + boto3.client('ec2')",
                       "describe_instances paginator (empty region)"),
               "multipass": ([str(fake)], "import subprocess + shutil.which",
                             "subprocess.run(multipass list) + json (stand-in executable)")}
    for kind in sorted(registry.kinds()):
        say(f"5. first use of provider '{kind}' ({runs} rounds)")
        args, bare_label, call_label = recipes.get(kind, ([], "", ""))
        ways = {"cms": [PYTHON, script, "cms", kind, *args]}
        if kind in recipes:
            ways["bare"] = [PYTHON, script, "bare", kind, *args]
        phases: dict[str, list[dict]] = {way: [] for way in ways}
        failed = None
        for _ in range(runs + 1):   # the first round warms the file cache
            for way, argv in ways.items():
                done = subprocess.run(argv, env=env, capture_output=True, text=True,
                                      timeout=120)
                if done.returncode != 0:
                    failed = (done.stderr.strip().splitlines() or ["?"])[-1]
                    break
                phases[way].append(json.loads(done.stdout))
            if failed:
                break
        if failed:
            rows.append(Row(f"provider {kind}", "first use (import + client)", "failed",
                            failed, "-", "-", None))
            continue

        def median(way: str, phase: str) -> float:
            values = [p[phase] for p in phases[way][1:] if phase in p]
            return statistics.median(values) if values else 0.0

        raw[kind] = {way: {phase: round(median(way, phase), 4)
                           for phase in ("import", "client", "first_call")}
                     for way in ways}
        first = median("cms", "import") + median("cms", "client")
        detail = (f"import {ms(median('cms', 'import'))} + client "
                  f"{ms(median('cms', 'client'))}")
        if "bare" not in ways:
            rows.append(Row(f"provider {kind}", "first use in cms (import + construct)",
                            f"{ms(first)} ({detail})", "no bench recipe for its SDK",
                            "-", "-", None, raw[kind]))
            continue
        row = ratio_row(f"provider {kind}", "first use in cms (import + client)", first,
                        median("bare", "import") + median("bare", "client"), "", bare_label,
                        None, numbers=raw[kind])
        row.measured = f"{ms(first)} ({detail})"
        rows.append(row)
        rows.append(ratio_row(f"provider {kind}", "first list after that",
                              median("cms", "first_call"), median("bare", "first_call"), "",
                              call_label, None))
    return rows, raw


# ---- the table -------------------------------------------------------------------------
def render(rows: list[Row]) -> str:
    headers = ["section", "row", "measured", "compared with", "ratio", "target", "result"]
    table = [[r.section, r.name, r.measured, r.compared, r.ratio, r.target, r.verdict]
             for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *table)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
              for line in table]
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    lines = ["| section | row | measured | compared with | ratio | target | result |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.section, r.name, r.measured, r.compared, r.ratio, r.target, r.verdict]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def machine_busy() -> float:
    """Seconds of CPU time all processes of the machine have used so far (/proc/stat)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:9]]
    idle = values[3] + values[4]            # idle, iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process and of every process it started and reaped (the
    spawner and what it ran, moto's server, the helpers)."""
    import resource

    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def machine() -> dict[str, Any]:
    from importlib import metadata

    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for name in ("cloudmesh-compute", "cloudmesh-aws", "boto3", "botocore", "awscli", "moto",
                 "tabulate", "PyYAML", "docopt-ng", "openstacksdk", "azure-mgmt-compute",
                 "azure-mgmt-network", "google-cloud-compute", "oci"):
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--readme", action="store_true")
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"))
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--kinds", default=",".join(kind_clouds.KINDS))
    options = parser.parse_args()
    only = [x.strip() for x in options.only.split(",") if x.strip()]
    wanted_kinds = [x.strip() for x in options.kinds.split(",") if x.strip()]
    for name in only:
        if name not in SECTIONS:
            parser.error(f"--only: no section '{name}' (sections: {', '.join(SECTIONS)})")
    for name in wanted_kinds:
        if name not in kind_clouds.KINDS:
            parser.error(f"--kinds: no test cloud for '{name}' "
                         f"(kinds: {', '.join(kind_clouds.KINDS)})")
    for tool in (CMS,) if set(only) <= {"regions"} else (CMS, AWS):  # regions: no aws CLI
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench: {tool} not found; run 'make bench' (it installs "
                     "benchmarks/requirements.txt into the venv)")
    quick = options.quick
    reps = {"startup": 5 if quick else 21, "cached": 3 if quick else 11,
            "fanout": 2 if quick else 7, "first_use": 2 if quick else 7,
            "list": {1: 2, 100: 2, 1000: 1} if quick else {1: 11, 100: 9, 1000: 5},
            "kinds": {"big": 1, "small": 2} if quick else {"big": 5, "small": 11},
            "regions": 2 if quick else 5}
    fleet = {1: 1, 100: 20, 1000: 50} if quick else {1: 1, 100: 100, 1000: 1000}
    kinds_fleet = 50 if quick else 1000

    # a SIGTERM (make interrupted, CI timeout) unwinds through the finally below, which
    # stops moto's server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    busy_before, own_before = machine_busy(), own_cpu()
    begun = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="cms-bench-"))
    rows: list[Row] = []
    measures: dict[str, Measure] = {}
    extra: dict[str, Any] = {}
    server = MotoServer(workdir / "moto.log")
    failures: list[str] = []

    def guarded(section: str, function, *args) -> Any:
        """Run one section; a failure becomes a row and the other sections still run."""
        try:
            got, found = function(*args)
        except Exception as error:  # noqa: BLE001 - reported in the table
            first = (str(error).strip().splitlines() or [type(error).__name__])
            say(f"{section} failed: {error}")
            failures.append(section)
            rows.append(Row(section, "failed", first[0][:80], " ".join(first[1:])[-80:], "-",
                            "-", False))
            return {}
        rows.extend(got)
        return found

    try:
        home = workdir / "home"
        home.mkdir()
        # this process too (it fills the cache through the cms code): no AWS_* or proxy
        # settings of the caller, no ~/.aws
        scrubbed = child_env(home, workdir / "list")
        os.environ.clear()
        os.environ.update(scrubbed)
        extra["network_guard"] = guard_this_process()
        if not extra["network_guard"]:
            say(f"warning: {NETGUARD}/sitecustomize.py not found: connections beyond "
                "127.0.0.1 are avoided by configuration only, not refused")
        # 1. startup: no configuration at all (the configuration error row)
        startup_env = child_env(home, workdir / "no-config")
        if "startup" in only:
            measures.update(guarded("startup", bench_startup, startup_env, reps["startup"]))
        list_env = guard_network(child_env(home, workdir / "list"))

        def kinds_section() -> None:
            # 2b. the REST kinds, each on its own fake (started and stopped one by one)
            if "kinds" in only:
                measures.update(guarded("kinds", bench_kinds, list_env, workdir,
                                        reps["kinds"], kinds_fleet, wanted_kinds))

        if not {"list", "shell", "multipass", "cached", "fanout", "provider"} & set(only):
            kinds_section()
        else:   # moto's server, for the aws sections
            url = server.start()
            say(f"moto_server on {url}; filling regions")
            filled = time.perf_counter()
            clouds: dict[str, tuple[str, str]] = {}
            for size, (cloud, region) in LIST_CLOUDS.items():
                populate(url, region, fleet[size], f"vm{size}")
                clouds[cloud] = (region, url)
            for size, regions in FANOUT.items():
                count = fleet[100] if size == 100 else 1
                for letter, region in zip("abcd", regions):
                    populate(url, region, count, f"fan{size}{letter}")
                    clouds[f"f{size}{letter}"] = (region, url)
            extra["fill_seconds"] = round(time.perf_counter() - filled, 1)
            say(f"  filled in {extra['fill_seconds']} s")
            write_config(workdir / "list", clouds, LIST_CLOUDS[1000][0])

            if "list" in only:
                measures.update(guarded("list", bench_listing, list_env, url, reps["list"],
                                        fleet, server.cpu_seconds))
            if "multipass" in only:
                measures.update(guarded("multipass", bench_multipass, list_env, workdir,
                                        reps["cached"]))
            if "shell" in only:
                measures.update(guarded("shell", bench_shell, list_env, workdir,
                                        reps["cached"]))
            kinds_section()

            cached_env = child_env(home, workdir / "cached")
            write_config(workdir / "cached", {"big": ("eu-west-2", url),
                                              "small": ("eu-west-2", url)}, "big")

            def cached() -> tuple[list[Row], dict[str, Measure]]:
                extra["cached_vms"] = fill_cache(list_env, workdir / "cached")
                return bench_cached(cached_env, measures["python -c pass"],
                                    measures["python -c 'import yaml, docopt, tabulate'"],
                                    reps["cached"])

            if "cached" in only:
                measures.update(guarded("cached", cached))
            if "fanout" in only:
                measures.update(guarded("fan-out", bench_fanout, list_env, reps["fanout"],
                                        fleet, server.cpu_seconds))
            if "provider" in only:
                extra["first_use"] = guarded("provider", bench_first_use, list_env, url,
                                             workdir, reps["first_use"])
        if "regions" in only:  # every region, every cloud at once, on a moto of its own
            import regions as region_rows

            measures.update(guarded("regions", region_rows.section, list_env, workdir,
                                    reps["regions"], 20 if quick else 100, wanted_kinds))
    finally:
        server.stop()
        harness.close()
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - begun
    # the share of the machine's CPUs that processes other than this suite used meanwhile
    others = max(0.0, (machine_busy() - busy_before) - (own_cpu() - own_before))
    others_share = others / (elapsed * (os.cpu_count() or 1))

    table = render(rows)
    print(table)
    misses = [r for r in rows if r.ok is False]
    passed = sum(1 for r in rows if r.ok)
    print(f"\n{passed} targets met, {len(misses)} missed, "
          f"{sum(1 for r in rows if r.ok is None)} rows for information; "
          f"suite ran {elapsed:.0f} s{' (--quick)' if quick else ''}; other processes used "
          f"{others_share:.0%} of the CPUs meanwhile")
    load_after = os.getloadavg()
    print("load average (1, 5, 15 min): before "
          f"{', '.join(f'{x:.2f}' for x in load_before)}; after "
          f"{', '.join(f'{x:.2f}' for x in load_after)}")
    if others_share > 0.05:
        print("warning: other processes competed for the CPUs: figures are noisier than on "
              "a quiet machine (ratios less so)")
    result = {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": quick,
              "suite_seconds": round(elapsed, 1), "machine": machine(),
              "load_average": {"before": [round(x, 2) for x in load_before],
                               "after": [round(x, 2) for x in load_after]},
              "other_processes_cpu_share": round(others_share, 3),
              "sections": only, "kinds": wanted_kinds if "kinds" in only else [],
              "repetitions": reps, "fleet": fleet, "kinds_fleet": kinds_fleet,
              "rows": [dict(asdict(r), result=r.verdict) for r in rows],
              "measures": {k: v.as_dict() for k, v in measures.items()},
              "extra": extra, "markdown": markdown(rows)}
    path = Path(options.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")
    if options.readme:
        update_readme(result, rows)
    return 1 if failures or (options.strict and misses) else 0


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def update_readme(result: dict, rows: list[Row]) -> None:
    """Put this run's table between the markers of benchmarks/README.md."""
    readme = HERE / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        say(f"{readme} has no {BEGIN} ... {END} markers; not updated")
        return
    info = result["machine"]
    misses = sum(1 for r in rows if r.ok is False)
    met = sum(1 for r in rows if r.ok)
    block = "\n".join([
        BEGIN,
        f"Run of {result['generated']}{' (--quick)' if result['quick'] else ''}: "
        f"{info.get('cpus')} CPUs ({info.get('cpu', '?')}), Python {info['python']}, "
        f"boto3 {info.get('boto3')}, awscli {info.get('awscli')}, moto {info.get('moto')}, "
        f"openstacksdk {info.get('openstacksdk')}, azure-mgmt-compute "
        f"{info.get('azure-mgmt-compute')}, google-cloud-compute "
        f"{info.get('google-cloud-compute')}, oci {info.get('oci')}; "
        f"other processes used {result['other_processes_cpu_share']:.0%} of the CPUs "
        "meanwhile (load average "
        f"{', '.join(f'{x:.1f}' for x in result['load_average']['before'])} before, "
        f"{', '.join(f'{x:.1f}' for x in result['load_average']['after'])} after). "
        f"The suite ran {result['suite_seconds']:.0f} s: {met} targets met, {misses} missed.",
        "",
        result["markdown"],
        END])
    start, end = text.index(BEGIN), text.index(END) + len(END)
    readme.write_text(text[:start] + block + text[end:])
    print(f"table written into {readme}")


if __name__ == "__main__":
    sys.exit(main())
