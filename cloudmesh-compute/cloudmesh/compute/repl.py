"""``cms`` with no arguments: the interactive ``cms>`` shell, and scripts (``cms < FILE``,
``cms --file=FILE``) run line by line.

Every line is a cms command line as on the command line (``cms`` in front is allowed),
run by the same code (:func:`cloudmesh.compute.dispatch.dispatch`), so errors and exit
codes are the same. ``!command`` runs a system command; ``$name`` (or ``${name}``) is the value of a
variable set with ``cms set``; ``#`` starts a comment line. A script stops at the first
line that fails, with that line's exit code, unless ``--continue`` is given.

Inside one session a command's module is imported once, and each cloud's provider (with
its SDK client and connections) is made once and kept while the cloud's configuration
stays the same, so a second ``vm list`` on a cloud costs no new client. Imported only on
this path: ``cms help`` and every other command line never load it.
"""

from __future__ import annotations

import os
import sys

#: lines that end the shell or a script
QUIT_WORDS = ("quit", "exit", "q", "cms quit", "cms exit")
INTRO = "cms shell: every cms command, 'help', '!command', $variables; 'quit' or ^D ends"


class Shell:
    """Runs cms lines one after another in this process, through the same dispatch as
    the command line, with one :class:`~cloudmesh.compute.session.Session` (and so one
    provider instance per cloud) for all of them."""

    def __init__(self) -> None:
        from cloudmesh.compute.session import Session

        self.session = Session()

    def expand_variables(self, line: str) -> str:
        """$name and ${name}: variables of 'cms set'; an unknown one is a usage error."""
        if "$" not in line:
            return line
        import re

        from cloudmesh.compute.errors import UsageError
        from cloudmesh.compute.state import State

        variables = State().variables()

        def value(match) -> str:
            name = match.group(1) or match.group(2)
            if name not in variables:
                raise UsageError(f"${name} is not set", f"cms set {name}=VALUE")
            return variables[name]

        return re.sub(r"\$\{([A-Za-z_][\w.-]*)\}|\$([A-Za-z_][\w-]*(?:\.[\w-]+)*)", value, line)

    def execute(self, line: str) -> int:
        """One line: its exit code (0 for a blank line or a comment)."""
        from cloudmesh.compute import errors
        from cloudmesh.compute.dispatch import dispatch

        text = line.strip()
        if not text or text.startswith("#"):
            return 0
        if text.startswith("!"):
            import subprocess

            sys.stdout.flush()
            return subprocess.run(text[1:], shell=True).returncode
        try:
            import shlex

            words = shlex.split(self.expand_variables(text))
        except errors.CmsError as error:
            errors.print_error(error)
            return error.exit_code
        except ValueError as error:
            errors.print_error(errors.UsageError(f"cannot read the line: {error}"))
            return errors.EXIT_USAGE
        if words and words[0] == "cms":
            words = words[1:]
        if not words:
            return 0
        if words[0] in ("--file", "--continue") or words[0].startswith("--file="):
            errors.print_error(errors.UsageError("scripts run from the command line",
                                                 "cms --file=SCRIPT"))
            return errors.EXIT_USAGE
        try:
            return dispatch(words, session=self.session)
        finally:
            sys.stdout.flush()

    def script(self, lines, keep_going: bool, source: str = "stdin") -> int:
        """Run lines; stop at the first failure with its exit code unless keep_going
        (then the exit code is that of the last line that failed). ``quit`` or ``exit``
        ends the script there, quietly. After a failing line, one more line on stderr
        says which line of ``source`` it was."""
        code = 0
        for number, line in enumerate(lines, 1):
            if line.strip() in QUIT_WORDS:
                break
            result = self.execute(line)
            if result:
                code = result
                from cloudmesh.compute.errors import printable_line

                print(printable_line(f"{source}, line {number}: {line.strip()} "
                                     f"(exit code {result})"), file=sys.stderr, flush=True)
                if not keep_going:
                    return result
        return code


def _interactive(session: Shell) -> int:
    import cmd

    from cloudmesh.compute.files import config_dir

    try:
        import readline
    except ImportError:  # pragma: no cover - no readline on this Python
        readline = None
    history = config_dir() / "history"
    if readline is not None:
        try:
            readline.read_history_file(history)
        except OSError:
            pass
        readline.set_history_length(1000)
        from cloudmesh.compute.command.completion import complete_line

        def completer(text: str, state: int) -> str | None:
            line = readline.get_line_buffer()[:readline.get_endidx()]
            try:  # the same completion as the shells' ('cms completion')
                found = complete_line("cms " + line, "bash")
            except Exception:  # noqa: BLE001 - completing must never end the session
                found = []
            return found[state] if state < len(found) else None

        readline.set_completer_delims(" \t\n=:")
        readline.set_completer(completer)
        readline.parse_and_bind("tab: complete")

    class Prompt(cmd.Cmd):
        prompt = "cms> "
        intro = INTRO
        last = 0

        def onecmd(self, line: str) -> bool:
            text = line.strip()
            if text in QUIT_WORDS or text == "EOF":
                if text == "EOF":
                    print()
                return True
            if text == "?" or text.startswith("? "):
                text = "help" + text[1:]
            self.last = session.execute(text)
            return False

        def emptyline(self) -> bool:
            return False

    shell = Prompt(completekey="")  # readline completes with ours (above)
    from cloudmesh.compute import interrupts

    try:
        while True:
            try:
                shell.cmdloop()
                break
            except KeyboardInterrupt:  # ^C at the prompt: a new prompt, and the next
                interrupts.reset()  # the next ^C is a first one again
                print("^C")
                shell.intro = None
    finally:
        if readline is not None:
            try:
                from cloudmesh.compute.files import ensure_dir

                ensure_dir(history.parent)
                from cloudmesh.compute.files import private_files

                with private_files(history):  # 0600 from its first byte, not chmod-ed after
                    readline.write_history_file(history)
            except OSError:
                pass
    return shell.last


def main(argv: list[str]) -> int:
    """``cms`` with no arguments, or ``cms [--continue] [--file=FILE]``."""
    from cloudmesh.compute.errors import ConfigError, UsageError

    keep_going, path = False, None
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--continue":
            keep_going = True
        elif word.startswith("--file="):
            path = word.partition("=")[2]
        elif word == "--file" and words:
            path = words.pop(0)
        else:
            raise UsageError(f"unknown option {word}",
                             "cms [--file=SCRIPT] [--continue], or cms COMMAND ...")
    if path == "":
        raise UsageError("--file needs a file name", "cms --file=SCRIPT")
    session = Shell()
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as error:
            raise ConfigError(f"cannot read the script {path}: {error.strerror}") from None
        return session.script(lines, keep_going, path)
    if sys.stdin is not None and sys.stdin.isatty() and not keep_going:
        return _interactive(session)
    return session.script(iter(sys.stdin.readline, ""), keep_going)
