"""Small file-system helpers shared by Config, State, the key registry and the cms>
shell. Files that may hold secrets are private (0600) from their first byte."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """The directory holding cloudmesh.yaml and cloudmesh.db."""
    env = os.environ.get("CLOUDMESH_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cloudmesh"


def ensure_dir(path: Path) -> Path:
    """Create a private directory (0700) if it does not exist."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def create_private(path: Path, data: bytes = b"", exclusive: bool = True) -> None:
    """Create ``path`` with mode 0600 from its first byte (os.open with the mode, never a
    chmod after) and write ``data``. ``exclusive``: the file must not exist yet, not even
    as a symbolic link (O_EXCL); otherwise an existing plain file is truncated and
    rewritten. A symbolic link is never followed (O_NOFOLLOW)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    if exclusive:
        flags |= os.O_EXCL
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class private_files:
    """``with private_files(path):`` around code that creates files it does not let us
    open (readline's history writer): the umask is 077 meanwhile, so whatever it creates
    is 0600 from its first byte; an existing ``path`` with a looser mode is made 0600
    before anything is written to it. The umask is per process: keep the block short."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._saved: int | None = None

    def __enter__(self) -> private_files:
        if self.path is not None:
            try:
                if os.stat(self.path, follow_symlinks=False).st_mode & 0o077:
                    os.chmod(self.path, 0o600)  # a file an older cms left readable
            except OSError:
                pass
        self._saved = os.umask(0o077)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._saved is not None:
            os.umask(self._saved)
            self._saved = None


def write_target(path: Path) -> Path:
    """The file a write to ``path`` must replace: ``path`` itself, or, when it is a
    symbolic link (a dotfiles manager's ~/.ssh/config, a cloudmesh.yaml kept elsewhere),
    the file it points to, so that the link stays a link. A link to nothing is refused:
    cms would create a file wherever the link points."""
    from cloudmesh.compute.errors import ConfigError

    path = Path(path)
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if not target.is_file():
        raise ConfigError(f"{path} is a symbolic link to {target}, which is not a file",
                          f"remove the link or create {target} first; nothing was written")
    return target


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a
    half-written one: a temp file in the same directory, fsync, chmod, rename. Through a
    symbolic link, the link's target is replaced, never the link."""
    import tempfile  # 5 ms at import: only writers pay for it

    path = write_target(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class FileLock:
    """An exclusive lock for a read-modify-write of ``path`` by several cms processes at
    once (``cms config set`` run in parallel): ``with FileLock(path): read, change,
    atomic_write``. The lock is on a separate file (``.NAME.lock`` beside it), because
    atomic_write replaces the file itself; it is released when the process ends, however
    it ends."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        self.path = path.with_name(f".{path.name}.lock")
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        import fcntl

        ensure_dir(self.path.parent)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            self._fd = os.open(self.path, flags, 0o600)
        except OSError as error:  # a symbolic link planted there, a read-only directory
            from cloudmesh.compute.errors import ConfigError

            raise ConfigError(f"cannot lock {self.path}: {error.strerror}",
                              "remove it if it is not a plain file; check the directory's "
                              "owner and mode") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
