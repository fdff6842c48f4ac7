"""A small timing harness: whole-process runs with wall time, client CPU and peak RSS.

Each run is one child process, started by the small helper spawner.py with posix_spawn
and reaped with ``os.wait4``, whose ``rusage`` is that child's own (user + system CPU,
``ru_maxrss``): the moto server is another process, so its time is never counted as the
client's. Commands are run round
robin (A B C, A B C, ...) after one warm-up each, so that a slow phase of the machine
touches every command alike; the figure of a command is the median of its runs.
"""

from __future__ import annotations

import atexit
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


@dataclass
class Sample:
    wall: float       # seconds
    cpu: float        # seconds, user + system of the child
    rss_mb: float     # peak resident set size of the child, MiB
    code: int
    server_cpu: float | None = None   # seconds of CPU the server used meanwhile (probe)


@dataclass
class Measure:
    """The runs of one command; figures are medians."""

    label: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def rss_mb(self) -> float:
        return statistics.median(s.rss_mb for s in self.samples)

    @property
    def server_cpu(self) -> float | None:
        values = [s.server_cpu for s in self.samples if s.server_cpu is not None]
        return statistics.median(values) if values else None

    @property
    def codes(self) -> list[int]:
        return sorted({s.code for s in self.samples})

    def as_dict(self) -> dict:
        return {"label": self.label, "argv": self.argv, "runs": len(self.samples),
                "wall_s": round(self.wall, 4), "cpu_s": round(self.cpu, 4),
                "rss_mb": round(self.rss_mb, 1), "exit_codes": self.codes,
                "server_cpu_s": (None if self.server_cpu is None
                                 else round(self.server_cpu, 3)),
                "walls_s": [round(s.wall, 4) for s in self.samples],
                "cpus_s": [round(s.cpu, 4) for s in self.samples]}


class CommandFailed(RuntimeError):
    pass


class Spawner:
    """The small helper process (spawner.py) that starts each command and reaps it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.errors = Path(tempfile.mkstemp(prefix="cms-bench-stderr-")[1])

    def start(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-S", "-I", str(Path(__file__).with_name("spawner.py"))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, argv: Sequence[str], env: dict[str, str], timeout: int) -> tuple[str, ...]:
        self.start()
        items = [f"{k}={v}" for k, v in env.items()]
        fields = [str(timeout), str(self.errors), str(len(items)), *items, *argv]
        if any(("\x1f" in f or "\n" in f) for f in fields):
            raise ValueError("a command or environment value holds a newline or \\x1f")
        assert self.process and self.process.stdin and self.process.stdout
        self.process.stdin.write("\x1f".join(fields) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        if not answer:
            raise CommandFailed("the spawner died")
        if answer[0] == "error":
            raise CommandFailed(" ".join(answer[1:]))
        return tuple(answer[1:])

    def stderr_text(self) -> str:
        try:
            return self.errors.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        if self.process is not None:
            if self.process.stdin:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        self.errors.unlink(missing_ok=True)


_spawner = Spawner()
atexit.register(_spawner.close)


def close() -> None:
    """Stop the spawner now (its CPU then counts in this process's RUSAGE_CHILDREN)."""
    _spawner.close()


def run_once(argv: Sequence[str], env: dict[str, str] | None = None,
             expect: Sequence[int] = (0,), timeout: int = 120) -> Sample:
    """Run ``argv`` once (stdin and stdout /dev/null; stderr kept for a failure report)."""
    wall, utime, stime, maxrss, code, timed_out = _spawner.run(
        argv, dict(os.environ if env is None else env), timeout)
    if timed_out == "1":
        raise CommandFailed(f"timed out after {timeout}s: {' '.join(argv)}")
    code_number = int(code)
    if code_number not in expect:
        raise CommandFailed(f"exit code {code_number} (expected {list(expect)}) from "
                            f"{' '.join(argv)}:\n{_spawner.stderr_text().strip()[-2000:]}")
    return Sample(wall=float(wall), cpu=float(utime) + float(stime),
                  rss_mb=int(maxrss) / 1024.0, code=code_number)


def measure(commands: dict[str, Sequence[str]], runs: int, env: dict[str, str] | None = None,
            expect: dict[str, Sequence[int]] | None = None, warmup: int = 1,
            progress=None, probe=None,
            envs: dict[str, dict[str, str]] | None = None) -> dict[str, Measure]:
    """Run each command ``runs`` times, round robin, after ``warmup`` unmeasured runs.
    ``probe()``, if given, returns a server's CPU seconds so far; each sample records how
    much it grew during the run. ``envs`` gives a command its own environment instead of
    ``env`` (a bare script that reads its credentials from the environment)."""
    expect = expect or {}
    envs = envs or {}
    results = {label: Measure(label, list(argv)) for label, argv in commands.items()}
    for _ in range(warmup):
        for label, argv in commands.items():
            run_once(argv, envs.get(label, env), expect.get(label, (0,)))
    for round_number in range(runs):
        for label, argv in commands.items():
            before = probe() if probe else None
            sample = run_once(argv, envs.get(label, env), expect.get(label, (0,)))
            if probe:
                sample.server_cpu = probe() - before
            results[label].samples.append(sample)
        if progress:
            progress(round_number + 1, runs)
    return results
