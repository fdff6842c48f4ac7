"""An SSH server built on asyncssh, for machines without OpenSSH's sshd.

It stands in for a VM's sshd in tests: public-key authentication for the trusted keys and
one user name only, ``exec`` requests run with ``/bin/sh -c`` (stdout and stderr kept
apart, the exit status returned), shell sessions with or without a pty, SFTP and scp.
Commands run as the user running the tests. The server runs in a background thread with
its own event loop; ``start()`` returns once it listens.

Use it through :func:`cloudmesh.compute.testing.sshd.start_ssh_server`, which picks
OpenSSH when it is installed.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import getpass
import os
import pwd
import signal
import struct
import termios
import threading
from pathlib import Path

import asyncssh

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL = "/bin/sh"


def generate_key(path: Path, comment: str) -> None:
    """An ed25519 key pair in OpenSSH format: PATH (0600) and PATH.pub."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    for stale in (path, path.with_suffix(".pub")):
        stale.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key("openssh"))
    path.with_suffix(".pub").write_bytes(key.export_public_key("openssh"))


def _trusted(lines: list[str]) -> set[bytes]:
    """The public key blobs of authorized_keys lines (options before the key allowed)."""
    blobs = set()
    for line in lines:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        for index, word in enumerate(fields[:-1]):
            if word.startswith(("ssh-", "ecdsa-", "sk-")):
                key = asyncssh.import_public_key(f"{word} {fields[index + 1]}")
                blobs.add(key.public_data)
                break
        else:
            raise ValueError(f"not an OpenSSH public key line: {line!r}")
    return blobs


class _Server(asyncssh.SSHServer):
    def __init__(self, owner: "AsyncsshServer") -> None:
        self.owner = owner
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.owner._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self.owner.user and key.public_data in self.owner._trusted


class AsyncsshServer:
    """A running asyncssh server on ``host:port``; the interface of ``Sshd``."""

    backend = "asyncssh"

    def __init__(self, directory: Path, host: str, user: str | None = None,
                 port: int = 0) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.user = user or getpass.getuser()
        self.authorized_keys: list[str] = []
        self._trusted: set[bytes] = set()
        self._connections: set = set()
        self._children: set[int] = set()
        self._acceptor = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def set_authorized_keys(self, lines: list[str]) -> None:
        """Trust exactly these OpenSSH public key lines from the next login on."""
        lines = [line.strip() for line in lines if line.strip()]
        self._trusted = _trusted(lines)
        self.authorized_keys = lines
        (self.directory / "authorized_keys").write_text("".join(line + "\n" for line in lines))

    @property
    def user_key(self) -> Path:
        return self.directory / "user_key"

    @property
    def host_key(self) -> Path:
        return self.directory / "host_key"

    # ---- life cycle ------------------------------------------------------------------
    def start(self) -> "AsyncsshServer":
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever,
                                            name=f"asyncssh-{self.host}", daemon=True)
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=10)
        return self

    async def _listen(self) -> None:
        self._acceptor = await asyncssh.create_server(
            lambda: _Server(self), self.host, self.port,
            server_host_keys=[str(self.host_key)], process_factory=self._session,
            encoding=None, line_editor=False, sftp_factory=True, allow_scp=True,
            agent_forwarding=False, x11_forwarding=False, allow_pty=True,
            gss_host=None)
        self.port = self._acceptor.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for conn in list(self._connections):
            conn.close()
        for pid in list(self._children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._loop = self._thread = None

    def restart_with_new_host_key(self) -> None:
        """The same address and port with another host key, as a rebuilt VM has."""
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        generate_key(self.host_key, "rebuilt-host")
        self.start()

    # ---- sessions ----------------------------------------------------------------------
    def _environment(self, process: asyncssh.SSHServerProcess) -> dict[str, str]:
        home = pwd.getpwuid(os.getuid()).pw_dir
        peer = process.get_extra_info("peername") or ("", 0)
        env = {"HOME": home, "USER": self.user, "LOGNAME": self.user, "SHELL": SHELL,
               "PATH": DEFAULT_PATH,
               "SSH_CONNECTION": f"{peer[0]} {peer[1]} {self.host} {self.port}",
               "SSH_CLIENT": f"{peer[0]} {peer[1]} {self.port}"}
        for name in ("LANG", "LC_ALL"):
            if name in os.environ:
                env[name] = os.environ[name]
        if process.get_terminal_type():
            env["TERM"] = process.get_terminal_type()
        return env

    async def _session(self, process: asyncssh.SSHServerProcess) -> None:
        argv = [SHELL, "-c", process.command] if process.command is not None else [SHELL]
        try:
            if process.get_terminal_type() is None:
                status = await self._run_piped(process, argv)
            else:
                status = await self._run_pty(process, argv)
        except Exception as error:  # noqa: BLE001  (report, never hang the client)
            process.stderr.write(f"test ssh server: {error}\n".encode())
            status = 255
        if status < 0:
            name = signal.Signals(-status).name[3:]
            process.exit_with_signal(name)
        else:
            process.exit(status)

    def _signal(self, pid: int, error: Exception) -> None:
        if isinstance(error, asyncssh.BreakReceived):
            number = signal.SIGINT
        elif isinstance(error, asyncssh.SignalReceived):
            number = getattr(signal, f"SIG{error.signal}", None)
        else:
            return
        if number is not None:
            try:
                os.killpg(pid, number)
            except OSError:
                pass

    async def _run_piped(self, process: asyncssh.SSHServerProcess, argv: list[str]) -> int:
        child = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._environment(process),
            cwd=self._environment(process)["HOME"], start_new_session=True)
        self._children.add(child.pid)

        async def feed() -> None:
            while True:
                try:
                    data = await process.stdin.read(65536)
                except asyncssh.TerminalSizeChanged:
                    continue
                except (asyncssh.BreakReceived, asyncssh.SignalReceived) as error:
                    self._signal(child.pid, error)
                    continue
                except (asyncssh.Error, OSError):
                    data = b""
                try:
                    if not data:
                        child.stdin.close()
                        return
                    child.stdin.write(data)
                    await child.stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    return

        async def pump(reader: asyncio.StreamReader, writer) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

        feeder = asyncio.ensure_future(feed())
        try:
            await asyncio.gather(pump(child.stdout, process.stdout),
                                 pump(child.stderr, process.stderr))
            return await child.wait()
        finally:
            feeder.cancel()
            self._children.discard(child.pid)
            if child.returncode is None:
                _kill_group(child.pid)

    async def _run_pty(self, process: asyncssh.SSHServerProcess, argv: list[str]) -> int:
        master, slave = os.openpty()
        try:
            width, height, pixwidth, pixheight = process.term_size
            if width and height:
                _set_size(master, width, height, pixwidth, pixheight)
            env = self._environment(process)
            env["SSH_TTY"] = os.ttyname(slave)
            child = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env["HOME"],
                start_new_session=True, preexec_fn=_controlling_tty)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._children.add(child.pid)
        os.set_blocking(master, False)
        loop = asyncio.get_running_loop()
        output: asyncio.Queue[bytes] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                return
            except OSError as error:  # EIO: every holder of the pty's other side is gone
                if error.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                loop.remove_reader(master)
            output.put_nowait(data)

        async def feed() -> None:
            while True:
                try:
                    data = await process.stdin.read(65536)
                except asyncssh.TerminalSizeChanged as change:
                    _set_size(master, *change.term_size)
                    continue
                except (asyncssh.BreakReceived, asyncssh.SignalReceived) as error:
                    self._signal(child.pid, error)
                    continue
                except (asyncssh.Error, OSError):
                    return
                if not data:  # as OpenSSH's sshd: EOF does not reach a terminal's reader
                    return
                while data:
                    try:
                        data = data[os.write(master, data):]
                    except BlockingIOError:
                        await asyncio.sleep(0.01)
                    except OSError:
                        return

        async def pump() -> None:
            while data := await output.get():
                process.stdout.write(data)
                await process.stdout.drain()

        loop.add_reader(master, readable)
        feeder = asyncio.ensure_future(feed())
        pumper = asyncio.ensure_future(pump())
        try:
            status = await child.wait()
            # what the shell wrote last; background jobs holding the pty do not keep us
            try:
                await asyncio.wait_for(asyncio.shield(pumper), 1)
            except asyncio.TimeoutError:
                pass
            return status
        finally:
            feeder.cancel()
            pumper.cancel()
            loop.remove_reader(master)
            os.close(master)
            self._children.discard(child.pid)


def _controlling_tty() -> None:
    """In the child, after setsid(): make stdin (the pty) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _set_size(fd: int, width: int, height: int, pixwidth: int = 0, pixheight: int = 0) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight))


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
