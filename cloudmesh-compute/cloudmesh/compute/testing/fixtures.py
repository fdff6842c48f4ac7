"""Fixtures a provider's tests need, shipped with the conformance suite so that a third
party's tests use the same ones as this project's:

- ``cms_home``: a fresh HOME and CLOUDMESH_CONFIG_DIR, with every vendor's environment
  variables removed (no test reads the machine's ~/.aws, clouds.yaml, ~/.oci or ADC);
  ``cms_home_class`` the same for a whole test class;
- ``write_config(config_dir, clouds, default=None)``: a cloudmesh.yaml with those clouds;
- ``sshd``: a real SSH server on 127.0.0.1 with throwaway keys (OpenSSH's sshd when
  installed, else one built on asyncssh);
- ``cms``: runs one cms command line in this process (``cms("vm", "list")``), as a
  subprocess would see it: the result's ``returncode``, ``stdout`` and ``stderr``
  (see ``run_in_process``).

Use them with ``pytest_plugins = ["cloudmesh.compute.testing.fixtures"]`` in a conftest.py,
or import them into the test module.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

#: variables through which an SDK would find credentials or endpoints of the machine
VENDOR_ENV_PREFIXES = ("AWS_", "OS_", "AZURE_", "OCI_", "GOOGLE_", "CLOUDSDK_", "GCE_")
VENDOR_ENV_KEEP = {"AWS_EC2_METADATA_DISABLED"}


def isolate_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``home`` (created) HOME with CLOUDMESH_CONFIG_DIR inside it, and remove every
    vendor's environment variables; returns the config dir."""
    home.mkdir(parents=True, exist_ok=True)
    config_dir = home / ".cloudmesh"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("CMS_DEBUG", raising=False)
    for name in list(os.environ):
        if name.startswith(VENDOR_ENV_PREFIXES) and name not in VENDOR_ENV_KEEP:
            monkeypatch.delenv(name, raising=False)
    return config_dir


@pytest.fixture
def cms_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CLOUDMESH_CONFIG_DIR (returned) inside a fresh HOME."""
    return isolate_home(tmp_path / "home", monkeypatch)


@pytest.fixture(scope="class")
def cms_home_class(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``cms_home`` for a whole test class (undone after it): a class-scoped ``cloud``
    fixture of the conformance suite takes it, so that the class's read-only tests share
    one VM (``shared_vm``, ``ssh_vm``)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield isolate_home(tmp_path_factory.mktemp("class-home") / "home", monkeypatch)


def write_config(config_dir: Path, clouds: dict[str, Any], default: str | None = None,
                 user: str = "tester") -> Path:
    """Write ``config_dir/cloudmesh.yaml`` (mode 0600) with these cloud entries."""
    import yaml

    config_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"cloudmesh": {"profile": {"user": user}, "compute": clouds}}
    if default:
        data["cloudmesh"]["default"] = {"cloud": default}
    path = config_dir / "cloudmesh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path


def require_ssh_server() -> None:
    """Skip (or, with CMS_REQUIRE_SSHD=1, fail) when no SSH server can run here."""
    from cloudmesh.compute.testing.sshd import ssh_server_available

    if not ssh_server_available():
        if os.environ.get("CMS_REQUIRE_SSHD"):
            pytest.fail("no SSH server for the tests: install openssh-server or asyncssh")
        pytest.skip("no SSH server for the tests (openssh-server or asyncssh)")


@pytest.fixture
def sshd(tmp_path: Path):
    """A running SSH server on 127.0.0.1 that trusts its generated ``user_key``."""
    from cloudmesh.compute.testing.sshd import start_ssh_server

    require_ssh_server()
    server = start_ssh_server(tmp_path / "sshd")
    yield server
    server.stop()


class CmsResult:
    """What one cms command line left: its exit code and its output."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    # the short names of the project's subprocess helper, so a test reads the same
    code = property(lambda self: self.returncode)
    out = property(lambda self: self.stdout)
    err = property(lambda self: self.stderr)

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (f"CmsResult(returncode={self.returncode}, stdout={self.stdout[-800:]!r}, "
                f"stderr={self.stderr[-800:]!r})")


class _Capture(io.TextIOWrapper):
    """A text stream over bytes (``.buffer`` works, as on a real stdout) that is no tty."""

    def __init__(self, data: bytes = b"") -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="replace",
                         newline=None, write_through=True)

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", errors="replace")


#: what cms remembers for the life of a process (a warning given once, the secrets to
#: scrub): empty at the start of each in-process command line, as in a new process, and
#: put back afterwards
PROCESS_MEMORY = (("cloudmesh.compute.config", "_warned_permissions"),
                  ("cloudmesh.compute.errors", "_SECRETS"))

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGPIPE")
                 if hasattr(signal, name))


def _filters_of_a_new_process() -> None:
    """Python's default warning filters, nothing shown yet (a new process's state)."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                     ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


def run_in_process(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
                   cwd: str | os.PathLike | None = None) -> CmsResult:
    """Run ``cms ARGS...`` through cms's own dispatch in this process, isolated as a
    subprocess would be: ``env`` on top of the current environment, ``cwd`` as the working
    directory, ``stdin`` as its input (none: an empty one), stdout and stderr captured
    (a Python warning on stderr, as a new process with its default filters prints it).
    The environment, working directory, standard streams and signal handlers are put back
    afterwards, whatever the command did; so are the root logger (none of the test run's
    handlers during the call) and what cms remembers per process (PROCESS_MEMORY).
    Commands that depend on being a process (exit by signal, a terminal, start-up
    imports) need a real subprocess instead. One call at a time: the streams are the
    process's."""
    from cloudmesh.compute.dispatch import dispatch

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_handlers = {number: signal.getsignal(number) for number in _SIGNALS}
    out, err = _Capture(), _Capture()
    import logging

    # a new process has no logging handlers: a library's warning goes to its stderr
    # (logging.lastResort), not to a handler of the test run
    root = logging.getLogger()
    saved_logging = (root.handlers[:], root.level)
    memories = [getattr(sys.modules[module], name) for module, name in PROCESS_MEMORY
                if module in sys.modules]
    saved_memories = [set(memory) for memory in memories]
    try:
        for memory in memories:
            memory.clear()
        root.handlers, root.level = [], logging.WARNING
        os.environ.update({k: v for k, v in (env or {}).items() if v is not None})
        for name in [k for k, v in (env or {}).items() if v is None]:
            os.environ.pop(name, None)  # env={"NAME": None}: unset, as a subprocess's env
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin = _Capture((stdin or "").encode())
        sys.stdout, sys.stderr = out, err
        with warnings.catch_warnings(record=True) as caught:
            _filters_of_a_new_process()
            try:
                code = dispatch(list(args))
            except SystemExit as exit_:  # a command that exits is still one result
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        # a warning is printed on stderr, as a new process would print it (pytest would
        # otherwise record it, and a test that reads stderr would never see it)
        shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                        for w in caught)
        return CmsResult(int(code), out.text(), err.text() + shown)
    finally:
        from cloudmesh.compute import state

        state.close_all()  # as the process's exit would: the database file holds it all
        root.handlers, root.level = saved_logging
        for memory, saved in zip(memories, saved_memories):
            memory.clear()
            memory.update(saved)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for number, handler in saved_handlers.items():
            if handler is not None and signal.getsignal(number) is not handler:
                signal.signal(number, handler)


@pytest.fixture
def cms(cms_home: Path) -> Callable[..., CmsResult]:
    """``cms("vm", "list", env=..., stdin=..., cwd=...)``: a cms command line run in this
    process (see run_in_process) in the test's fresh home."""
    return run_in_process
