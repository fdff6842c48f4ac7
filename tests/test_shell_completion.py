"""Tab completion (`cms completion bash|zsh|fish`), exercised by bash itself: the script
registers with `complete`, and its function, called with COMP_LINE/COMP_WORDS as bash sets
them, offers commands, verbs, options, clouds from the config and names from the local
cache, without any cloud (the aws cloud's endpoint is a closed port) and quickly.
Then the interactive shell (`cms` with no arguments, `cms < script`, `cms --file=`)."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CMS, aws_cloud_spec, cms_here, run_cms, write_config

BASH = shutil.which("bash")
CLOSED = "http://127.0.0.1:9"  # discard: nothing listens; completion must not ask


@pytest.fixture
def cached(cms_home: Path) -> Path:
    """Two clouds in the config, VMs, images and flavors in the local cache, a key and a
    group in the local registry: everything completion may read."""
    write_config(cms_home, {"moto": aws_cloud_spec(CLOSED), "lab": aws_cloud_spec(CLOSED)},
                 default="moto")
    from cloudmesh.compute.state import State

    state = State(cms_home / "cloudmesh.db")
    state.cache_replace("moto", "vm", [{"name": n, "status": "running", "cloud": "moto",
                                        "zone": z} for n, z in (("web01", "us-east-1a"),
                                                                ("web02", "us-east-1b"),
                                                                ("db01", "us-east-1a"))])
    state.cache_replace("lab", "vm", [{"name": "lab-vm-1", "status": "stopped",
                                       "cloud": "lab"}])
    state.cache_replace("moto", "image", [{"name": "ubuntu-24.04"}, {"name": "debian-12"}])
    state.cache_replace("moto", "flavor", [{"name": "t3.micro"}, {"name": "t3.large"}])
    state.secgroup_put("web", "web servers")
    state.set("cloud", "moto")
    state.close()
    return cms_home


@functools.lru_cache(maxsize=1)
def bash_script() -> str:
    """``cms completion bash``: the same text for every test (no config or state read)."""
    done = cms_here("completion", "bash")
    assert done.code == 0, done
    return done.out


def bash_complete(line: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash's completion function for cms offers for ``line`` (cursor at its end):
    bash runs the installed ``cms`` for the candidates, as on a user's machine."""
    driver = bash_script() + r'''
COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_cms_complete
printf '%s\n' "${COMPREPLY[@]}"
'''
    path = os.pathsep.join([str(Path(CMS).parent), os.environ["PATH"]])
    completed = subprocess.run([BASH, "--norc", "--noprofile", "-c", driver, "bash", line],
                               capture_output=True, text=True, timeout=30,
                               env={**os.environ, "PATH": path, **(env or {})})
    assert completed.returncode == 0, completed.stderr
    return [w for w in completed.stdout.splitlines() if w]


needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@needs_bash
def test_bash_registers_the_completion_function(cms_home: Path) -> None:
    script = run_cms("completion", "bash").out  # the installed entry point prints it
    completed = subprocess.run([BASH, "--norc", "-c", script + "\ncomplete -p cms"],
                               capture_output=True, text=True)
    assert "-F _cms_complete" in completed.stdout and completed.stdout.rstrip().endswith(" cms")


@needs_bash
def test_commands_verbs_and_options(cached: Path) -> None:
    assert {"vm", "version"} == set(bash_complete("cms v"))
    assert {"image", "init"} <= set(bash_complete("cms i"))
    assert {"boot", "list", "start", "stop", "ssh", "wait"} <= set(bash_complete("cms vm "))
    assert set(bash_complete("cms vm st")) == {"start", "stop", "status"}
    assert {"add", "delete"} == set(bash_complete("cms secgroup rule "))
    assert set(bash_complete("cms completion ")) == {"bash", "zsh", "fish"}
    options = bash_complete("cms vm list --")
    assert {"--cloud=", "--output=", "--cached", "--refresh", "--filter=", "--limit="} <= \
        set(options)
    assert "--image=" not in options  # only the options of the verb typed
    assert bash_complete("cms vm boot --public") == ["--public-ip"]
    assert set(bash_complete("cms vm list --output=")) == {"table", "json", "yaml", "csv"}
    assert bash_complete("cms vm list -o j") == ["json"]
    assert bash_complete("cms provider list --fe") == ["--features"]
    assert {"vm", "key"} <= set(bash_complete("cms help "))


@needs_bash
def test_clouds_from_the_config_and_names_from_the_cache(cached: Path) -> None:
    # bash completes the part after '=': the value alone
    assert bash_complete("cms vm list --cloud=") == ["lab", "moto"]
    assert bash_complete("cms vm list --cloud=m") == ["moto"]
    assert bash_complete("cms vm list --cloud ") == ["lab", "moto"]
    assert bash_complete("cms vm stop w") == ["web01", "web02"]
    assert bash_complete("cms vm stop --cloud=lab ") == ["lab-vm-1"]
    assert set(bash_complete("cms vm delete ")) == {"db01", "lab-vm-1", "web01", "web02"}
    assert bash_complete("cms vm boot --image=deb") == ["debian-12"]
    assert bash_complete("cms vm boot --flavor=t3.l") == ["t3.large"]
    assert bash_complete("cms image show u") == ["ubuntu-24.04"]
    assert bash_complete("cms vm boot --secgroup=") == ["web"]
    assert bash_complete("cms secgroup upload ") == ["web"]
    assert bash_complete("cms vm list --filter=st") == ["status=", "state="]


HOSTILE = ["web$(touch${IFS}marker)", "web`touch marker`", "web;touch marker",
           "web'$(touch marker)'", "web && touch marker #"]


def bash_runs(line: str, cwd: Path) -> list[str]:
    """Enter ``line`` in bash (cwd ``cwd``) with ``cms`` a function that records its
    arguments: what bash would hand cms, and whatever else the line would run."""
    driver = 'cms() { printf "%s\\0" "$@" > cms.args; }\n' + line + "\n"
    done = subprocess.run([BASH, "--norc", "--noprofile", "-c", driver], cwd=cwd,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (line, done.stderr)
    return (cwd / "cms.args").read_text().split("\0")[:-1]


@needs_bash
def test_a_hostile_cached_name_completes_to_a_quoted_word(cms_home: Path,
                                                          tmp_path: Path) -> None:
    """VM names from a cloud (cached as 'vm list' caches them) that hold $(...), backticks,
    ';' or quotes complete, through bash's own completion, to one quoted word: typed and
    entered, the line passes the name to cms and runs nothing else (issue 21, case 4)."""
    from cloudmesh.compute.state import State

    write_config(cms_home, {"moto": aws_cloud_spec(CLOSED)}, default="moto")
    state = State(cms_home / "cloudmesh.db")
    state.cache_replace("moto", "vm", [{"name": n, "status": "running", "cloud": "moto"}
                                       for n in HOSTILE + ["db\nrm -rf x", "plain"]])
    state.close()
    work = tmp_path / "cwd"
    work.mkdir()
    import shlex

    assert len(bash_complete("cms vm info we")) == len(HOSTILE)
    for name in HOSTILE:
        offered = bash_complete("cms vm info " + shlex.quote(name[:5]))  # typed, quoted
        assert len(offered) == 1, (name, offered)
        line = "cms vm info " + offered[0]
        assert bash_runs(line, work) == ["vm", "info", name], line
        assert not (work / "marker").exists(), line
        for option in ("--cloud=moto ", ""):  # after other words, and as all candidates
            assert offered[0] in bash_complete(f"cms vm stop {option}"), option
    # a name with a control character cannot be one line: it is not offered at all
    assert bash_complete("cms vm info db") == []
    assert "plain" in bash_complete("cms vm info ")


def test_zsh_and_fish_get_raw_names_and_quote_them_themselves(cms_home: Path) -> None:
    """zsh's compadd without -Q and fish quote what they insert; so they get names as
    they are (zsh and fish are not installed here: the scripts' text is checked)."""
    from cloudmesh.compute.state import State

    zsh_script, fish_script = cms_here("completion", "zsh").out, cms_here("completion", "fish").out
    compadds = [line for line in zsh_script.splitlines() if line.strip().startswith("compadd")]
    assert len(compadds) == 2 and not any("-Q" in line for line in compadds), compadds
    assert "complete -c cms -f -a '(__cms_complete)'" in fish_script  # fish escapes these
    write_config(cms_home, {"moto": aws_cloud_spec(CLOSED)}, default="moto")
    state = State(cms_home / "cloudmesh.db")
    state.cache_replace("moto", "vm", [{"name": n, "cloud": "moto"}
                                       for n in [*HOSTILE, "we\x1b]0;x\x07b"]])
    state.close()
    for shell in ("zsh", "fish"):
        out = cms_here("completion", f"--complete={shell}", "--", "cms vm info w").out
        assert out.splitlines() == sorted(HOSTILE), (shell, out)
    bash = cms_here("completion", "--complete=bash", "--", "cms vm info w").out.splitlines()
    import shlex

    assert [shlex.split(word) for word in bash] == [[name] for name in sorted(HOSTILE)]


def test_completion_asks_no_cloud_and_imports_no_sdk(cached: Path) -> None:
    """The clouds' endpoints are a closed port and no SDK is imported (its speed, 40-60 ms,
    is measured by hand and in the README, not by a timed test: DESIGN 9)."""
    from test_laziness import VENDOR_SDKS, imported_modules, top_level

    stop = "cms vm stop --cloud=moto w"
    modules = imported_modules("completion", "--complete=bash", "--", stop)
    assert not top_level(modules) & VENDOR_SDKS, top_level(modules) & VENDOR_SDKS
    assert "cloudmesh.compute.provider" not in modules
    for line, expected in ((stop, "web01"), ("cms vm list --cloud=", "moto")):
        result = cms_here("completion", "--complete=bash", "--", line)
        assert expected in result.out.split(), result


def test_zsh_and_fish_scripts_call_the_same_completer(cms_home: Path) -> None:
    for shell in ("zsh", "fish"):
        result = cms_here("completion", shell)
        assert result.code == 0 and "cms completion --complete=" + shell in result.out
    assert cms_here("completion", "tcsh").code == 2
    # the completer takes the line as the scripts pass it: the words up to the cursor
    zsh = cms_here("completion", "--complete=zsh", "--", "cms vm list --output=y")
    assert zsh.out.split() == ["--output=yaml"]  # zsh completes the whole word


def test_completion_without_config_or_state(cms_home: Path) -> None:
    """No config, no database: commands still complete; nothing is created."""
    assert "vm" in cms_here("completion", "--complete=bash", "--", "cms v").out.split()
    result = cms_here("completion", "--complete=bash", "--", "cms vm list --cloud=")
    assert result.code == 0 and result.out == ""
    result = cms_here("completion", "--complete=bash", "--", "cms vm stop ")
    assert result.code == 0 and result.out == ""
    assert not (cms_home / "cloudmesh.db").exists()


# ---- the cms> shell and scripts -----------------------------------------------------
def test_script_from_stdin_runs_lines_variables_and_system_commands(cached: Path) -> None:
    script = ("# a comment, then a blank line\n\n"
              "vm list --cached -o json --filter=zone=*1a --filter=name=w* --limit=1\n"
              "cms set where=lab\n"
              "vm list --cached --cloud=$where --output=json\n"
              "!echo from-the-system-shell\n"
              "vm list --cached --cloud=${cloud} --output=csv\n")
    result = run_cms(stdin=script)
    assert result.code == 0, result
    assert '"name": "lab-vm-1"' in result.out, result
    first = result.out.split("]\n", 1)[0]
    assert first.startswith('[\n{"name": "web01"') and first.count('"name"') == 1
    assert "from-the-system-shell" in result.out
    assert "web01,running,moto" in result.out
    assert result.out.index("lab-vm-1") < result.out.index("from-the-system") < \
        result.out.index("web01,running")


def test_script_stops_at_the_first_failure_with_its_exit_code(cached: Path,
                                                              tmp_path: Path) -> None:
    script = "version\nvm list --cached --cloud=nosuch\n!echo not-reached\n"
    result = run_cms(stdin=script)
    assert result.code == 4 and "nosuch" in result.err, result
    assert "not-reached" not in result.out and "cloudmesh-compute" in result.out
    path = tmp_path / "lab.cms"
    path.write_text("vm stop\n!echo reached\n!exit 3\nversion\n")
    stopped = run_cms(f"--file={path}")
    assert stopped.code == 2 and "reached" not in stopped.out, stopped
    kept = run_cms(f"--file={path}", "--continue")
    assert kept.code == 3 and "reached" in kept.out and "cloudmesh-compute" in kept.out
    unset = run_cms(stdin="vm list --cloud=$nothing\n")
    assert unset.code == 2 and "$nothing is not set" in unset.err
    assert run_cms("--file=/no/such/script").code == 4


class Terminal:
    """``cms`` with no arguments on a pseudo-terminal, as a person would run it."""

    def __init__(self) -> None:
        import pty

        self.leader, follower = pty.openpty()
        self.process = subprocess.Popen([CMS], stdin=follower, stdout=follower,
                                        stderr=follower, env=dict(os.environ, TERM="dumb"),
                                        close_fds=True)
        os.close(follower)
        self.output = b""

    def poll_for(self, marker: bytes, seconds: float = 30) -> bool:
        """Read until ``marker`` shows (True) or ``seconds`` pass (False)."""
        import select

        deadline = time.monotonic() + seconds
        while marker not in self.output and time.monotonic() < deadline:
            if select.select([self.leader], [], [], 0.1)[0]:
                try:
                    self.output += os.read(self.leader, 65536)
                except OSError:
                    break
        return marker in self.output

    def read_until(self, marker: bytes, seconds: float = 30) -> bytes:
        """Everything up to and with ``marker`` (which must come); what came after it is
        kept for the next read."""
        assert self.poll_for(marker, seconds), (marker, self.output[-2000:],
                                                self.process.poll())
        end = self.output.index(marker) + len(marker)
        found, self.output = self.output[:end], self.output[end:]
        return found

    def write(self, data: bytes) -> None:
        os.write(self.leader, data)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        os.close(self.leader)


def test_interactive_shell_through_a_terminal(cached: Path,
                                             sigint_reaches_children: None) -> None:
    """Driven through a pseudo-terminal as a person would: a prompt, help, a command, a
    variable, a failing line that does not end the session, '!', then quit."""
    import signal

    terminal = Terminal()
    try:
        terminal.read_until(b"\ncms> ")
        for line, expected in (("help", b"completion"),
                               ("vm list --cached --cloud=$cloud", b"web02"),
                               ("vm list --cached --cloud=nosuch", b"not in"),
                               ("!echo system-$((40+2))", b"system-42"),
                               ("version", b"cloudmesh-compute")):
            terminal.write(line.encode() + b"\n")
            assert expected in terminal.read_until(b"\ncms> "), line
        for _ in range(2):  # ^C at the prompt: a new prompt, however often
            # (CPython's readline sees a signal that lands between printing the prompt and
            # waiting for a key only at the next key: send it again until it is seen)
            for _attempt in range(20):
                terminal.process.send_signal(signal.SIGINT)
                if terminal.poll_for(b"\ncms> ", 1.5):
                    break
            assert b"^C" in terminal.read_until(b"\ncms> ")
        terminal.write(b"vm li\t")  # tab completes as in bash
        terminal.read_until(b"vm list")
        terminal.write(b"\x15quit\n")  # ^U: clear the line
        assert terminal.process.wait(timeout=30) == 0
    finally:
        terminal.close()
    assert (cached / "history").is_file()
    assert "vm list --cached --cloud=$cloud" in (cached / "history").read_text()


def test_a_session_keeps_the_cloud_client(aws_cloud: str, monkeypatch) -> None:
    """Two 'vm list' lines in one session make one boto3 client; a changed configuration
    makes a new one."""
    import botocore.session

    from cloudmesh.compute import repl

    made = []
    real = botocore.session.Session.create_client

    def counting(self, *args, **kwargs):
        made.append(args[0] if args else kwargs.get("service_name"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    session = repl.Shell()
    assert session.execute("vm list --output=json") == 0
    first = len(made)
    assert first >= 1
    assert session.execute("cms vm list --output=json") == 0
    assert session.execute("image list --output=json") == 0
    assert len(made) == first, made
    assert len(session.session.instances) == 1
    assert session.execute("cms vm list --cloud=nosuch") == 4


def test_help_does_not_load_the_shell(cms_home: Path) -> None:
    from test_laziness import imported_modules

    modules = imported_modules("help")
    assert not {"cloudmesh.compute.repl", "cmd", "readline", "shlex"} & modules


def test_ctrl_c_ends_a_running_command_not_the_session(aws_cloud: str,
                                                       sigint_reaches_children: None) -> None:
    """A wait on two VMs inside the cms> shell runs in a fan-out; ^C stops that command
    (its threads are left to finish) and gives a new prompt: the session goes on."""
    import signal

    for name in ("w1", "w2"):
        assert cms_here("vm", "boot", f"--name={name}").code == 0
    terminal = Terminal()
    try:
        terminal.read_until(b"cms> ")
        terminal.write(b"vm wait w1,w2 --state=stopped --timeout=300 --interval=1\n")
        time.sleep(2)  # the wait is under way in its threads
        terminal.process.send_signal(signal.SIGINT)
        terminal.read_until(b"interrupted")
        terminal.read_until(b"cms> ", 10)
        assert terminal.process.poll() is None  # the session is still there
        terminal.write(b"version\n")
        terminal.read_until(b"cloudmesh-compute")
        terminal.write(b"quit\n")
        assert terminal.process.wait(timeout=30) == 0
    finally:
        terminal.close()
