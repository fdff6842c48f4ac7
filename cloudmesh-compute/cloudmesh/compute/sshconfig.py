"""``Host`` blocks for VMs in ~/.ssh/config, between marker lines, so the rest of the
user's file is never touched."""

from __future__ import annotations

from pathlib import Path

from cloudmesh.compute.files import atomic_write

BEGIN, END = "# >>> cms ", "# <<< cms "


def ssh_config_path() -> Path:
    return Path.home() / ".ssh" / "config"


def _read() -> list[str]:
    path = ssh_config_path()
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _split(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The lines outside our blocks, and our blocks by VM name (in file order)."""
    outside: list[str] = []
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines:
        if current is None and line.startswith(BEGIN):
            current = line[len(BEGIN):].strip()
            blocks[current] = []
        elif current is not None and line.startswith(END):
            current = None
        elif current is not None:
            blocks[current].append(line)
        else:
            outside.append(line)
    return outside, blocks


def _write(outside: list[str], blocks: dict[str, list[str]]) -> None:
    lines = list(outside)
    for name, body in blocks.items():
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"{BEGIN}{name}", *body, f"{END}{name}"]
    path = ssh_config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    atomic_write(path, "\n".join(lines) + "\n", mode=mode)


def add(targets: list) -> None:
    """Write (or replace) a block per target."""
    from cloudmesh.compute.sshclient import known_hosts_path

    outside, blocks = _split(_read())
    for target in targets:
        body = [f"Host {target.name}", f"    HostName {target.host}", f"    User {target.username}",
                f"    Port {target.port}", f"    UserKnownHostsFile {known_hosts_path()}",
                "    StrictHostKeyChecking accept-new"]
        if target.key_path:
            body += [f"    IdentityFile {target.key_path}", "    IdentitiesOnly yes"]
        blocks[target.name] = body
    _write(outside, blocks)


def remove(names: list[str]) -> list[str]:
    outside, blocks = _split(_read())
    removed = [n for n in names if n in blocks]
    if removed:
        _write(outside, {n: b for n, b in blocks.items() if n not in removed})
    return removed


def entries() -> list[dict]:
    """Our blocks as rows: host, hostname, user, port, identityfile."""
    _, blocks = _split(_read())
    rows = []
    for name, body in blocks.items():
        fields = {"host": name, "hostname": "", "user": "", "port": "", "identityfile": ""}
        for line in body:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0].lower() in fields:
                fields[parts[0].lower()] = parts[1]
        rows.append(fields)
    return rows
