"""dispatch(): one cms command line in this process, called many times with different
homes, working directories and streams, leaking nothing from one call to the next."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from cloudmesh.compute.dispatch import dispatch


def _run(argv: list[str], **kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = dispatch(argv, **kwargs)
    return code, out.getvalue(), err.getvalue()


def _home(tmp_path: Path, name: str, cloud: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    (home / "cloudmesh.yaml").write_text(
        "cloudmesh:\n  default:\n    cloud: " + cloud + "\n  compute:\n    " + cloud +
        ":\n      cm:\n        kind: multipass\n")
    return home


def test_each_call_reads_its_own_config_dir(tmp_path: Path, monkeypatch) -> None:
    """Two calls with two CLOUDMESH_CONFIG_DIR values see two configurations, and a
    variable set in the first home is not seen from the second."""
    first, second = _home(tmp_path, "a", "alpha"), _home(tmp_path, "b", "beta")
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(first))
    assert _run(["set", "colour=blue"])[0] == 0
    code, out, _ = _run(["config", "get", "cloudmesh.default.cloud"])
    assert (code, out.strip()) == (0, "alpha")
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(second))
    code, out, _ = _run(["config", "get", "cloudmesh.default.cloud"])
    assert (code, out.strip()) == (0, "beta")
    code, out, err = _run(["set"])
    assert code == 0
    assert "blue" not in out and "colour" not in out, out
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(first))
    assert "blue" in _run(["set"])[1]


def test_errors_are_returned_not_raised(tmp_path: Path, monkeypatch) -> None:
    """A usage error is exit code 2 and one line on the redirected stderr; dispatch never
    calls sys.exit, so the caller keeps running."""
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(_home(tmp_path, "a", "alpha")))
    code, out, err = _run(["vm", "nosuchverb"])
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    code, _, err = _run(["nosuchcommand"])
    assert code == 2 and "unknown command" in err
    assert _run([])[0] == 2


def test_debug_lasts_one_call(tmp_path: Path, monkeypatch) -> None:
    """--debug shows a traceback for its own call only; the next call is quiet."""
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(_home(tmp_path, "a", "alpha")))
    monkeypatch.delenv("CMS_DEBUG", raising=False)
    code, _, err = _run(["--debug", "vm", "list", "--cloud=nosuch"])
    assert code == 4 and "Traceback" in err
    code, _, err = _run(["vm", "list", "--cloud=nosuch"])
    assert code == 4 and "Traceback" not in err and err.count("\n") == 1, err


def test_working_directory_is_read_per_call(tmp_path: Path, monkeypatch) -> None:
    """'cms key add NAME --source=RELATIVE' reads the file relative to the working
    directory of that call: a file only in the second directory is found only there."""
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(_home(tmp_path, "a", "alpha")))
    from cloudmesh.compute.keys import generate_ed25519

    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    generate_ed25519(there / "k", "throwaway")  # a key made for this test only
    monkeypatch.chdir(here)
    code, _, err = _run(["key", "add", "k", "--source=k.pub"])
    assert code != 0, err
    monkeypatch.chdir(there)
    code, _, err = _run(["key", "add", "k", "--source=k.pub"])
    assert code == 0, err


def test_stdout_is_the_current_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLOUDMESH_CONFIG_DIR", str(_home(tmp_path, "a", "alpha")))
    """What a command prints goes to the sys.stdout of the moment of the call."""
    code, out, _ = _run(["version"])
    assert code == 0 and "0.1.0" in out
