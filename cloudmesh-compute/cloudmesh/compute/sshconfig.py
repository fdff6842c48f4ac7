"""``Host`` blocks for VMs in ~/.ssh/config, between marker lines, so the rest of the
user's file is never touched.

Every value comes from a cloud (a VM's name, address, ``username`` tag) or from the
command line, and OpenSSH runs what its config says (``ProxyCommand``, ``Match exec``):
so nothing is written unless it matches a strict pattern, and paths are quoted. A value
that does not match is a one-line refusal, and nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

from cloudmesh.compute.errors import UsageError, escape_control
from cloudmesh.compute.files import atomic_write

BEGIN, END = "# >>> cms ", "# <<< cms "

#: a Host alias: no pattern characters (*, ?, !), no space, no option-like leading "-"
_ALIAS = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*")
#: a login name as useradd takes it
_USER = re.compile(r"[a-z_][a-z0-9_.-]*")
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: what a path cannot hold even quoted: OpenSSH reads \ and " as escapes, "${" as an
#: environment reference; control characters would end the line
_PATH_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]|\$\{')


def ssh_config_path() -> Path:
    return Path.home() / ".ssh" / "config"


def _refuse(what: str, value: object, rule: str) -> UsageError:
    return UsageError(f"not written to {ssh_config_path()}: {what} '{escape_control(str(value))}' "
                      f"is not {rule}", "nothing was changed")


def check_alias(name: str) -> str:
    if not isinstance(name, str) or len(name) > 255 or not _ALIAS.fullmatch(name):
        raise _refuse("the host name", name, "made of letters, digits, '.', '_' and '-'")
    return name


def check_hostname(host: str) -> str:
    """An IP literal or a DNS name, as it is."""
    import ipaddress

    text = str(host)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if len(text) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels) \
            or labels[-1].isdigit() or _looks_like_an_address(text):
        # (a last label of digits is no DNS name, RFC 1123; "0", "127.1" or "0x7f000001"
        # are IP addresses in disguise, which resolvers read as 0.0.0.0 or 127.0.0.1)
        raise _refuse("the address", host, "an IP address or a DNS name")
    return text


def _looks_like_an_address(text: str) -> bool:
    import socket

    try:
        socket.inet_aton(text)
        return True
    except OSError:
        return False


def check_user(user: str) -> str:
    if not isinstance(user, str) or len(user) > 64 or not _USER.fullmatch(user):
        raise _refuse("the user", user, "a login name ([a-z_][a-z0-9_.-]*)")
    return user


def quote_path(path: object) -> str:
    """A path as one double-quoted OpenSSH argument; '%' doubled, since OpenSSH expands
    %-tokens in IdentityFile and UserKnownHostsFile."""
    text = str(path)
    if _PATH_UNSAFE.search(text):
        raise _refuse("the path", text, 'free of ", \\, ${ and control characters')
    return '"' + text.replace("%", "%%") + '"'


def host_block(target, known_hosts: object) -> list[str]:
    """The lines of one Host block (without markers); UsageError if a value is unsafe."""
    from cloudmesh.compute.sshclient import check_port

    body = [f"Host {check_alias(target.name)}",
            f"    HostName {check_hostname(target.host)}",
            f"    User {check_user(target.username)}",
            f"    Port {check_port(target.port)}",
            f"    UserKnownHostsFile {quote_path(known_hosts)}",
            "    StrictHostKeyChecking accept-new"]
    if target.key_path:
        body += [f"    IdentityFile {quote_path(target.key_path)}", "    IdentitiesOnly yes"]
    return body


def checked(target):
    """The target, if every value of its Host block is safe to write; else UsageError."""
    from cloudmesh.compute.sshclient import known_hosts_path

    host_block(target, known_hosts_path())
    return target


def _read() -> list[str]:
    path = ssh_config_path()
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _split(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The lines outside our blocks, and our blocks by VM name (in file order). A block is
    a begin marker, then lines, then the end marker of the same name; a begin marker
    without its end (or with a name we would not write) is left alone as the user's."""
    outside: list[str] = []
    blocks: dict[str, list[str]] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        name = line[len(BEGIN):].strip() if line.startswith(BEGIN) else None
        if name is not None and _ALIAS.fullmatch(name):
            end = next((j for j in range(index + 1, len(lines))
                        if lines[j].startswith(BEGIN) or lines[j].startswith(END)), None)
            if end is not None and lines[end].startswith(END) \
                    and lines[end][len(END):].strip() == name:
                blocks.setdefault(name, []).extend(lines[index + 1:end])
                index = end + 1
                continue
        outside.append(line)
        index += 1
    return outside, blocks


def _write(outside: list[str], blocks: dict[str, list[str]]) -> None:
    while outside and not outside[-1].strip():  # blank lines we put before our blocks
        outside.pop()
    lines = list(outside)
    for name, body in blocks.items():
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"{BEGIN}{name}", *body, f"{END}{name}"]
    path = ssh_config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    atomic_write(path, "\n".join(lines) + "\n" if lines else "", mode=mode)


def add(targets: list) -> None:
    """Write (or replace) a block per target; if any value is unsafe, nothing is written."""
    from cloudmesh.compute.sshclient import known_hosts_path

    new = {target.name: host_block(target, known_hosts_path()) for target in targets}
    outside, blocks = _split(_read())
    blocks.update(new)
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
                value = parts[1]
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1].replace("%%", "%")
                fields[parts[0].lower()] = value
        rows.append(fields)
    return rows
