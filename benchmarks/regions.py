"""Bench rows of issue 24: every region, every cloud, at once.

1. All 10 regions of one AWS account (moto serves every region on one port; 100 VMs in
   each): ``cms vm list --region=all`` against one region alone (budget 1.5x).
2. Every kind's test cloud at once (moto and the REST fakes, 100 VMs each):
   ``cms vm list --cloud=all`` and ``cms check`` over all, against the slowest cloud
   alone, and against the machine's floor: the bare SDK scripts run at once as separate
   processes, over the slowest bare script alone (budget: 1.3x that floor). The same
   with ``CMS_IN_PROCESS=1`` (every kind in one process, as before issue 24) is shown.

What limits row 1 (measured 2026-12-06, 2 shared cores, load ~7, 3 runs): 5.41 s for
10 regions against 1.34 s for one (4.0x). moto used 3.59 s of CPU serving the 10 regions
(0.36 s for one) in its one process, so its interpreter lock alone puts the floor near
3.59 / 1.34 = 2.7x: real EC2 answers each region from its own endpoint. cms used 2.22 s
of CPU (0.91 s for one): of the 1.3 s more, ~0.7 s is botocore building a new EC2 client
class for every region (~75 ms each: 862 operation methods; made under the shared
session's lock, as sessions are not thread-safe), the rest parsing 900 more records and
writing each region's cache (~15 ms a region); found by running each region's
``Provider(cloud, region=R).list()`` in turn under cProfile.
Rows 2 and 3 (same run; 5 kinds on 2 cores, so the bare scripts' floor is 3.3x the
slowest alone): cms vm list --cloud=all 1.01x that floor, cms check 1.04x; with 5 kinds on
2 cores the workers buy nothing here (in one process: 0.98x and 0.84x, no child start-up).

Usage: python benchmarks/regions.py [--runs=N] [--kinds=openstack,azure,google,oracle]
The same rows come from ``python benchmarks/run.py --only=regions``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kinds as kind_clouds  # noqa: E402
from harness import measure  # noqa: E402
from moto_fixture import FAKE_KEY_ID, FAKE_SECRET, MotoServer, populate  # noqa: E402

BIN = Path(sys.executable).parent
CMS = str(BIN / "cms")
TEN_REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1",
               "eu-west-2", "eu-central-1", "ap-south-1", "ap-northeast-1", "sa-east-1"]
REGIONS_LIMIT, KINDS_LIMIT = 1.5, 1.3


def aws_spec(url: str, region: str, regions: list[str] | None = None) -> dict:
    spec = {"cm": {"kind": "aws"},
            "credentials": {"region": region, "endpoint_url": url,
                            "access_key_id": FAKE_KEY_ID, "secret_access_key": FAKE_SECRET}}
    if regions:
        spec["regions"] = regions
    return spec


def write(config_dir: Path, clouds: dict[str, dict]) -> None:
    import yaml

    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "cloudmesh.yaml"
    path.write_text(yaml.safe_dump({"cloudmesh": {"profile": {"user": "bench"},
                                                  "compute": clouds}}, sort_keys=False))
    path.chmod(0o600)


def bare_at_once(commands: list[list[str]]) -> list[str]:
    """One shell line that starts every bare script at once and waits for all."""
    return ["/bin/sh", "-c", " ".join(shlex.join(c) + " >/dev/null &" for c in commands) + " wait"]


def bench_regions(url: str, env: dict[str, str], workdir: Path, runs: int,
                  fleet: int, probe=None) -> list:
    """The 10-region row. ``probe`` (moto's CPU seconds so far) shows what limits it: one
    moto process serves every region, its answers share one interpreter lock, so moto's
    CPU per run bounds the wall time of all regions at once from below."""
    from run import ratio_row, say

    say(f"regions: {len(TEN_REGIONS)} regions of moto x {fleet} VMs")
    for region in TEN_REGIONS:
        populate(url, region, fleet, f"r{region}")
    config_dir = workdir / "regions"
    write(config_dir, {"acct": aws_spec(url, "us-east-1", TEN_REGIONS)})
    cms_env = dict(env, CLOUDMESH_CONFIG_DIR=str(config_dir))
    commands = {"one region": [CMS, "vm", "list", "--cloud=acct", "-o", "json"],
                "all regions": [CMS, "vm", "list", "--cloud=acct", "--region=all",
                                "-o", "json"]}
    m = measure(commands, runs, cms_env, probe=probe)
    row = ratio_row(f"regions {len(TEN_REGIONS)}x{fleet}",
                    "cms vm list --region=all (10 regions) vs one region: wall",
                    m["all regions"].wall, m["one region"].wall, "", "one region alone",
                    REGIONS_LIMIT, numbers={"cpu": round(m["all regions"].cpu, 4),
                                            "one_cpu": round(m["one region"].cpu, 4)})
    if probe is not None:  # moto's share: the floor of the all-regions wall time
        row.numbers.update(moto_cpu=round(m["all regions"].server_cpu or 0, 4),
                           one_moto_cpu=round(m["one region"].server_cpu or 0, 4))
        row.compared += (f"; client CPU {m['all regions'].cpu:.2f} s vs {m['one region'].cpu:.2f} s; "
                    f"moto CPU {m['all regions'].server_cpu or 0:.2f} s vs "
                    f"{m['one region'].server_cpu or 0:.2f} s (one process serves all)")
    return [row]


def bench_all_kinds(url: str, env: dict[str, str], workdir: Path, runs: int, fleet: int,
                    wanted: list[str], python: str) -> list:
    from run import Row, ms, ratio_row, say

    say(f"all kinds at once: aws + {', '.join(wanted)} ({fleet} VMs each)")
    populate(url, "ca-central-1", fleet, "kinds")
    clouds = {"aws": aws_spec(url, "ca-central-1")}
    bares = {"aws": [python, str(HERE / "boto3_list.py"), url, "ca-central-1"]}
    bare_envs: dict[str, str] = {}
    started = []
    rows: list = []
    try:
        for kind in wanted:
            try:
                cloud = kind_clouds.start(kind, kind, fleet, env, workdir, python)
            except Exception as error:  # noqa: BLE001 - that kind is left out, and said
                say(f"  {kind}: its test cloud did not start, left out: "
                    f"{str(error).strip().splitlines()[-1][:120]}")
                continue
            started.append(cloud)
            clouds[kind] = cloud.spec
            bares[kind] = cloud.bare
            bare_envs.update(cloud.bare_env)
        config_dir = workdir / "kinds"
        write(config_dir, clouds)
        cms_env = dict(env, CLOUDMESH_CONFIG_DIR=str(config_dir), **bare_envs)
        commands = {f"list {k}": [CMS, "vm", "list", f"--cloud={k}", "-o", "json"]
                    for k in clouds}
        commands.update({f"check {k}": [CMS, "check", k, "--output=json"] for k in clouds})
        commands["list all"] = [CMS, "vm", "list", "--cloud=all", "-o", "json"]
        commands["check all"] = [CMS, "check", "--output=json"]
        commands.update({f"bare {k}": bares[k] for k in clouds})
        commands["bare all"] = bare_at_once(list(bares.values()))
        in_process = {"list all (one process)": commands["list all"],
                      "check all (one process)": commands["check all"]}
        m = measure(commands, runs, cms_env)
        m.update(measure(in_process, runs, dict(cms_env, CMS_IN_PROCESS="1")))
        floor = m["bare all"].wall / max(m[f"bare {k}"].wall for k in clouds)
        rows.append(Row("all kinds", "floor: bare scripts at once vs slowest bare alone",
                        ms(m["bare all"].wall),
                        f"slowest bare: {ms(max(m[f'bare {k}'].wall for k in clouds))}",
                        f"{floor:.2f}x", "-", None, {"floor": round(floor, 3)}))
        for verb in ("list", "check"):
            slowest = max((m[f"{verb} {k}"] for k in clouds), key=lambda x: x.wall)
            for label in (f"{verb} all", f"{verb} all (one process)"):
                row = ratio_row("all kinds", f"cms {label} vs slowest alone, over the floor",
                                m[label].wall / floor, slowest.wall, "",
                                f"slowest ({slowest.label}) x floor",
                                KINDS_LIMIT if "one process" not in label else None,
                                numbers={"wall": round(m[label].wall, 4),
                                         "slowest": round(slowest.wall, 4),
                                         "plain_ratio": round(m[label].wall / slowest.wall, 3)})
                row.measured = (f"{ms(m[label].wall)} wall ({m[label].wall / slowest.wall:.2f}x "
                                "the slowest alone)")
                rows.append(row)
    finally:
        for cloud in started:
            cloud.fake.stop()
    return rows


def section(env: dict[str, str], workdir: Path, runs: int, fleet: int, kinds: list[str],
            python: str = sys.executable) -> tuple[list, dict]:
    """``run.py --only=regions``: both row groups on a moto server of their own (the list
    sections' regions hold other fleets)."""
    server = MotoServer(workdir / "moto-regions.log")
    try:
        url = server.start()
        rows = bench_regions(url, env, workdir, runs, fleet, server.cpu_seconds)
        from run import render, say

        say(render(rows))  # shown now: the all-kinds rows take minutes more
        rows += bench_all_kinds(url, env, workdir, runs, fleet, kinds, python)
    finally:
        server.stop()
    return rows, {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fleet", type=int, default=100)
    parser.add_argument("--kinds", default=",".join(kind_clouds.KINDS))
    options = parser.parse_args()
    from run import child_env, guard_network, render

    workdir = Path(tempfile.mkdtemp(prefix="cms-bench-regions-"))
    (workdir / "home").mkdir()
    env = guard_network(child_env(workdir / "home", workdir / "none"))
    rows, _ = section(env, workdir, options.runs, options.fleet,
                      [k for k in options.kinds.split(",") if k])
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
