"""Print a tab-completion script for bash, zsh or fish.

Usage:
  cms completion bash|zsh|fish

Commands, verbs and options come from each command's usage text; cloud names from
cloudmesh.yaml; VM, image, flavor, key and group names from the local state database
(what the last lists saw). Completing never asks a cloud anything.

  bash:  eval "$(cms completion bash)"                  (in ~/.bashrc)
  zsh:   eval "$(cms completion zsh)"                   (in ~/.zshrc, after compinit)
  fish:  cms completion fish > ~/.config/fish/completions/cms.fish

The scripts call 'cms completion --complete=SHELL -- LINE' with the line up to the cursor.
Names come from clouds and may hold any character, so a candidate never reaches a shell as
code: bash inserts what it is given, so bash gets each candidate quoted (POSIX single
quotes where needed); zsh (compadd without -Q) and fish quote what they insert themselves,
so they get the name as it is. A name with a control character (a newline would split
it) is left out for every shell.
"""

from __future__ import annotations

import os
import sys

SHELLS = ("bash", "zsh", "fish")

BASH = r"""# cms completion for bash: eval "$(cms completion bash)" in ~/.bashrc
_cms_complete() {
    # one candidate per line, already quoted for bash (read -r: no globbing, no splitting)
    COMPREPLY=()
    local candidate
    while IFS= read -r candidate; do
        COMPREPLY+=("$candidate")
    done < <(command cms completion --complete=bash -- "${COMP_LINE:0:COMP_POINT}" 2>/dev/null)
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -o default -o bashdefault -F _cms_complete cms
"""

ZSH = r"""#compdef cms
# cms completion for zsh: eval "$(cms completion zsh)" in ~/.zshrc (after compinit)
_cms() {
    local -a reply
    reply=("${(@f)$(command cms completion --complete=zsh -- "${BUFFER[1,CURSOR]}" 2>/dev/null)}")
    reply=(${reply:#})
    if (( ${#reply} )); then
        # raw names: compadd (no -Q) quotes them for the line, so a name is never code
        compadd -S '' -- ${(M)reply:#*=}
        compadd -- ${reply:#*=}
    else
        _files
    fi
}
compdef _cms cms
"""

FISH = r"""# cms completion for fish: cms completion fish > ~/.config/fish/completions/cms.fish
function __cms_complete
    command cms completion --complete=fish -- (commandline -cp) 2>/dev/null
end
complete -c cms -f -a '(__cms_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}
GLOBAL_OPTIONS = ["--debug", "--help", "--version", "--file=", "--continue"]
FORMATS = ["table", "json", "yaml", "csv"]
STATES = ["running", "stopped", "suspended", "terminated", "booting", "ssh"]
FIELDS = ["name=", "status=", "cloud=", "kind=", "zone=", "region=", "image=", "flavor=",
          "state=", "id="]
#: where an option's value comes from, by its metavariable in the usage text
VALUES = {"CLOUD": "clouds", "CLOUDS": "clouds", "IMAGE": "image", "FLAVOR": "flavor",
          "KEY": "keys", "GROUP": "groups", "GROUPS": "groups", "FORMAT": "formats",
          "STATE": "states", "KEY=GLOB": "fields"}
#: a positional argument's values, per command (the default: VM names)
ARGUMENTS = {("image", "NAME"): "image", ("flavor", "NAME"): "flavor",
             ("key", "NAME"): "keys", ("key", "NAMES"): "keys",
             ("secgroup", "GROUP"): "groups", ("secgroup", "GROUPS"): "groups",
             ("help", "COMMAND"): "commands", ("completion", "SHELL"): "shells",
             ("set", "NAMES"): "variables"}
VM_ARGUMENTS = ("NAME", "NAMES", "TARGET")


def run(argv: list[str]) -> int:
    # Parsed by hand: completion must answer fast, and LINE is any text.
    args = argv[1:]
    if args and args[0].startswith("--complete="):
        shell = args[0].partition("=")[2]
        line = args[-1] if len(args) > 1 else ""
        for candidate in complete_line(line, shell):
            print(candidate)
        return 0
    if len(args) == 1 and args[0] in SHELLS:
        sys.stdout.write(SCRIPTS[args[0]])
        return 0
    if not args or (len(args) == 1 and not args[0].startswith("-")):
        from cloudmesh.compute.errors import UsageError, escape_control

        what = f"unknown shell '{escape_control(args[0])}'" if args else "no shell given"
        raise UsageError(f"cms completion: {what}", "name one of bash, zsh, fish: e.g. "
                         "eval \"$(cms completion bash)\" in ~/.bashrc")
    from cloudmesh.compute.command import run_command

    return run_command(lambda a: 0, __doc__.replace("bash|zsh|fish", "(bash|zsh|fish)"),
                       argv)


def split_line(line: str) -> list[str]:
    """The words of a command line up to the cursor; the last is the word being completed
    ('' after a space). An open quote is completed as if it were closed."""
    import shlex

    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    words: list[str] = []
    try:
        for word in lexer:
            words.append(word)
    except ValueError:  # an open quote: what was read so far is the last word
        words.append(lexer.token)
    if not line or line[-1].isspace() and not words[-1:] == [lexer.token]:
        words.append("")
    return words


def complete_line(line: str, shell: str = "bash") -> list[str]:
    """The candidates for the last word of ``line``, each as ``shell`` must receive it:
    quoted for bash (which inserts it as it is), raw for zsh and fish (which quote it)."""
    words = split_line(line)
    if not words:
        return []
    candidates = [c for c in complete(words[1:] or [""]) if _printable(c)]
    current = (words[1:] or [""])[-1]
    if shell == "bash":  # bash completes only the part after the last = or :
        import shlex

        cut = max(current.rfind("="), current.rfind(":")) + 1
        candidates = [shlex.quote(c[cut:]) if c[cut:] else "" for c in candidates]
    return candidates


def _printable(candidate: str) -> bool:
    """False for a name holding a control character (C0, DEL, C1, line separators): it
    cannot pass as one line, nor be typed, so it is not offered."""
    return not any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 or c in "\u2028\u2029"
                   for c in candidate)


def complete(words: list[str]) -> list[str]:
    """Candidates for the last of ``words`` (the words after 'cms')."""
    *before, current = words
    while before and before[0] in ("--debug", "--continue"):
        before = before[1:]
    if not before:
        if current.startswith("-"):
            return _matching(GLOBAL_OPTIONS, current)
        return _matching(_commands(), current)
    command = before[0]
    patterns, options = _usage(command)
    given_cloud = next((w.partition("=")[2] for w in before if w.startswith("--cloud=")), None)
    if current.startswith("-") and "=" in current:
        option, _, partial = current.partition("=")
        source = VALUES.get(options.get(option, ""))
        values = _values(source, given_cloud) if source else []
        return [f"{option}={v}" for v in values if v.startswith(partial)]
    if before[-1] in options and options[before[-1]] and "=" not in before[-1]:
        source = VALUES.get(options[before[-1]])  # '--cloud aws': the option's value
        return _matching(_values(source, given_cloud) if source else [], current)
    typed = _positionals(before[1:], options)
    matching = [p for p in patterns if _fits(p, typed)]
    if current.startswith("-"):
        names = {o for p in matching for o in p[1]} or set(options)
        return _matching(sorted(f"{o}=" if options.get(o) else o for o in names), current)
    found: list[str] = []
    for positionals, _ in matching:
        index = min(len(typed), len(positionals) - 1) if positionals else -1
        if index < 0 or (index < len(typed) and not positionals[index].endswith("...")):
            continue
        token = positionals[index].rstrip(".")
        if _literal(token):
            found += token.split("|")
        else:
            source = ARGUMENTS.get((command, token)) or (
                "vms" if token in VM_ARGUMENTS else None)
            if command == "help" or command == "completion":
                source = ARGUMENTS.get((command, token))
            found += _values(source, given_cloud) if source else []
    return _matching(list(dict.fromkeys(found)), current)


def _literal(token: str) -> bool:
    """A word typed as it is (a verb), not an ARGUMENT."""
    return token.rstrip(".").replace("|", "").replace("-", "").replace("_", "").islower()


def _matching(values: list[str], prefix: str) -> list[str]:
    return [v for v in values if v.startswith(prefix)]


def _commands() -> list[str]:
    from cloudmesh.compute import discovery

    return list(discovery.commands())


def _usage(command: str) -> tuple[list[tuple[list[str], list[str]]], dict[str, str]]:
    """The usage patterns of a command, each (positional tokens, options), and every
    option with its metavariable ('' for a flag)."""
    import importlib
    import re

    from cloudmesh.compute import discovery

    module_name = discovery.find_command(command)
    if module_name is None:
        return [], {}
    try:
        doc = importlib.import_module(module_name).__doc__ or ""
    except Exception:  # noqa: BLE001 - a broken command completes nothing
        return [], {}
    options = {}
    for short, long, metavar in re.findall(
            r"(?m)^\s*(?:(-\w),?\s+)?(--[\w-]+)(?:[= ]([A-Z][\w=]*))?", doc):
        options[long] = metavar or ""
        if short:
            options[short] = metavar or ""
    section = doc.partition("Usage:")[2].partition("\n\n")[0]
    entries: list[str] = []
    for line in section.splitlines():
        if line.strip().startswith("cms "):
            entries.append(line)
        elif entries:
            entries[-1] += " " + line
    patterns = []
    for entry in entries:
        text = re.sub(r"\s*\|\s*", "|", re.sub(r"[\[\]()]", " ", entry))
        used = []
        positionals: list[str] = []
        for token in text.split()[2:]:
            if token.startswith("-"):
                for part in token.split("|"):
                    name, _, metavar = part.partition("=")
                    if name.startswith("-") and name != "--":
                        used.append(name)
                        options.setdefault(name, metavar)
            elif re.fullmatch(r"[\w.|-]+", token) and token.strip("|"):
                positionals.append(token.strip("|"))
        patterns.append((positionals, used))
    return patterns, options


def _positionals(words: list[str], options: dict[str, str]) -> list[str]:
    """The positional words typed after the command (options and their values left out)."""
    typed, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-") and word != "-":
            skip = "=" not in word and bool(options.get(word))
        else:
            typed.append(word)
    return typed


def _fits(pattern: tuple[list[str], list[str]], typed: list[str]) -> bool:
    positionals = pattern[0]
    for index, word in enumerate(typed):
        if index >= len(positionals):
            return bool(positionals) and positionals[-1].endswith("...")
        token = positionals[index]
        if _literal(token) and word not in token.split("|"):
            return False
    return True


def _values(source: str | None, cloud: str | None) -> list[str]:
    """Names from the configuration or the local state database; never from a cloud."""
    if source == "formats":
        return FORMATS
    if source == "states":
        return STATES
    if source == "fields":
        return FIELDS
    if source == "shells":
        return list(SHELLS)
    if source == "commands":
        return _commands()
    if source == "clouds":
        return _clouds()
    queries = {"vms": ("SELECT DISTINCT name FROM cache WHERE kind = 'vm'", "vm"),
               "image": ("SELECT DISTINCT name FROM cache WHERE kind = 'image'", "image"),
               "flavor": ("SELECT DISTINCT name FROM cache WHERE kind = 'flavor'", "flavor"),
               "keys": ("SELECT name FROM keys UNION SELECT name FROM cache WHERE "
                        "kind = 'key'", None),
               "groups": ("SELECT name FROM secgroups", None),
               "variables": ("SELECT name FROM variables", None)}
    if source not in queries:
        return []
    query, cached = queries[source]
    parameters: tuple = ()
    if cached and cloud:
        query += " AND cloud = ?"
        parameters = (cloud,)
    return _query(query + " ORDER BY 1", parameters)


def _clouds() -> list[str]:
    try:
        from cloudmesh.compute.config import Config

        return sorted(str(name) for name in Config().clouds())
    except Exception:  # noqa: BLE001 - a broken or missing config completes nothing
        return []


def _query(query: str, parameters: tuple) -> list[str]:
    """Read-only: completion never creates, migrates or locks the database."""
    from cloudmesh.compute.files import config_dir

    path = config_dir() / "cloudmesh.db"
    if not path.is_file():
        return []
    import sqlite3
    from urllib.parse import quote

    try:
        connection = sqlite3.connect(f"file:{quote(os.fspath(path))}?mode=ro", uri=True,
                                     timeout=0.05)
        try:
            return [str(row[0]) for row in connection.execute(query, parameters)]
        finally:
            connection.close()
    except sqlite3.Error:
        return []
