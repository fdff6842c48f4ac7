"""The SQLite state: variables, the name counter, the cache, and concurrent writers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cloudmesh.compute import State


def test_variables(tmp_path: Path) -> None:
    state = State(tmp_path / "cloudmesh.db")
    assert state.get("cloud") is None and state.variables() == {}
    state.set("cloud", "a")
    state.set("cloud", "b")
    assert state.get("cloud") == "b" and state.variables() == {"cloud": "b"}
    assert state.delete("cloud") and not state.delete("cloud")
    assert (tmp_path / "cloudmesh.db").stat().st_mode & 0o777 == 0o600


def test_counter_reserve_and_release(tmp_path: Path) -> None:
    state = State(tmp_path / "cloudmesh.db")
    assert state.next_counter("vm", 3) == 1
    assert state.next_counter("vm") == 4
    assert state.release_counter("vm", 4, 1) and state.counter("vm") == 3
    first = state.next_counter("vm", 2)
    other = State(tmp_path / "cloudmesh.db").next_counter("vm")  # someone else reserved more
    assert not state.release_counter("vm", first, 2)
    assert other == first + 2


def test_cache_replace_and_find(tmp_path: Path) -> None:
    state = State(tmp_path / "cloudmesh.db")
    state.cache_replace("a", "vm", [{"name": "x", "status": "running"},
                                    {"name": "y", "status": "stopped"}])
    state.cache_replace("b", "vm", [{"name": "x", "status": "running"}])
    assert [r["name"] for r in state.cached("a")] == ["x", "y"]
    state.cache_replace("a", "vm", [{"name": "y", "status": "running"}])  # x gone elsewhere
    assert [r["name"] for r in state.cached("a")] == ["y"]
    assert len(state.find("x")) == 1 and len(state.cached(None)) == 2
    state.cache_remove("a", "vm", "y")
    assert state.cached("a") == []


def test_concurrent_processes_lose_no_counter_update(tmp_path: Path) -> None:
    db = tmp_path / "cloudmesh.db"
    script = ("import sys; from cloudmesh.compute.state import State\n"
              "s = State(sys.argv[1])\n"
              "print(' '.join(str(s.next_counter('vm')) for _ in range(25)))\n"
              "s.set('v' + sys.argv[2], sys.argv[2])\n")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(db), str(i)],
                                  stdout=subprocess.PIPE, text=True) for i in range(8)]
    numbers = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        numbers += [int(n) for n in out.split()]
    assert sorted(numbers) == list(range(1, 201))  # every number handed out exactly once
    state = State(db)
    assert state.counter("vm") == 200 and len(state.variables()) == 8


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "cloudmesh.db"
    old = sqlite3.connect(db)  # the schema of the first release: no table cells
    old.executescript(
        "CREATE TABLE cache (cloud TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, "
        "record TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (cloud, kind, name));"
        "CREATE TABLE variables (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO variables VALUES ('cloud', 'kept');"
        "INSERT INTO cache VALUES ('a', 'vm', 'x', '{\"name\": \"x\", \"status\": \"running\"}', 0);")
    old.commit()
    old.close()
    state = State(db)
    assert state.get("cloud") == "kept"
    assert [r["name"] for r in state.cached("a")] == ["x"]
    assert state.cached_cells("a") == [[]]  # no cells yet: callers fall back to records
    state.cache_put("a", "vm", {"name": "y", "status": "stopped", "cloud": "a"})
    assert state.cached_cells("a") == [[], []]  # one row without cells: all fall back
    state.cache_replace("a", "vm", [{"name": "z", "status": "running", "cloud": "a"}])
    assert state.cached_cells("a")[0][:3] == ["z", "running", "a"]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == State.SCHEMA_VERSION


def test_an_icmp_all_rule_is_stored_once(tmp_path: Path) -> None:
    # its ports are NULL, which SQLite's UNIQUE treats as distinct: adding must look first
    state = State(tmp_path / "cloudmesh.db")
    state.secgroup_put("g", "web")
    rule = {"direction": "ingress", "protocol": "icmp", "from_port": None, "to_port": None,
            "cidr": "0.0.0.0/0"}
    assert state.secgroup_rule("g", rule, add=True) is True
    assert state.secgroup_rule("g", rule, add=True) is False
    state.secgroup_put("g", "web", rules=[rule, dict(rule)])
    assert len(state.secgroup_get("g")["rules"]) == 1
    assert state.secgroup_rule("g", rule, add=False) is True
    assert state.secgroup_get("g")["rules"] == []
