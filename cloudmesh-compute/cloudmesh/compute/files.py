"""Small file-system helpers shared by Config and State."""

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


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a
    half-written one: a temp file in the same directory, fsync, chmod, rename."""
    import tempfile  # 5 ms at import: only writers pay for it

    path = Path(path)
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
