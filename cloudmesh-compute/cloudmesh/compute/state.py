"""Local state: one SQLite database beside the config (``cloudmesh.db``, WAL mode).

It holds the variables of ``cms set``, the VM name counter and the last seen VMs, images
and flavors of each cloud. Every write is one transaction, so several cms processes at
once neither corrupt it nor lose an update (SQLite's locking; ``BEGIN IMMEDIATE`` for
read-modify-write such as the counter).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import weakref
from pathlib import Path

TYPE_CHECKING = False  # typing costs 3 ms at start-up; type checkers see True
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator  # noqa: F401

from cloudmesh.compute.errors import ConfigError
from cloudmesh.compute.files import config_dir, ensure_dir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS variables (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cache (
    cloud TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    record TEXT NOT NULL, updated REAL NOT NULL, cells TEXT,
    PRIMARY KEY (cloud, kind, name));
CREATE INDEX IF NOT EXISTS cache_by_name ON cache (kind, name);
CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY, type TEXT NOT NULL, fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL, path TEXT, private_path TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS secgroups (name TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secgroup_rules (
    secgroup TEXT NOT NULL REFERENCES secgroups(name) ON DELETE CASCADE,
    direction TEXT NOT NULL, protocol TEXT NOT NULL, from_port INTEGER, to_port INTEGER,
    cidr TEXT NOT NULL,
    UNIQUE (secgroup, direction, protocol, from_port, to_port, cidr));
CREATE TABLE IF NOT EXISTS reservations (
    cloud TEXT NOT NULL, name TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (cloud, name));
CREATE TABLE IF NOT EXISTS boots (
    cloud TEXT NOT NULL, name TEXT NOT NULL, key TEXT, username TEXT, created REAL NOT NULL,
    PRIMARY KEY (cloud, name));
"""


def _cells(record: dict[str, Any], kind: str) -> str | None:
    """The table cells stored beside a cached VM, so that ``vm list --cached`` prints a
    table of 10,000 VMs without parsing a record."""
    if kind != "vm":
        return None
    from cloudmesh.compute.cells import VM_COLUMNS, table_cells

    return json.dumps(table_cells([record], VM_COLUMNS)[0], default=str)


#: the databases this process has open (close_all: what a process's exit does)
_OPEN: "weakref.WeakSet[State]" = weakref.WeakSet()


def close_all() -> None:
    """Close every open state database, as the end of a process would: its write-ahead
    log goes back into the file (the in-process runner calls it after each command)."""
    for state in list(_OPEN):
        state.close()


class State:
    """The cms state database. Cheap to open; the file is created on first use."""

    FILENAME = "cloudmesh.db"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else config_dir() / self.FILENAME
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def db(self) -> sqlite3.Connection:
        if self._connection is None:
            if self.path.is_dir():
                raise ConfigError(f"{self.path} is a directory, not the state database",
                                  "move it away; cms creates the file itself")
            ensure_dir(self.path.parent)
            self._make_private()
            try:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA busy_timeout = 30000")
                self._retry(lambda: connection.execute("PRAGMA journal_mode = WAL"))
                self._retry(lambda: self._migrate(connection))
                self._check_pages(connection)
            except sqlite3.OperationalError as error:  # locked, no space, no permission
                raise ConfigError(f"cannot open the state database {self.path}: {error}",
                                  "try again; check the disk and the file's owner") from None
            except sqlite3.DatabaseError as error:  # not SQLite, or a damaged page
                raise self.corrupt(error) from None
            self._connection = connection
            _OPEN.add(self)
        return self._connection

    def _check_pages(self, connection: sqlite3.Connection) -> None:
        """A damaged page must stop the command when the database is opened, before any
        cloud is touched, not after a VM was created. quick_check reads every page: 0.1 ms
        for a usual database, 6-12 ms for 10,000 cached VMs, so it runs only when the
        files changed since the last check passed (their inode, size and time are kept in
        .cloudmesh.db.checked): a repeated 'cms vm list --cached' does not pay it."""
        import os

        stamp = []
        for suffix in ("", "-wal"):
            try:
                info = os.stat(f"{self.path}{suffix}")
            except OSError:
                info = None
            if info is None or info.st_size == 0:  # (each process makes a new empty -wal)
                stamp.append("-")
            else:
                stamp.append(f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}")
        stamp_text = " ".join(stamp)
        checked = self.path.with_name(f".{self.path.name}.checked")
        try:
            if checked.read_text() == stamp_text:
                return
        except (OSError, UnicodeDecodeError):
            pass
        problems = self._retry(lambda: connection.execute("PRAGMA quick_check(1)").fetchone())
        if problems is None or problems[0] != "ok":
            raise sqlite3.DatabaseError(problems[0] if problems else "damaged")
        try:
            fd = os.open(checked, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(stamp_text)
        except OSError:
            pass  # checked again next time

    def corrupt(self, error: Exception) -> ConfigError:
        """The configuration error for a database SQLite cannot read."""
        detail = " ".join(str(error).replace("*** in database main ***", "").split())
        return ConfigError(f"the state database {self.path} is damaged ({detail})",
                           f"move it away (mv {self.path} {self.path}.broken); cms then "
                           "starts a new one without the cache, 'cms set' variables and "
                           "local keys and groups")

    def _make_private(self) -> None:
        """The database and its -wal and -shm files, mode 0600. Created here first with
        that mode, because SQLite gives -wal and -shm the mode of the database file."""
        import os

        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            return  # reported by sqlite3.connect with its own words
        for suffix in ("", "-wal", "-shm"):
            try:
                path = f"{self.path}{suffix}"
                if os.stat(path).st_mode & 0o077:
                    os.chmod(path, 0o600)
            except OSError:
                pass

    SCHEMA_VERSION = 3

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Create the tables, or bring an older database up to date (PRAGMA user_version
        counts the schema changes)."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version >= self.SCHEMA_VERSION:
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version < self.SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                columns = [r[1] for r in connection.execute("PRAGMA table_info(cache)")]
                if "cells" not in columns:  # version 1 had no table cells in the cache
                    connection.execute("ALTER TABLE cache ADD COLUMN cells TEXT")
                connection.execute(f"PRAGMA user_version = {self.SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @staticmethod
    def _retry(action, attempts: int = 50):
        # Setting WAL mode and creating tables need a write lock that a busy_timeout does
        # not always wait for (SQLITE_BUSY on schema changes); try again briefly.
        for attempt in range(attempts):
            try:
                return action()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == attempts - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def _write(self, statements: Iterable[tuple[str, tuple]]) -> list[sqlite3.Cursor]:
        """Run statements in one IMMEDIATE transaction."""
        with self._lock:
            db = self.db
            self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
            try:
                cursors = [db.execute(sql, params) for sql, params in statements]
                db.execute("COMMIT")
                return cursors
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ---- variables (cms set) -------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        if not self.path.exists():
            return default
        with self._lock:
            row = self.db.execute("SELECT value FROM variables WHERE name = ?", (name,)).fetchone()
        return row[0] if row else default

    def set(self, name: str, value: str) -> None:
        self._write([("INSERT INTO variables (name, value) VALUES (?, ?) "
                      "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))])

    def delete(self, name: str) -> bool:
        (cursor,) = self._write([("DELETE FROM variables WHERE name = ?", (name,))])
        return cursor.rowcount > 0

    def variables(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        with self._lock:
            rows = self.db.execute("SELECT name, value FROM variables ORDER BY name").fetchall()
        return dict(rows)

    # ---- counters --------------------------------------------------------------------
    def next_counter(self, name: str = "vm", count: int = 1) -> int:
        """Reserve ``count`` numbers atomically; returns the first one (numbers start at 1)."""
        with self._lock:
            db = self.db
            self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
            try:
                row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
                current = row[0] if row else 0
                db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                           "DO UPDATE SET value = excluded.value", (name, current + count))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return current + 1

    def release_counter(self, name: str, first: int, count: int) -> bool:
        """Give back numbers reserved by next_counter if nobody reserved more since
        (a failed boot then leaves the counter as it was)."""
        (cursor,) = self._write([("UPDATE counters SET value = ? WHERE name = ? AND value = ?",
                                  (first - 1, name, first + count - 1))])
        return cursor.rowcount > 0

    def counter(self, name: str = "vm") -> int:
        if not self.path.exists():
            return 0
        with self._lock:
            row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    # ---- cache of records --------------------------------------------------------------
    def cache_replace(self, cloud: str, kind: str, records: list[dict[str, Any]]) -> None:
        """Replace every cached record of one kind for a cloud (a live list is the truth:
        VMs deleted elsewhere disappear)."""
        now = time.time()
        rows = [(cloud, kind, r["name"], json.dumps(r, default=str), now, _cells(r, kind))
                for r in records]
        with self._lock:
            db = self.db
            self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
            try:
                db.execute("DELETE FROM cache WHERE cloud = ? AND kind = ?", (cloud, kind))
                db.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def cache_put(self, cloud: str, kind: str, record: dict[str, Any]) -> None:
        self._write([("INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?)",
                      (cloud, kind, record["name"], json.dumps(record, default=str),
                       time.time(), _cells(record, kind)))])

    def cached_json(self, cloud: str, kind: str = "vm") -> list[str]:
        """The cached records of a cloud as the JSON texts they are stored as (printing
        them needs no parse and no encode)."""
        if not self.path.exists():
            return []
        with self._lock:
            rows = self.db.execute("SELECT record FROM cache WHERE cloud = ? AND kind = ? "
                                   "ORDER BY name", (cloud, kind)).fetchall()
        return [r[0] for r in rows]

    def cached_cells(self, cloud: str, kind: str = "vm") -> list[list[str]]:
        """The stored table cells of a cloud's cached records ([] where none are)."""
        if not self.path.exists():
            return []
        with self._lock:
            rows = self.db.execute("SELECT cells FROM cache WHERE cloud = ? AND kind = ? "
                                   "ORDER BY name", (cloud, kind)).fetchall()
        if any(r[0] is None for r in rows):
            return [[]] * len(rows)  # some records have no cells: the caller falls back
        return json.loads("[" + ",".join(r[0] for r in rows) + "]")

    def cache_age(self, cloud: str, kind: str = "vm") -> tuple[int, float | None]:
        """How many records of a kind are cached for a cloud, and when the oldest of them
        was stored (a time.time() value; None when there are none)."""
        if not self.path.exists():
            return 0, None
        with self._lock:
            count, oldest = self.db.execute(
                "SELECT COUNT(*), MIN(updated) FROM cache WHERE cloud = ? AND kind = ?",
                (cloud, kind)).fetchone()
        return int(count), oldest

    def cache_regions(self, cloud: str, kind: str = "vm") -> list[str]:
        """The regions whose records of a cloud are cached apart (keys ``cloud@region``,
        written by a list with --region), sorted."""
        if not self.path.exists():
            return []
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT cloud FROM cache WHERE kind = ? AND substr(cloud, 1, ?) = ?",
                (kind, len(cloud) + 1, cloud + "@")).fetchall()
        return sorted(r[0][len(cloud) + 1:] for r in rows)

    def cache_remove(self, cloud: str, kind: str, name: str) -> None:
        self._write([("DELETE FROM cache WHERE cloud = ? AND kind = ? AND name = ?",
                      (cloud, kind, name))])

    def cached(self, cloud: str | None, kind: str = "vm") -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._lock:
            if cloud is None:
                rows = self.db.execute("SELECT record FROM cache WHERE kind = ? ORDER BY cloud, name",
                                       (kind,)).fetchall()
            else:
                rows = self.db.execute(
                    "SELECT record FROM cache WHERE cloud = ? AND kind = ? ORDER BY name",
                    (cloud, kind)).fetchall()
        # one parse of one array is much faster than a json.loads per row
        return json.loads("[" + ",".join(r[0] for r in rows) + "]")

    # ---- local key registry -------------------------------------------------------------
    _KEY_COLUMNS = ("name", "type", "fingerprint", "public_key", "path", "private_path")

    def key_put(self, key: dict[str, Any]) -> None:
        self._write([("INSERT OR REPLACE INTO keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (*(key.get(c) for c in self._KEY_COLUMNS), time.time()))])

    def key_get(self, name: str) -> dict[str, Any] | None:
        keys = self._keys("WHERE name = ?", (name,))
        return keys[0] if keys else None

    def keys(self) -> list[dict[str, Any]]:
        return self._keys("ORDER BY name", ())

    def _keys(self, where: str, params: tuple) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._lock:
            rows = self.db.execute(f"SELECT {', '.join(self._KEY_COLUMNS)} FROM keys {where}",
                                   params).fetchall()
        return [dict(zip(self._KEY_COLUMNS, row)) for row in rows]

    def key_delete(self, name: str) -> bool:
        (cursor,) = self._write([("DELETE FROM keys WHERE name = ?", (name,))])
        return cursor.rowcount > 0

    # ---- local security groups ---------------------------------------------------------
    def secgroup_put(self, name: str, description: str, rules: list[dict] | None = None) -> None:
        """Create or update a group; with ``rules``, they replace the group's rules."""
        statements = [("INSERT INTO secgroups (name, description) VALUES (?, ?) ON CONFLICT(name) "
                       "DO UPDATE SET description = excluded.description", (name, description))]
        if rules is not None:
            statements.append(("DELETE FROM secgroup_rules WHERE secgroup = ?", (name,)))
            distinct = dict.fromkeys((name, r["direction"], r["protocol"], r["from_port"],
                                      r["to_port"], r["cidr"]) for r in rules)
            statements += [("INSERT INTO secgroup_rules VALUES (?, ?, ?, ?, ?, ?)", row)
                           for row in distinct]
        self._write(statements)

    def secgroup_rule(self, name: str, rule: dict[str, Any], add: bool) -> bool:
        """Add or remove one rule; False if there was nothing to do."""
        values = (name, rule["direction"], rule["protocol"], rule["from_port"], rule["to_port"],
                  rule["cidr"])
        if add:
            # not INSERT OR IGNORE: UNIQUE treats the NULL ports of an icmp/all rule as
            # distinct, so the same rule would be added again on every call
            sql = ("INSERT INTO secgroup_rules SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS ("
                   "SELECT 1 FROM secgroup_rules WHERE secgroup = ? AND direction = ? AND "
                   "protocol = ? AND from_port IS ? AND to_port IS ? AND cidr = ?)")
            values = values + values
        else:
            sql = ("DELETE FROM secgroup_rules WHERE secgroup = ? AND direction = ? AND "
                   "protocol = ? AND from_port IS ? AND to_port IS ? AND cidr = ?")
        (cursor,) = self._write([(sql, values)])
        return cursor.rowcount > 0

    def secgroup_get(self, name: str) -> dict[str, Any] | None:
        groups = [g for g in self.secgroups() if g["name"] == name]
        return groups[0] if groups else None

    def secgroups(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._lock:
            groups = self.db.execute("SELECT name, description FROM secgroups ORDER BY name"
                                     ).fetchall()
            rules = self.db.execute(
                "SELECT secgroup, direction, protocol, from_port, to_port, cidr FROM "
                "secgroup_rules ORDER BY secgroup, direction, protocol, from_port, cidr"
            ).fetchall()
        result = {name: {"name": name, "description": description, "rules": []}
                  for name, description in groups}
        for group, direction, protocol, from_port, to_port, cidr in rules:
            if group in result:
                result[group]["rules"].append({"direction": direction, "protocol": protocol,
                                               "from_port": from_port, "to_port": to_port,
                                               "cidr": cidr})
        return list(result.values())

    def secgroup_delete(self, name: str) -> bool:
        cursors = self._write([("DELETE FROM secgroup_rules WHERE secgroup = ?", (name,)),
                               ("DELETE FROM secgroups WHERE name = ?", (name,))])
        return cursors[1].rowcount > 0

    def find(self, name: str, kind: str = "vm") -> list[dict[str, Any]]:
        """Cached records of that name on any cloud."""
        if not self.path.exists():
            return []
        with self._lock:
            rows = self.db.execute("SELECT record FROM cache WHERE kind = ? AND name = ?",
                                   (kind, name)).fetchall()
        return [json.loads(r[0]) for r in rows]


    # ---- boot reservations and facts ----------------------------------------------------
    def reserve(self, cloud: str, name: str, pid: int, seconds: float) -> bool:
        """Reserve a VM name on a cloud for one boot on this machine; False when another
        live process holds it (or a boot of it ended moments ago). A reservation whose
        process is gone, or which expired, is taken over."""
        import os

        now = time.time()
        with self._lock:
            db = self.db
            self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
            try:
                row = db.execute("SELECT pid, expires FROM reservations WHERE cloud = ? AND "
                                 "name = ?", (cloud, name)).fetchone()
                if row is not None and row[1] > now and row[0] > 0:
                    try:
                        os.kill(row[0], 0)
                        held = True
                    except ProcessLookupError:
                        held = False
                    except PermissionError:
                        held = True
                elif row is not None:
                    held = row[1] > now  # a hold after a create (pid 0) until it expires
                else:
                    held = False
                if not held:
                    db.execute("INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?)",
                               (cloud, name, pid, now + seconds))
                db.execute("COMMIT")
                return not held
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def reserve_hold(self, cloud: str, name: str, seconds: float) -> None:
        """After a create: keep the name reserved a little longer, whoever asks."""
        self._write([("UPDATE reservations SET pid = 0, expires = ? WHERE cloud = ? AND "
                      "name = ?", (time.time() + seconds, cloud, name))])

    def release(self, cloud: str, name: str) -> None:
        self._write([("DELETE FROM reservations WHERE cloud = ? AND name = ?", (cloud, name))])

    def boot_put(self, cloud: str, name: str, key: str | None, username: str | None) -> None:
        """What a VM was booted with that the cloud may not say back (the key name and the
        login of an injected key), for 'cms vm ssh NAME' with no option."""
        self._write([("INSERT OR REPLACE INTO boots VALUES (?, ?, ?, ?, ?)",
                      (cloud, name, key, username, time.time()))])

    def boot_get(self, cloud: str, name: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT key, username FROM boots WHERE cloud = ? AND name = ?",
                              (cloud, name)).fetchone()
        return {"key": row[0], "username": row[1]} if row else None

    def boot_usernames(self, cloud: str) -> dict[str, str]:
        """The login each VM cms booted on ``cloud`` was given, by VM name (one query)."""
        rows = self.db.execute("SELECT name, username FROM boots WHERE cloud = ? AND "
                               "username IS NOT NULL", (cloud,)).fetchall()
        return {name: username for name, username in rows}

    def boot_forget(self, cloud: str, name: str) -> None:
        self._write([("DELETE FROM boots WHERE cloud = ? AND name = ?", (cloud, name)),
                     ("DELETE FROM reservations WHERE cloud = ? AND name = ?", (cloud, name))])
