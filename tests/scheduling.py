"""Longest test files first, so two xdist workers finish together.

``make test`` hands whole files to the workers (``--dist loadfile``) in collection order
(``--no-loadscope-reorder``: xdist's own reordering, by number of tests, sent a 3-test file
that runs two minutes to a worker last, and the run waited for it). This plugin sorts the
files by how long each took: the seconds of the last run on this machine (pytest's cache,
written by the controller at the end of a run) and, for a file the cache does not know (a
fresh clone, CI), the seconds in ``file_seconds.json`` beside it (a full run's figures,
refreshed with ``make test PYTEST_ARGS=--update-file-seconds``). Tests keep their order
inside a file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

CACHE_KEY = "cms/file-seconds"
COMMITTED = Path(__file__).with_name("file_seconds.json")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-file-seconds", action="store_true", default=False,
                     help=f"write each test file's seconds of this run to {COMMITTED.name}")


def _known_seconds(config: pytest.Config) -> dict[str, float]:
    try:
        seconds = json.loads(COMMITTED.read_text())
    except (OSError, ValueError):
        seconds = {}
    cache = getattr(config, "cache", None)
    if cache is not None:
        seconds.update(cache.get(CACHE_KEY, {}))
    return {name: value for name, value in seconds.items() if isinstance(value, (int, float))}


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seconds = _known_seconds(config)
    # a file nobody has timed yet goes before the short ones: it may be long
    unknown = sorted(seconds.values())[len(seconds) // 2] if seconds else 0.0
    position = {}
    for index, item in enumerate(items):
        position.setdefault(_file_of(item.nodeid), index)
    items.sort(key=lambda item: (-seconds.get(_file_of(item.nodeid), unknown),
                                 position[_file_of(item.nodeid)]))


class _Timer:
    """On the controller (or a run without workers): each file's summed seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[_file_of(report.nodeid)] += report.duration


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # not inside an xdist worker
        config.pluginmanager.register(_Timer(), "cms-file-timer")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    timer = config.pluginmanager.get_plugin("cms-file-timer")
    if timer is None or not timer.seconds:
        return
    measured = {name: round(value, 1) for name, value in timer.seconds.items()}
    cache = getattr(config, "cache", None)
    if cache is not None:
        cache.set(CACHE_KEY, {**cache.get(CACHE_KEY, {}), **measured})
    if config.getoption("--update-file-seconds"):
        COMMITTED.write_text(json.dumps(dict(sorted(measured.items())), indent=1) + "\n")
