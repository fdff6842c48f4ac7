#!/usr/bin/env python3
"""A stateful fake of the ``multipass`` command line: the cms tests' Multipass, and the
Multipass stand-in of ``cms sandbox start`` on machines without Multipass (no VM runs;
the instances live in a JSON file).

It takes the real CLI's arguments and prints what Multipass prints, as its sources define
it (github.com/canonical/multipass):

- ``src/client/cli/formatter/json_formatter.cpp``: the ``--format json`` documents of
  list, info, find, networks and version (printed as QJsonDocument prints a QJsonObject:
  keys sorted, four-space indent); ``snapshot_count`` only when the daemon reports it;
  list's ``release`` is "Ubuntu <release>" or "Not Available"; a stopped instance's info
  has "cpu_count": "", "memory": {}, "disks": {"sda1": {}} (daemon.cpp
  populate_instance_info fills them only from a running VM).
- ``src/client/cli/formatter/format_utils.cpp``: the state words (Running, Stopped,
  Deleted, Starting, Restarting, Delayed Shutdown, Suspending, Suspended, Unknown), image
  keys ``remote:alias``, and the alias filter (no one-letter aliases, no ubuntu/default).
- ``src/client/common/client_common.cpp`` (standard_failure_handler_for): a failure is
  "<command> failed: <message>" on stderr, exit 2 (3 only for gRPC UNAVAILABLE, which
  command.h turns into "cannot connect to the multipass socket", exit 2);
  ``include/multipass/cli/return_codes.h``: 0 ok, 1 command line, 2 failed, 3 daemon,
  4 retry.
- ``src/client/cli/argparser.cpp`` with Qt's QCommandLineParser: options anywhere, "-abc"
  as -a -b -c, "Unknown option 'x'." (exit 1), so an image argument that starts with '-'
  is read as options; an unknown command: "Error: Unknown command or alias ..." on stdout.
- ``src/daemon/daemon.cpp``: 'instance "x" does not exist', 'instance "x" is deleted',
  'instance "x" already exists', "The following errors occurred:", 'instance "x" is not
  running', restart's message for an instance that is not running (per version), the
  mount/umount messages, "Invalid arguments supplied" for launch.
- ``src/client/cli/cmd/{launch,start,delete,mount,umount,transfer,get,set}.cpp``: the
  options and the client-side messages (exit 1): "Error: invalid CPU count ...", "Mount
  source path ... does not exist", "Not enough arguments given", "Name argument or --all
  is required", "Only one '-' allowed", ...; ``settings_exceptions.h``: "Unrecognized
  settings key: 'k'" and "Invalid setting 'k=v': why".
- docs (documentation.ubuntu.com/multipass: find, set, get): the image catalogue's shape
  and ``set KEY=VALUE``, ``get`` printing <empty> unless --raw.

Where a message could not be checked against the sources (a bad --memory size, a few
sftp messages of transfer, 'bridged' without local.bridged-network), it is marked
"approximate" below.

State lives in a JSON file, ``$MULTIPASS_FAKE_STATE`` (default ~/.multipass-fake.json),
locked with flock, so several fakes can run at once. Transitions are immediate, as the
real client waits for them (launch/start/restart return once the instance is up). An
instance launched with ``--cloud-init FILE`` (or ``-`` for stdin) keeps that text in its
"cloud_init" field and the path (or "-") in "cloud_init_from".

Versions, from the environment. MULTIPASS_FAKE_VERSION (default 1.16.1; "1.17" stands for
Multipass's main branch after 1.16, not released yet) sets what the fake prints as that
release did, checked in the sources named (tags of github.com/canonical/multipass):
  before 0.7   upper-case states (format_utils.cpp status_string_for, 2018.4 to v0.6)
  before 1.11  no cpu_count in info, list's release as the daemon has it (json_formatter.cpp)
  1.12-1.15    find's blueprints under "blueprints"; 1.16: "blueprints (deprecated)";
               before 1.12 and on main: no blueprints key (json_formatter.cpp)
  before 1.13  no snapshot_count in info (json_formatter.cpp); 1.13-1.16: info --all warns
  restart of an instance that is not running: three wordings (daemon.cpp reboot_vm):
               before 1.15, 1.15-1.16, main
  main         zones (json_formatter.cpp, launch.cpp, common_cli.cpp): "zone": {"name",
               "available"} in list and info, launch --zone, "Launched: NAME in ZONE"
Each of these can be forced on its own; the fake refuses any value that no release had
(exit 99):
  MULTIPASS_FAKE_STATE_CASE      "upper": RUNNING, DELAYED SHUTDOWN
  MULTIPASS_FAKE_BLUEPRINTS_KEY  "blueprints (deprecated)", "blueprints" or "none"
  MULTIPASS_FAKE_SNAPSHOT_COUNT  "absent": no snapshot_count (also where a backend has no
                                 snapshots, daemon.cpp populate_instance_info)
  MULTIPASS_FAKE_ZONES           "1": zones as on main; "0": none
Failures on demand:
  MULTIPASS_FAKE_DAEMON          "down": every daemon call fails as with a stopped daemon
                                 ("<cmd> failed: cannot connect to the multipass socket",
                                 exit 2: include/multipass/cli/command.h)
  MULTIPASS_FAKE_FAIL            "VERB:CODE:MESSAGE": VERB fails with that exit code
                                 ("VERB failed: MESSAGE"); CODE 5 is the client's
                                 --timeout: MESSAGE alone, exit 5, and the daemon still
                                 does the work (e.g. the instance is launched)
For the tests to see how they were called:
  MULTIPASS_FAKE_LOG             a file to which each call's argv is appended (JSON lines)
  MULTIPASS_FAKE_FAULTS          a JSON file of faults to play (see take_fault; the fault
                                 tests write it through harness.MultipassFaults)
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import stat
import sys

def faked_version() -> str:
    """MULTIPASS_FAKE_VERSION, read per call (a test may run main() in its own process)."""
    return os.environ.get("MULTIPASS_FAKE_VERSION", "1.16.1")


def version_at_least(major: int, minor: int) -> bool:
    """The faked version is MAJOR.MINOR or later ("1.17" stands for main after 1.16)."""
    numbers = re.findall(r"\d+", faked_version())[:2]
    try:
        return (int(numbers[0]), int(numbers[1])) >= (major, minor)
    except (IndexError, ValueError):
        return True


#: the quirk variables and the values a Multipass release had (checked in main())
QUIRK_VALUES = {
    "MULTIPASS_FAKE_STATE_CASE": ("", "upper"),
    "MULTIPASS_FAKE_BLUEPRINTS_KEY": ("", "blueprints (deprecated)", "blueprints", "none"),
    "MULTIPASS_FAKE_SNAPSHOT_COUNT": ("", "absent"),
    "MULTIPASS_FAKE_ZONES": ("", "0", "1"),
    "MULTIPASS_FAKE_DAEMON": ("", "up", "down"),
}
OK, COMMAND_LINE_ERROR, COMMAND_FAIL, DAEMON_FAIL = 0, 1, 2, 3
#: include/multipass/constants.h timeout_exit_code: the client's --timeout timer fired
TIMEOUT_EXIT = 5
GIB = 2 ** 30
MIB = 2 ** 20

# The catalogue 'find' prints. Raw aliases as the image hosts list them; the first one
# names the image, and the formatter drops one-letter aliases, "ubuntu" and "default".
IMAGES = [
    {"remote": "", "aliases": ["20.04", "focal", "f"], "os": "Ubuntu",
     "release": "20.04 LTS", "version": "20240821", "current": "Ubuntu 20.04.6 LTS"},
    {"remote": "", "aliases": ["22.04", "jammy", "j"], "os": "Ubuntu",
     "release": "22.04 LTS", "version": "20240912", "current": "Ubuntu 22.04.5 LTS"},
    {"remote": "", "aliases": ["24.04", "noble", "lts", "n", "default", "ubuntu"],
     "os": "Ubuntu", "release": "24.04 LTS", "version": "20240911",
     "current": "Ubuntu 24.04.1 LTS"},
    {"remote": "", "aliases": ["core22"], "os": "Ubuntu", "release": "Core 22",
     "version": "20230717", "current": "Ubuntu Core 22"},
    {"remote": "daily", "aliases": ["25.04", "plucky", "devel", "p"], "os": "Ubuntu",
     "release": "25.04", "version": "20250312", "current": "Ubuntu 25.04"},
]
BLUEPRINTS = {
    "docker": {"release": "Docker", "cpus": 2, "memory": 4 * GIB, "disk": 40 * GIB},
    "jellyfin": {"release": "Jellyfin", "cpus": 2, "memory": 4 * GIB, "disk": 40 * GIB},
    "minikube": {"release": "minikube is local Kubernetes", "cpus": 2, "memory": 4 * GIB,
                 "disk": 40 * GIB},
    "ros2-jazzy": {"release": "ROS 2 Jazzy", "cpus": 2, "memory": 4 * GIB, "disk": 40 * GIB},
}
NETWORKS = [
    {"name": "enp3s0", "type": "ethernet", "description": "Ethernet device"},
    {"name": "wlp2s0", "type": "wifi", "description": "Wi-Fi device"},
]
SETTINGS = {"client.primary-name": "primary", "local.driver": "qemu",
            "local.privileged-mounts": "true", "local.bridged-network": "",
            "local.passphrase": "false", "local.image.mirror": ""}
UNWANTED_ALIASES = {"ubuntu", "default"}
#: include/multipass/constants.h on main: default_zone_names
ZONES = ["zone1", "zone2", "zone3"]
#: mount targets Multipass refuses (mp::utils::invalid_target_path)
INVALID_TARGETS = re.compile(r"^/+(dev|proc|sys)(/.*)?$|^/+$|^/+home/+ubuntu/*$")
MIN_MEMORY, MIN_DISK = 128 * MIB, 512 * MIB


class Exit(Exception):
    """Leave with an exit code; the message is already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def fail(command: str, message: str, code: int = COMMAND_FAIL, details: str = "") -> Exit:
    """standard_failure_handler_for: '<command> failed: <message>' then the details."""
    err(f"{command} failed: {message}\n" + (f"{details}\n" if details else ""))
    return Exit(code)


def usage_error(message: str) -> Exit:
    err(message)
    return Exit(COMMAND_LINE_ERROR)


def following(errors: list[str]) -> str:
    """grpc_status_for: several instance errors under one heading."""
    return "The following errors occurred:\n" + "\n".join(errors)


# ---- state --------------------------------------------------------------------------
def state_path() -> str:
    return os.environ.get("MULTIPASS_FAKE_STATE") or os.path.expanduser(
        "~/.multipass-fake.json")


@contextlib.contextmanager
def daemon_state():
    """The daemon's state, locked for this command and written back afterwards."""
    path = state_path()
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            state = {}
        state.setdefault("instances", {})
        state.setdefault("settings", {})
        state.setdefault("counter", 0)
        yield state
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)


def setting(state: dict, key: str) -> str:
    return state["settings"].get(key, SETTINGS.get(key, ""))


# ---- arguments (QCommandLineParser-like) --------------------------------------------
class Parsed:
    def __init__(self) -> None:
        self.options: dict[str, list[str]] = {}
        self.positional: list[str] = []

    def isset(self, name: str) -> bool:
        return name in self.options

    def value(self, name: str, default: str | None = None) -> str | None:
        values = self.options.get(name)
        return values[-1] if values else default

    def values(self, name: str) -> list[str]:
        return self.options.get(name, [])


def parse(args: list[str], spec: dict[str, tuple[str, bool]]) -> Parsed:
    """QCommandLineParser::parse as Multipass's ArgParser uses it (qtbase
    src/corelib/tools/qcommandlineparser.cpp, default modes: compacted short options,
    options after positional arguments still options). ``spec``: every spelling -> (canonical
    name, takes a value); -h/--help, -v/--verbose and -V/--version are global
    (src/client/cli/argparser.cpp).

    Names are looked up without their dashes, so "--c 2" and "-c2" both set --cpus; "-abc"
    is -a -b -c, and an option that takes a value takes the rest of the word ("-noble" is
    "-n oble"); a lone "-" is a positional argument (stdin); "--" ends the options. Unknown
    names are collected and reported together: "Unknown option 'x'." or "Unknown options:
    x, y." unless a missing or unexpected value was reported first (errorText)."""
    table = {name.lstrip("-"): entry for name, entry in spec.items()}
    table.update({"v": ("verbose", False), "verbose": ("verbose", False),
                  "h": ("help", False), "help": ("help", False),
                  "V": ("version", False), "version": ("version", False)})
    parsed = Parsed()
    unknown: list[str] = []
    error_text = ""
    index = 0

    def take_value(name: str, argument: str) -> bool:
        """parseOptionValue: the value after '=' or in the next argument."""
        nonlocal index, error_text
        canonical, takes_value = table[name]
        assign = argument.find("=")
        if takes_value:
            if assign == -1:
                if index >= len(args):
                    error_text = f"Missing value after '{argument}'."
                    return False
                parsed.options.setdefault(canonical, []).append(args[index])
                index += 1
            else:
                parsed.options.setdefault(canonical, []).append(argument[assign + 1:])
        else:
            if assign != -1:
                error_text = f"Unexpected value after '{argument[:assign]}'."
                return False
            parsed.options.setdefault(canonical, []).append("")
        return True

    error = False
    while index < len(args):
        argument = args[index]
        index += 1
        if argument == "--":
            parsed.positional += args[index:]
            break
        if argument.startswith("--"):
            name = argument[2:].split("=", 1)[0]
            if name in table:
                error |= not take_value(name, argument)
            else:
                unknown.append(name)
                error = True
        elif argument.startswith("-") and argument != "-":
            name, value_found, pos = "", False, 1
            while pos < len(argument):
                name = argument[pos]
                if name not in table:
                    unknown.append(name)
                    error = True
                else:
                    canonical, takes_value = table[name]
                    if takes_value:
                        if pos + 1 < len(argument):
                            if argument[pos + 1] == "=":
                                pos += 1
                            parsed.options.setdefault(canonical, []).append(argument[pos + 1:])
                            value_found = True
                        break
                    if pos + 1 < len(argument) and argument[pos + 1] == "=":
                        break
                    if pos + 1 < len(argument):  # a flag in the middle of the word
                        parsed.options.setdefault(canonical, []).append("")
                pos += 1
            if not value_found and name in table:
                error |= not take_value(name, argument)
        else:
            parsed.positional.append(argument)
    if error:
        if error_text:
            raise usage_error(error_text)
        if len(unknown) == 1:
            raise usage_error(f"Unknown option '{unknown[0]}'.")
        raise usage_error(f"Unknown options: {', '.join(unknown)}.")
    return parsed


def options(*entries: tuple[tuple[str, ...], bool]) -> dict[str, tuple[str, bool]]:
    spec = {}
    for names, takes_value in entries:
        canonical = max(names, key=len).lstrip("-")
        for name in names:
            spec[name] = (canonical, takes_value)
    return spec


FORMAT = (("--format",), True)
ALL = (("--all",), False)
TIMEOUT = (("--timeout",), True)


def chosen_format(parsed: Parsed) -> str:
    fmt = parsed.value("format", "table")
    if fmt not in ("table", "json", "csv", "yaml"):
        raise usage_error("Invalid format type given.")
    return fmt


def parse_timeout(parsed: Parsed) -> None:
    if parsed.isset("timeout"):
        value = parsed.value("timeout")
        if not re.fullmatch(r"\d+", value or "") or int(value) <= 0:
            raise usage_error("error: --timeout value has to be a positive integer")


# ---- daemon helpers -----------------------------------------------------------------
def daemon_up(command: str) -> None:
    # include/multipass/cli/command.h (dispatch; dispatch_rpc.h on main): an unreachable
    # daemon (gRPC UNAVAILABLE) is reported as NOT_FOUND "cannot connect to the multipass
    # socket", which return_code_for (client_common.cpp) maps to CommandFail: exit 2, not 3,
    # in every release from 1.0 on. The commands print no details for it.
    if os.environ.get("MULTIPASS_FAKE_DAEMON") == "down":
        raise fail(command, "cannot connect to the multipass socket", COMMAND_FAIL)
    verb, code, message = injected_failure()
    if verb == command and code != TIMEOUT_EXIT:  # a timeout: see main()
        raise fail(command, message, code)


def injected_failure() -> tuple[str, int, str]:
    """MULTIPASS_FAKE_FAIL=VERB:CODE:MESSAGE, or ("", 0, "")."""
    verb, _, rest = os.environ.get("MULTIPASS_FAKE_FAIL", "").partition(":")
    code, _, message = rest.partition(":")
    return (verb, int(code), message) if verb and code else ("", 0, "")


def state_word(instance: dict) -> str:
    """format_utils.cpp status_string_for: "Running" ... "Delayed Shutdown" since v0.7;
    the 2018.x releases up to v0.6 printed "RUNNING", "DELAYED SHUTDOWN" (with a space).
    No release printed lower-case words or DELAYED_SHUTDOWN (the protobuf enum name)."""
    word = "Deleted" if instance.get("deleted") else instance["state"]
    case = os.environ.get("MULTIPASS_FAKE_STATE_CASE", "")
    if case == "upper" or (not case and not version_at_least(0, 7)):
        return word.upper()
    return word


def is_running(instance: dict) -> bool:
    """MP_UTILS.is_running: running, or running until a delayed shutdown."""
    return not instance.get("deleted") and instance["state"] in ("Running", "Delayed Shutdown")


def select(state: dict, names: list[str], operative_only: bool,
           deleted_message: str = 'instance "{}" is deleted',
           missing_message: str = 'instance "{}" does not exist') -> tuple[list[str], list[str]]:
    """select_instances_and_react: the instances named, and the errors for the others."""
    chosen, errors = [], []
    for name in dict.fromkeys(names):
        instance = state["instances"].get(name)
        if instance is None:
            errors.append(missing_message.format(name))
        elif instance.get("deleted") and operative_only:
            errors.append(deleted_message.format(name))
        else:
            chosen.append(name)
    return chosen, errors


def names_or_all(command: str, parsed: Parsed, state: dict, allow_empty: bool,
                 group: str = "operative") -> list[str]:
    """check_for_name_and_all_option_conflict plus the primary-name default."""
    names = parsed.positional
    if parsed.isset("all"):
        if names:
            raise usage_error(f"Cannot specify name{'s' if len(names) > 1 else ''} when "
                              "--all option set")
        instances = state["instances"]
        if group == "deleted":
            return [n for n, i in instances.items() if i.get("deleted")]
        if group == "all":
            return list(instances)
        return [n for n, i in instances.items() if not i.get("deleted")]
    if names:
        return names
    if not allow_empty:
        raise usage_error("Name argument or --all is required")
    return [setting(state, "client.primary-name")]


def memory_size(text: str) -> int | None:
    """mp::MemorySize: bytes, or with K, M, G suffix (B/iB optional), decimals allowed."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG])?(?:i?B)?", text.strip(), re.IGNORECASE)
    if not match:
        return None
    unit = {"": 1, "K": 1024, "M": MIB, "G": GIB}[(match.group(2) or "").upper()]
    return int(float(match.group(1)) * unit)


def human(size: int) -> str:
    return f"{size / GIB:.1f}GiB"


def find_image(query: str) -> tuple[dict | None, str]:
    remote, _, alias = query.rpartition(":")
    remotes = {i["remote"] for i in IMAGES} | {"release"}
    if remote and remote not in remotes:
        return None, remote
    for image in IMAGES:
        image_remote = image["remote"] or "release"
        if remote and remote != image_remote:
            continue
        if not remote and image["remote"]:
            continue
        if alias in image["aliases"]:
            return image, image_remote
    return None, remote or "release"


# ---- documents ----------------------------------------------------------------------
def dump(document: dict) -> None:
    out(json.dumps(document, indent=4, sort_keys=True))


def zones_enabled() -> bool:
    """Availability zones: on Multipass's main branch after 1.16 (commit afeb5d6f6 "[cli] add
    retrieval of zones"), in no release up to 1.16.3."""
    forced = os.environ.get("MULTIPASS_FAKE_ZONES", "")
    return forced == "1" if forced else version_at_least(1, 17)


def blueprints_key() -> str:
    """json_formatter.cpp format(FindReply): "blueprints" 1.12 to 1.15, "blueprints
    (deprecated)" 1.16, none before 1.12 nor on main after 1.16."""
    if version_at_least(1, 17) or not version_at_least(1, 12):
        return "none"
    return "blueprints (deprecated)" if version_at_least(1, 16) else "blueprints"


def zone_object(instance: dict) -> dict:
    """json_formatter.cpp on main: "zone": {"name": ..., "available": ...} in list and info,
    an object from the start (never a bare string)."""
    return {"name": instance.get("zone") or "zone1",
            "available": bool(instance.get("zone_available", True))}


def list_entry(name: str, instance: dict, request_ipv4: bool = True) -> dict:
    """Daemon::list (daemon.cpp) and generate_instances_list (json_formatter.cpp): ipv4 only
    for a running instance and without --no-ipv4; release "Ubuntu <original release>" or
    "Not Available"."""
    entry = {"name": name, "state": state_word(instance),
             "ipv4": ip_addresses(instance) if request_ipv4 and is_running(instance) else [],
             "release": f"Ubuntu {instance['image_release']}"
             if instance.get("image_release") else "Not Available"}
    if not version_at_least(1, 11):  # before 1.11 the release as the daemon has it
        entry["release"] = instance.get("image_release", "")
    if zones_enabled():
        entry["zone"] = zone_object(instance)
    return entry


def ip_addresses(instance: dict) -> list[str]:
    return [instance["ipv4"], *instance.get("extra_ipv4", [])]


def info_entry(name: str, instance: dict, runtime_information: bool = True) -> dict:
    """Daemon::populate_instance_info (daemon.cpp): cpu_count, memory and disk totals and
    usage, load, the current release and the addresses come only from
    RuntimeInstanceInfoHelper::populate_runtime_info (runtime_instance_info_helper.cpp),
    which runs only for a running instance and without --no-runtime-information; otherwise
    json_formatter.cpp prints "cpu_count": "", "memory": {}, "disks": {"sda1": {}},
    "load": [], "release": "", "ipv4": []. The totals are what the VM reports (free -b,
    df), a little less than allocated; disks are strings of bytes, memory integers."""
    running = is_running(instance) and runtime_information
    entry = {
        "state": state_word(instance),
        "image_hash": hashlib.sha256(instance["image"].encode()).hexdigest(),
        "image_release": instance.get("image_release", ""),
        "release": instance.get("current_release", "") if running else "",
        "cpu_count": str(instance["cpus"]) if running else "",
        "load": [0.08, 0.03, 0.01] if running else [],
        "disks": {"sda1": {"total": str(int(instance["disk"] * 0.97)), "used": "2147483648"}
                  if running else {}},
        "memory": {"total": int(instance["memory"] * 0.955),
                   "used": int(instance["memory"] * 0.955) // 5} if running else {},
        "ipv4": ip_addresses(instance) if running else [],
        "mounts": {target: {"source_path": m["source_path"],
                            "uid_mappings": [f"{m['uid']}:default"],
                            "gid_mappings": [f"{m['gid']}:default"]}
                   for target, m in instance.get("mounts", {}).items()},
    }
    if os.environ.get("MULTIPASS_FAKE_SNAPSHOT_COUNT") != "absent" and version_at_least(1, 13):
        entry["snapshot_count"] = str(instance.get("snapshots", 0))
    if not version_at_least(1, 11):  # json_formatter.cpp: cpu_count since 1.11
        del entry["cpu_count"]
    if zones_enabled():
        entry["zone"] = zone_object(instance)
    return entry


def image_entry(image: dict) -> tuple[str, dict]:
    aliases = [image["aliases"][0]] + [a for a in image["aliases"][1:]
                                       if len(a) > 1 and a not in UNWANTED_ALIASES]
    key = f"{image['remote']}:{aliases[0]}" if image["remote"] else aliases[0]
    return key, {"os": image["os"], "release": image["release"], "version": image["version"],
                 "aliases": aliases[1:], "remote": image["remote"]}


def table(rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("".join(str(c).ljust(w + 2) for c, w in zip(r, widths)).rstrip()
                     for r in rows)


# ---- commands -----------------------------------------------------------------------
def cmd_version(args: list[str]) -> int:
    parsed = parse(args, options(FORMAT))
    fmt = chosen_format(parsed)
    document = {"multipass": faked_version()}
    if os.environ.get("MULTIPASS_FAKE_DAEMON") != "down":
        document["multipassd"] = faked_version()
    if fmt == "json":
        dump(document)
    else:
        out(table([[k, v] for k, v in document.items()]))
    return OK


def cmd_list(args: list[str]) -> int:
    parsed = parse(args, options(FORMAT, (("--snapshots",), False), (("--no-ipv4",), False)))
    fmt = chosen_format(parsed)
    daemon_up("list")
    with daemon_state() as state:
        # operative instances first, then the deleted ones (Daemon::list)
        ordered = sorted(state["instances"].items(), key=lambda kv: bool(kv[1].get("deleted")))
        entries = [list_entry(name, inst, not parsed.isset("no-ipv4")) for name, inst in ordered]
    if fmt == "json":
        dump({"list": entries})
    elif fmt == "csv":
        out("Name,State,IPv4,IPv6,Release,AllIPv4")
        for e in entries:
            first = e["ipv4"][0] if e["ipv4"] else ""
            out(f"{e['name']},{e['state']},{first},,{e['release']},\"{','.join(e['ipv4'])}\"")
    elif not entries:
        err("No instances found.")
    else:
        out(table([["Name", "State", "IPv4", "Image"]] +
                  [[e["name"], e["state"], (e["ipv4"] or ["--"])[0], e["release"]]
                   for e in entries]))
    return OK


def info_table(name: str, d: dict) -> str:
    """table_formatter.cpp generate_instance_details: "--" for what a stopped instance
    lacks, usage as "<used> out of <total>" (MemorySize::human_readable, approximate)."""
    def usage(pair: dict) -> str:
        if "used" not in pair or "total" not in pair:
            return "--"
        return f"{human(int(pair['used']))} out of {human(int(pair['total']))}"

    lines = [("Name:", name), ("State:", d["state"])]
    if "snapshot_count" in d:
        lines.append(("Snapshots:", d["snapshot_count"]))
    lines += [("IPv4:", d["ipv4"][0] if d["ipv4"] else "--")]
    lines += [("", ip) for ip in d["ipv4"][1:]]
    release = f" (Ubuntu {d['image_release']})" if d["image_release"] else ""
    lines += [("Release:", d["release"] or "--"),
              ("Image hash:", d["image_hash"][:12] + release),
              ("CPU(s):", d["cpu_count"] or "--"),
              ("Load:", " ".join(map(str, d["load"])) or "--"),
              ("Disk usage:", usage(d["disks"]["sda1"])),
              ("Memory usage:", usage(d["memory"]))]
    mounts = [f"{m['source_path']} => {target}" for target, m in d["mounts"].items()]
    lines += [("Mounts:", mounts[0] if mounts else "--")] + [("", m) for m in mounts[1:]]
    return "\n".join(f"{label:<16}{value}" for label, value in lines)


def cmd_info(args: list[str]) -> int:
    parsed = parse(args, options(FORMAT, ALL, (("--snapshots",), False),
                                 (("--no-runtime-information",), False)))
    fmt = chosen_format(parsed)
    if parsed.isset("all"):
        names_or_all("info", parsed, {"instances": {}}, allow_empty=True)  # name conflict
    if parsed.isset("all") and version_at_least(1, 13) and not version_at_least(1, 17):
        # info.cpp 1.13 to 1.16: --all still works, with this warning (gone on main)
        err("Warning: the `--all` flag for the `info` command is deprecated. Please use "
            "`info` with no positional arguments for the same effect.")
    daemon_up("info")
    with daemon_state() as state:
        names = names_or_all("info", parsed, state, allow_empty=True, group="all") \
            if parsed.isset("all") else (parsed.positional or list(state["instances"]))
        chosen, errors = select(state, names, operative_only=False)
        if errors:
            raise fail("info", following(errors))
        details = {name: info_entry(name, state["instances"][name],
                                    not parsed.isset("no-runtime-information"))
                   for name in chosen}
    if fmt == "json":
        dump({"errors": [], "info": details})
    else:
        blocks = [info_table(name, d) for name, d in details.items()]
        out("\n\n".join(blocks))
    return OK


def cmd_find(args: list[str]) -> int:
    parsed = parse(args, options(FORMAT, (("--show-unsupported",), False),
                                 (("--only-images",), False), (("--only-blueprints",), False),
                                 (("--force-update",), False)))
    fmt = chosen_format(parsed)
    if len(parsed.positional) > 1:
        raise usage_error("Wrong number of arguments")
    daemon_up("find")
    search = parsed.positional[0] if parsed.positional else ""
    images = {}
    if not parsed.isset("only-blueprints"):
        for image in IMAGES:
            key, entry = image_entry(image)
            if not search or search in image["aliases"] or search == key:
                images[key] = entry
    blueprints = {}
    if not parsed.isset("only-images"):
        blueprints = {name: {"os": "", "release": b["release"], "version": "latest",
                             "aliases": [], "remote": ""}
                      for name, b in BLUEPRINTS.items() if not search or search == name}
    if fmt == "json":
        document = {"errors": [], "images": images}
        key = os.environ.get("MULTIPASS_FAKE_BLUEPRINTS_KEY", "") or blueprints_key()
        if key != "none":
            document[key] = blueprints
        dump(document)
    else:
        rows = [["Image", "Aliases", "Version", "Description"]] + [
            [k, ",".join(v["aliases"]), v["version"], f"{v['os']} {v['release']}"]
            for k, v in images.items()]
        out(table(rows))
    return OK


def cmd_networks(args: list[str]) -> int:
    parsed = parse(args, options(FORMAT))
    fmt = chosen_format(parsed)
    daemon_up("networks")
    rows = sorted(NETWORKS, key=lambda n: n["name"])
    if fmt == "json":
        dump({"list": rows})
    else:
        out(table([["Name", "Type", "Description"]] +
                  [[n["name"], n["type"], n["description"]] for n in rows]))
    return OK


def parse_network(spec: str) -> dict:
    """net_digest of launch.cpp."""
    net = {"name": "", "mode": "auto", "mac": ""}
    fields = [f for f in spec.split(",") if f]
    for field in fields:
        parts = [p for p in field.split("=") if p]
        if len(parts) == 2:
            key, value = parts[0].lower(), parts[1]
            if key == "name":
                net["name"] = value
            elif key == "mode":
                if value.lower() not in ("auto", "manual"):
                    raise usage_error(f"error: Bad network mode '{value.lower()}', need "
                                      "'auto' or 'manual'")
                net["mode"] = value.lower()
            elif key == "mac":
                if not re.fullmatch(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", value):
                    raise usage_error(f"error: Invalid MAC address: {value}")
                net["mac"] = value
            else:
                raise usage_error(f"error: Bad network field: {key}")
        elif len(parts) == 1 and len(fields) == 1:
            net["name"] = parts[0]
        else:
            raise usage_error(f"error: Bad network field definition: {field}")
    if not net["name"]:
        raise usage_error("error: Bad network definition, need at least a 'name' field")
    return net


def cmd_launch(args: list[str]) -> int:
    """src/client/cli/cmd/launch.cpp (parse_args, request_launch) and Daemon::launch."""
    zone_option = [(("--zone",), True)] if zones_enabled() else []  # main only
    parsed = parse(args, options(
        (("-c", "--cpus"), True), (("-d", "--disk"), True), (("-m", "--memory"), True),
        (("--mem",), True), (("-n", "--name"), True), (("--cloud-init",), True),
        (("--network",), True), (("--bridged",), False), (("--mount",), True), TIMEOUT,
        *zone_option))
    if len(parsed.positional) > 1:
        raise usage_error("Too many arguments supplied")
    image_query = parsed.positional[0] if parsed.positional else ""
    if image_query.count(":") > 1 and not re.match(r"^(https?|file)://", image_query):
        raise usage_error("Invalid remote and source image name supplied")
    cpus = None
    if parsed.isset("cpus"):
        text = parsed.value("cpus")
        if not re.fullmatch(r"\d+", text) or int(text) < 1:
            raise usage_error(f"Error: invalid CPU count '{text}', need a positive integer "
                              "value.")
        cpus = int(text)
    if parsed.isset("memory") and parsed.isset("mem"):
        raise usage_error('Error: invalid option(s) used for memory allocation. Please use '
                          '"--memory" to specify amount of memory to allocate.')
    if parsed.isset("mem"):
        err('Warning: the "--mem" long option is deprecated in favour of "--memory". '
            'Please update any scripts, etc.')
    sizes = {}
    for option in ("memory", "mem", "disk"):
        if parsed.isset(option):
            text = parsed.value(option)
            if memory_size(text) is None:  # approximate: MemorySize's exception text
                raise usage_error(f"error: {text} is not a valid memory size")
            sizes["disk" if option == "disk" else "memory"] = text
    mounts = []
    for value in parsed.values("mount"):
        source, _, target = value.partition(":")
        for check, word in ((os.path.exists, "does not exist"), (os.path.isdir, "is not a directory"),
                            (lambda p: os.access(p, os.R_OK), "is not readable")):
            if not check(source):
                raise usage_error(f'Mount source path "{source}" {word}')
        mounts.append((os.path.abspath(source), target))
    cloud_init, cloud_init_document = None, None
    if parsed.isset("cloud-init"):
        cloud_init, cloud_init_document = read_cloud_init(parsed.value("cloud-init"))
    networks = []
    if parsed.isset("bridged"):
        networks.append({"name": "bridged", "mode": "auto", "mac": ""})
    networks += [parse_network(spec) for spec in parsed.values("network")]
    parse_timeout(parsed)
    daemon_up("launch")
    zone = None
    if parsed.isset("zone"):  # request_launch, common_cli.cpp normalize_zone_name (main)
        zone = parsed.value("zone").strip()
        if not zone:
            raise usage_error("Error: Empty zone specified with --zone option")
        if zone.isdigit() and 1 <= int(zone) <= len(ZONES):
            zone = ZONES[int(zone) - 1]
        elif zone not in ZONES:
            err(f"No AZ with name: {zone}")
            raise Exit(COMMAND_FAIL)
    with daemon_state() as state:
        name = parsed.value("name") or generated_name(state)
        errors = []
        memory = memory_size(sizes["memory"]) if "memory" in sizes else GIB
        if memory < MIN_MEMORY:
            errors.append(f"Invalid memory size value supplied: {sizes['memory']}.")
        if "disk" in sizes and memory_size(sizes["disk"]) < MIN_DISK:
            errors.append(f"Invalid disk size value supplied: {sizes['disk']}.")
        if not re.fullmatch(r"[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?", name):
            errors.append(f"Invalid instance name supplied: {name}")
        known = {n["name"] for n in NETWORKS}
        bridged_to = setting(state, "local.bridged-network")
        for net in networks:
            if net["name"] == "bridged":
                if not bridged_to:  # approximate wording
                    raise fail("launch", "You have to `multipass set local.bridged-network=<name>`"
                               ' to use the "bridged" shortcut.')
                net["name"] = bridged_to
            if net["name"] not in known:
                errors.append("Invalid network options supplied")
        if errors:  # the client shows the last of the daemon's LaunchError codes
            raise fail("launch", "Invalid arguments supplied", details=errors[-1])
        if name in state["instances"]:
            raise fail("launch", f'instance "{name}" already exists')
        instance = new_instance(state, image_query, cpus, memory, sizes.get("disk"), networks)
        if instance is None:
            raise Exit(COMMAND_FAIL)
        if cloud_init is not None and isinstance(cloud_init_document, (str, int, float, bool)):
            # daemon.cpp prepare_user_data indexes the document (user_data_config["users"]);
            # yaml-cpp throws BadSubscript on a scalar, e.g. a shell script, whose first line
            # is a YAML comment (approximate wording of yaml-cpp's message)
            raise fail("launch", 'operator[] call on a scalar (key: "users")')
        # the user data as given (the real client hands the daemon YAML::Dump of it), and
        # where it came from: "-" for stdin, else the path
        instance["cloud_init"] = cloud_init
        instance["cloud_init_from"] = (None if cloud_init is None else
                                       "-" if parsed.value("cloud-init") == "-"
                                       else os.path.abspath(parsed.value("cloud-init")))
        if zone:
            instance["zone"] = zone
        state["instances"][name] = instance
        # launch.cpp: "Launched: NAME" up to 1.16, "Launched: NAME in ZONE" on main
        out(f"Launched: {name} in {instance['zone']}" if zones_enabled() else f"Launched: {name}")
        for source, target in mounts:
            target = mount_target(source, target)
            instance.setdefault("mounts", {})[target] = {
                "source_path": source, "uid": os.getuid(), "gid": os.getgid()}
            out(f"Mounted '{source}' into '{name}:{target}'")
    return OK


def read_cloud_init(path: str) -> tuple[str, object]:
    """launch.cpp parse_args: ``--cloud-init -`` reads stdin to its end, a path must be a
    regular file or a FIFO (else yaml-cpp's BadFile "bad file: PATH"); the YAML must parse.
    The text (as given) and the parsed document."""
    template = "Could not load cloud-init configuration: {}"
    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            mode = os.stat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
                raise OSError(path)
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            raise usage_error(template.format(f"bad file: {path}\nPlease ensure that "
                                              "Multipass can read it.")) from None
    try:
        import yaml
    except ImportError:  # the fake still works where PyYAML is missing
        return text, {}
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as error:  # approximate: yaml-cpp words its errors otherwise
        raise usage_error(template.format(str(error).splitlines()[0])) from None


def generated_name(state: dict) -> str:
    words = ["keen-fox", "brave-owl", "calm-yak", "swift-elk"]
    state["counter"] += 1
    return f"{words[state['counter'] % len(words)]}-{state['counter']}"


def new_instance(state: dict, query: str, cpus: int | None, memory: int,
                 disk_text: str | None, networks: list[dict]) -> dict | None:
    """The daemon's create_vm: resolve the image, allocate, boot."""
    release, current, image_key = "", "", query
    if query in BLUEPRINTS:
        blueprint = BLUEPRINTS[query]
        image, _ = find_image("24.04")
        cpus = cpus or blueprint["cpus"]
        memory = max(memory, blueprint["memory"])
        disk_text = disk_text or f"{blueprint['disk'] // GIB}G"
    elif re.match(r"^(https?|file)://", query):
        image = None  # a custom image: Multipass knows no release for it
    else:
        image, remote = find_image(query or "lts")
        if image is None:
            if remote not in {i["remote"] for i in IMAGES} | {"release"}:
                fail("launch", f'Remote "{remote}" is unknown or unreachable.')
            else:
                alias = query.rpartition(":")[2]
                fail("launch", f'Unable to find an image matching "{alias}" in remote '
                     f'"{remote}".')
            return None
    if image is not None:
        release, current, image_key = image["release"], image["current"], image["aliases"][0]
    state["counter"] += 1
    number = state["counter"]
    return {
        "state": "Running", "deleted": False, "image": image_key or "default",
        "image_release": release, "current_release": current, "cpus": cpus or 1,
        "memory": memory, "disk": memory_size(disk_text) if disk_text else 5 * GIB,
        # Multipass's bridge hands out 10.x addresses; MULTIPASS_FAKE_SUBNET=127.0.0 puts
        # the instances on loopback, where an SSH test can listen for them
        "ipv4": f"{os.environ.get('MULTIPASS_FAKE_SUBNET', '10.218.69')}.{10 + number % 240}",
        "extra_ipv4": [f"192.168.1.{100 + number % 150}" for n in networks
                       if n["mode"] == "auto"],
        "networks": networks, "mounts": {}, "files": {}, "snapshots": 0,
        "zone": f"zone{1 + number % 3}",
    }


def cmd_start(args: list[str]) -> int:
    parsed = parse(args, options(ALL, TIMEOUT))
    parse_timeout(parsed)
    daemon_up("start")
    with daemon_state() as state:
        names = names_or_all("start", parsed, state, allow_empty=True)
        details = []
        for name in dict.fromkeys(names):
            instance = state["instances"].get(name)
            if instance is None:
                details.append(f"Instance '{name}' does not exist.")
            elif instance.get("deleted"):
                details.append(f"Instance '{name}' is deleted. Use 'recover' to recover it or "
                               "'purge' to permanently delete it.")
        if details:
            raise fail("start", "instance(s) missing", details="\n".join(details))
        errors = []
        for name in dict.fromkeys(names):
            instance = state["instances"][name]
            if instance["state"] == "Unknown":
                errors.append(f"Instance '{name}' is already running, but in an unknown state")
            elif instance["state"] == "Suspending":
                errors.append(f"Cannot start the instance '{name}' while suspending")
            else:  # stopped, suspended (resumed), delayed shutdown (cancelled), starting
                instance["state"] = "Running"
        if errors:
            raise fail("start", "\n".join(errors))
    return OK


def operative(command: str, parsed: Parsed, state: dict) -> list[str]:
    """require_operative_instances_reaction over the names given (or --all)."""
    names = names_or_all(command, parsed, state, allow_empty=True)
    chosen, errors = select(state, names, operative_only=True)
    if errors:
        raise fail(command, following(errors))
    return chosen


def cmd_stop(args: list[str]) -> int:
    parsed = parse(args, options(ALL, (("-t", "--time"), True), (("-c", "--cancel"), False),
                                 (("-f", "--force"), False)))
    if parsed.isset("time") and parsed.isset("cancel"):
        raise usage_error("Cannot set 'time' and 'cancel' options at the same time")
    delay = parsed.value("time", "0").lstrip("+")
    if not re.fullmatch(r"\d+", delay):
        raise usage_error("Time must be in digit form")
    daemon_up("stop")
    with daemon_state() as state:
        for name in operative("stop", parsed, state):
            instance = state["instances"][name]
            if parsed.isset("cancel"):
                if instance["state"] == "Delayed Shutdown":
                    instance["state"] = "Running"
            elif int(delay) > 0 and instance["state"] == "Running":
                instance["state"] = "Delayed Shutdown"
            else:
                instance["state"] = "Stopped"
    return OK


def cmd_suspend(args: list[str]) -> int:
    parsed = parse(args, options(ALL))
    daemon_up("suspend")
    with daemon_state() as state:
        for name in operative("suspend", parsed, state):
            instance = state["instances"][name]
            if is_running(instance):  # the backends ignore a suspend of a stopped VM
                instance["state"] = "Suspended"
    return OK


def not_running_message(name: str, instance: dict) -> str:
    """Daemon::reboot_vm (src/daemon/daemon.cpp) for an instance that is not running:
    up to 1.14 'instance "x" is not running'; 1.15 and 1.16 say, whatever the state,
    "Instance 'x' is already running, but in an unknown state.\nTry to stop and start it
    instead."; main (after 1.16, unreleased) keeps that for the Unknown state only and says
    "Instance 'x' is not running" otherwise."""
    unknown_state = ("Instance '{0}' is already running, but in an unknown state.\n"
                     "Try to stop and start it instead.").format(name)
    if not version_at_least(1, 15):
        return f'instance "{name}" is not running'
    if not version_at_least(1, 17) or instance["state"] == "Unknown":
        return unknown_state
    return f"Instance '{name}' is not running"


def cmd_restart(args: list[str]) -> int:
    parsed = parse(args, options(ALL, TIMEOUT))
    parse_timeout(parsed)
    daemon_up("restart")
    with daemon_state() as state:
        # Daemon::restart: cmd_vms reboots the targets in order and stops at the first
        # failure, so the instances before a stopped one are rebooted (a delayed shutdown
        # is cancelled by the reboot)
        failure = None
        for name in operative("restart", parsed, state):
            instance = state["instances"][name]
            if not is_running(instance):
                failure = not_running_message(name, instance)
                break
            instance["state"] = "Running"
            # not printed by any command: the tests' record that a reboot happened
            instance["reboots"] = instance.get("reboots", 0) + 1
    if failure:  # after the state is written: the reboots before it happened
        raise fail("restart", failure)
    return OK


def cmd_delete(args: list[str]) -> int:
    parsed = parse(args, options(ALL, (("-p", "--purge"), False)))
    if not parsed.positional and not parsed.isset("all"):
        raise usage_error("Name argument or --all is required")
    names = parsed.positional
    if any("." in n for n in names) and not parsed.isset("purge"):
        raise usage_error("Snapshots can only be purged (after deletion, they cannot be "
                          "recovered). Please use the `--purge` flag if that is what you want.")
    daemon_up("delete")
    with daemon_state() as state:
        names = names_or_all("delete", parsed, state, allow_empty=False, group="all")
        chosen, errors = select(state, names, operative_only=False)
        if errors:
            raise fail("delete", following(errors))
        for name in chosen:
            if parsed.isset("purge"):
                del state["instances"][name]
            else:
                instance = state["instances"][name]
                instance["deleted"] = True
                instance["state"] = "Stopped"
    return OK


def cmd_recover(args: list[str]) -> int:
    parsed = parse(args, options(ALL))
    daemon_up("recover")
    with daemon_state() as state:
        if parsed.isset("all") or not parsed.positional:
            names = [n for n, i in state["instances"].items() if i.get("deleted")]
        else:
            names = parsed.positional
        # an instance that is not deleted needs no recovery: only logged by the daemon
        chosen, errors = select(state, names, operative_only=False)
        if errors:
            raise fail("recover", following(errors))
        for name in chosen:
            state["instances"][name]["deleted"] = False
    return OK


def cmd_purge(args: list[str]) -> int:
    parsed = parse(args, {})
    if parsed.positional:
        raise usage_error("This command takes no arguments")
    daemon_up("purge")
    with daemon_state() as state:
        for name in [n for n, i in state["instances"].items() if i.get("deleted")]:
            del state["instances"][name]
    return OK


def ssh_ready(command: str, state: dict, names: list[str]) -> None:
    """Daemon::ssh_info: operative instances that are running."""
    chosen, errors = select(state, names, operative_only=True)
    if errors:
        raise fail(command, following(errors))
    for name in chosen:
        if not is_running(state["instances"][name]):
            raise fail(command, f'instance "{name}" is not running')


# ---- inside an instance: a tiny shell for exec and shell ----------------------------
def instance_path(path: str, cwd: str = "/home/ubuntu") -> str:
    path = path or "."
    joined = path if path.startswith("/") else f"{cwd.rstrip('/')}/{path}"
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def run_in_instance(name: str, instance: dict, argv: list[str], cwd: str) -> int:
    if not argv:
        return 0
    if argv[0] in ("sh", "bash") and len(argv) >= 3 and argv[1] == "-c":
        code = 0
        for command in argv[2].split(";"):
            code = run_in_instance(name, instance, shlex.split(command), cwd)
        return code
    program, args = argv[0], argv[1:]
    files = instance.setdefault("files", {})
    if program == "echo":
        out(" ".join(args))
    elif program == "hostname":
        out(name)
    elif program == "whoami":
        out("ubuntu")
    elif program == "pwd":
        out(cwd)
    elif program == "nproc":
        out(str(instance["cpus"]))
    elif program == "uname":
        if "-a" in args:
            out(f"Linux {name} 6.8.0-45-generic #45-Ubuntu SMP PREEMPT_DYNAMIC x86_64 "
                "x86_64 x86_64 GNU/Linux")
        else:
            out("6.8.0-45-generic" if "-r" in args else "Linux")
    elif program == "cat":
        code = 0
        for arg in args:
            path = instance_path(arg, cwd)
            if path in files:
                sys.stdout.write(base64.b64decode(files[path]).decode("utf-8", "replace"))
            else:
                err(f"cat: {arg}: No such file or directory")
                code = 1
        return code
    elif program == "ls":
        path = instance_path(args[-1] if args else ".", cwd)
        entries = sorted({p[len(path):].lstrip("/").split("/")[0] for p in files
                          if p.startswith(path.rstrip("/") + "/")})
        if path in files:
            entries = [args[-1]]
        if entries:
            out("\n".join(entries))
    elif program == "cloud-init" and args[:1] == ["status"]:
        out("status: done")
    elif program == "true":
        return 0
    elif program == "false":
        return 1
    elif program == "exit":
        return int(args[0]) if args else 0
    else:
        err(f"bash: line 1: {program}: command not found")
        return 127
    return 0


def cmd_exec(args: list[str]) -> int:
    parsed = parse(args, options((("-d", "--working-directory"), True),
                                 (("-n", "--no-map-working-directory"), False)))
    if len(parsed.positional) < 2:
        raise usage_error("Wrong number of arguments")
    name, command = parsed.positional[0], parsed.positional[1:]
    daemon_up("exec")
    with daemon_state() as state:
        ssh_ready("exec", state, [name])
        instance = dict(state["instances"][name])
    # the command runs without holding the daemon's state
    return run_in_instance(name, instance, command,
                           parsed.value("working-directory", "/home/ubuntu"))


def cmd_shell(args: list[str]) -> int:
    parsed = parse(args, options(TIMEOUT))
    if len(parsed.positional) > 1:
        raise usage_error("Too many arguments given")
    daemon_up("shell")
    with daemon_state() as state:
        name = parsed.positional[0] if parsed.positional else setting(
            state, "client.primary-name")
        chosen, errors = select(state, [name], operative_only=True)
        if errors:
            raise fail("shell", following(errors))
        if not is_running(state["instances"][name]):  # shell starts a stopped instance
            state["instances"][name]["state"] = "Running"
        instance = dict(state["instances"][name])
    out(f"Welcome to {instance.get('current_release') or 'Ubuntu'} "
        "(GNU/Linux 6.8.0-45-generic x86_64)")
    code = 0
    for line in sys.stdin:
        words = shlex.split(line)
        if words[:1] == ["exit"]:
            return int(words[1]) if len(words) > 1 else code
        code = run_in_instance(name, instance, words, "/home/ubuntu")
    return code


def mount_target(source: str, target: str) -> str:
    if not target:  # default: under the default user's home, named after the source
        return f"/home/ubuntu/{os.path.basename(source.rstrip('/'))}"
    return instance_path(target)


def cmd_mount(args: list[str]) -> int:
    parsed = parse(args, options((("-g", "--gid-map"), True), (("-u", "--uid-map"), True),
                                 (("-t", "--type"), True)))
    if len(parsed.positional) < 2:
        raise usage_error("Not enough arguments given")
    source = parsed.positional[0]
    for check, word in ((os.path.exists, "does not exist"), (os.path.isdir, "is not a directory"),
                        (lambda p: os.access(p, os.R_OK), "is not readable")):
        if not check(source):
            raise usage_error(f'Source path "{source}" {word}')
    for option, label in (("uid-map", "UID"), ("gid-map", "GID")):
        for value in parsed.values(option):
            if not re.fullmatch(r"[0-9]+:[0-9]+", value):
                raise usage_error(f"Invalid {label} map given: {value}")
    mount_type = (parsed.value("type", "classic") or "").lower()
    if mount_type not in ("classic", "native"):
        raise usage_error(f"error: Bad mount type '{mount_type}' specified, please use "
                          "'classic' or 'native'")
    source = os.path.abspath(source)
    daemon_up("mount")
    with daemon_state() as state:
        if setting(state, "local.privileged-mounts") != "true":
            raise fail("mount", "Mounts are disabled on this installation of Multipass.\n\n"
                       "See https://multipass.run/docs/set-command#local.privileged-mounts "
                       "for information\non how to enable them.")
        errors = []
        for argument in parsed.positional[1:]:
            name, _, path = argument.partition(":")
            instance = state["instances"].get(name)
            if instance is None or instance.get("deleted"):
                errors.append(f"instance '{name}' does not exist")
                continue
            target = mount_target(source, path)
            if INVALID_TARGETS.match(target):
                errors.append(f'unable to mount to "{target}"')
                continue
            if target in instance.get("mounts", {}):
                errors.append(f"\"{target}\" is already mounted in '{name}'")
                continue
            uid = parsed.value("uid-map", f"{os.getuid()}:default").split(":")[0]
            gid = parsed.value("gid-map", f"{os.getgid()}:default").split(":")[0]
            instance.setdefault("mounts", {})[target] = {
                "source_path": source, "uid": int(uid), "gid": int(gid), "type": mount_type}
        if errors:
            raise fail("mount", following(errors))
    return OK


def cmd_umount(args: list[str]) -> int:
    parsed = parse(args, {})
    if not parsed.positional:
        raise usage_error("Not enough arguments given")
    daemon_up("umount")
    with daemon_state() as state:
        errors = []
        for argument in parsed.positional:
            name, _, path = argument.partition(":")
            instance = state["instances"].get(name)
            if instance is None or instance.get("deleted"):
                errors.append(f"instance '{name}' does not exist")
                continue
            mounts = instance.setdefault("mounts", {})
            if not path:
                mounts.clear()
            elif instance_path(path) in mounts:
                del mounts[instance_path(path)]
            else:
                errors.append(f"path \"{instance_path(path)}\" is not mounted in '{name}'")
        if errors:
            raise fail("umount", following(errors))
    return OK


def cmd_transfer(args: list[str]) -> int:
    parsed = parse(args, options((("-r", "--recursive"), False), (("-p", "--parents"), False)))
    paths = parsed.positional
    if len(paths) < 2:
        raise usage_error("Not enough arguments given")
    entries = [(p.split(":", 1)[0], p.split(":", 1)[1] or ".") if ":" in p else ("", p)
               for p in paths]
    sources, (target_name, target) = entries[:-1], entries[-1]
    streaming = [p for p in paths[:-1] if p == "-"]
    if (paths[-1] == "-" and streaming) or len(streaming) > 1:
        raise usage_error("Only one '-' allowed")
    if (paths[-1] == "-" or streaming) and len(sources) > 1:
        raise usage_error("Only two arguments allowed when using '-'")
    named = [n for n, _ in entries if n]
    if paths[-1] == "-" and not sources[0][0]:
        raise usage_error("Source must be from inside an instance")
    if streaming and not target_name:
        raise usage_error("Target must be inside an instance")
    if not target_name and len(named) != len(sources):
        raise usage_error("All sources must be from inside an instance" if named else
                          "An instance name is needed for either source or destination")
    if target_name and len(named) > 1:
        raise usage_error("Cannot specify an instance name for both source and destination")
    daemon_up("transfer")
    recursive = parsed.isset("recursive")
    with daemon_state() as state:
        ssh_ready("transfer", state, list(dict.fromkeys(named)))
        if target_name:
            files = state["instances"][target_name].setdefault("files", {})
            if streaming:
                files[instance_path(target)] = base64.b64encode(
                    sys.stdin.buffer.read()).decode()
                return OK
            return push([s for _, s in sources], files, target, recursive)
        if paths[-1] == "-":
            name, source = sources[0]
            files = state["instances"][name].get("files", {})
            if instance_path(source) not in files:  # approximate sftp wording
                err(f"[sftp] remote source '{source}' does not exist")
                return COMMAND_FAIL
            sys.stdout.buffer.write(base64.b64decode(files[instance_path(source)]))
            return OK
        return pull([(state["instances"][n].get("files", {}), s) for n, s in sources],
                    target, recursive)


def push(sources: list[str], files: dict, target: str, recursive: bool) -> int:
    target_path = instance_path(target)
    is_dir = target.endswith("/") or any(p.startswith(target_path.rstrip("/") + "/")
                                         for p in files)
    if len(sources) > 1 and not is_dir:
        err(f"[sftp] target {target} is not a directory")
        return COMMAND_FAIL
    code = OK
    for source in sources:
        if os.path.isdir(source):
            if not recursive:  # approximate sftp wording
                err(f"[sftp] omitting local directory '{source}': recursive mode not specified")
                code = COMMAND_FAIL
                continue
            base = f"{target_path.rstrip('/')}/{os.path.basename(source.rstrip('/'))}"
            for root, _, names in os.walk(source):
                for filename in names:
                    local = os.path.join(root, filename)
                    relative = os.path.relpath(local, source).replace(os.sep, "/")
                    files[f"{base}/{relative}"] = encode_file(local)
        elif os.path.isfile(source):
            destination = (f"{target_path.rstrip('/')}/{os.path.basename(source)}"
                           if is_dir else target_path)
            files[destination] = encode_file(source)
        else:
            err(f"[sftp] cannot access {source}: No such file or directory")
            code = COMMAND_FAIL
    return code


def encode_file(path: str) -> str:
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode()


def pull(sources: list[tuple[dict, str]], target: str, recursive: bool) -> int:
    if len(sources) > 1 and not os.path.isdir(target):
        err(f"[sftp] target {target} is not a directory")
        return COMMAND_FAIL
    code = OK
    for files, source in sources:
        path = instance_path(source)
        inside = {p: c for p, c in files.items() if p.startswith(path.rstrip("/") + "/")}
        if path in files:
            destination = (os.path.join(target, os.path.basename(path))
                           if os.path.isdir(target) else target)
            write_file(destination, files[path])
        elif inside and recursive:
            base = os.path.join(target, os.path.basename(path)) if os.path.isdir(target) \
                else target
            for file_path, content in inside.items():
                write_file(os.path.join(base, *file_path[len(path):].strip("/").split("/")),
                           content)
        elif inside:  # approximate sftp wording
            err(f"[sftp] omitting remote directory '{source}': recursive mode not specified")
            code = COMMAND_FAIL
        else:
            err(f"[sftp] remote source '{source}' does not exist")
            code = COMMAND_FAIL
    return code


def write_file(path: str, content: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(base64.b64decode(content))


# ---- settings -----------------------------------------------------------------------
_INSTANCE_KEY = re.compile(r"^local\.([^.]+)\.(cpus|memory|disk|bridged)$")


def settings_value(state: dict, key: str) -> str:
    match = _INSTANCE_KEY.match(key)
    if match:
        instance = state["instances"].get(match.group(1))
        if instance is None or instance.get("deleted"):  # approximate wording
            raise SettingsError(f"Unrecognized settings key: '{key}'", COMMAND_FAIL)
        field = match.group(2)
        if field == "cpus":
            return str(instance["cpus"])
        if field == "bridged":
            return "false"
        return human(instance[field])
    if key not in SETTINGS:
        raise SettingsError(f"Unrecognized settings key: '{key}'", COMMAND_FAIL)
    return setting(state, key)


class SettingsError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def invalid(key: str, value: str, why: str) -> SettingsError:
    """InvalidSettingException: a command-line error (exit 1)."""
    return SettingsError(f"Invalid setting '{key}={value}': {why}", COMMAND_LINE_ERROR)


def change_setting(state: dict, key: str, value: str) -> None:
    match = _INSTANCE_KEY.match(key)
    if match:
        instance = state["instances"].get(match.group(1))
        if instance is None or instance.get("deleted"):
            raise SettingsError(f"Unrecognized settings key: '{key}'", COMMAND_FAIL)
        if instance["state"] != "Stopped":
            raise invalid(key, value, "Instance must be stopped for modification")
        field = match.group(2)
        if field == "cpus":
            if not re.fullmatch(r"\d+", value) or int(value) < 1:
                raise invalid(key, value, "Need a positive integer (in decimal format)")
            instance["cpus"] = int(value)
        elif field in ("memory", "disk"):
            size = memory_size(value)
            if size is None:
                raise invalid(key, value, f"{value} is not a valid memory size")
            if field == "disk" and size < instance["disk"]:
                raise invalid(key, value, "Disk can only be expanded")
            instance[field] = size
        return
    if key not in SETTINGS:
        raise SettingsError(f"Unrecognized settings key: '{key}'", COMMAND_FAIL)
    if key == "local.privileged-mounts":
        truth = {"true": "true", "on": "true", "yes": "true", "1": "true",
                 "false": "false", "off": "false", "no": "false", "0": "false"}
        if value.lower() not in truth:
            raise invalid(key, value, "Invalid flag, need \"true\" or \"false\"")
        value = truth[value.lower()]
    elif key == "local.driver" and value not in ("qemu", "lxd", "libvirt"):
        raise invalid(key, value, "Invalid driver")
    elif key == "local.bridged-network" and value and value not in {n["name"] for n in NETWORKS}:
        raise invalid(key, value, "Invalid network")
    state["settings"][key] = value


def cmd_get(args: list[str]) -> int:
    parsed = parse(args, options((("--raw",), False), (("--keys",), False)))
    if parsed.isset("keys"):
        out("\n".join(SETTINGS))
        return OK
    if len(parsed.positional) != 1:
        raise usage_error("Need exactly one setting key.")
    key = parsed.positional[0]
    daemon_up("get")
    with daemon_state() as state:
        try:
            value = settings_value(state, key)
        except SettingsError as error:
            err(str(error))
            return error.code
    out(value if value or parsed.isset("raw") else "<empty>")
    return OK


def cmd_set(args: list[str]) -> int:
    parsed = parse(args, {})
    if len(parsed.positional) == 2:  # the older 'set KEY VALUE'
        key, value = parsed.positional
    elif len(parsed.positional) == 1:
        key, equals, value = parsed.positional[0].partition("=")
        if not equals:  # only the key: the value is prompted for
            value = sys.stdin.readline().rstrip("\n")
    else:
        raise usage_error("Need exactly one key-value pair (in <key>=<value> form).")
    if not key:
        raise usage_error("Bad key-value format.")
    daemon_up("set")
    with daemon_state() as state:
        try:
            change_setting(state, key, value)
        except SettingsError as error:
            err(str(error))
            return error.code
    return OK


COMMANDS = {
    "launch": cmd_launch, "list": cmd_list, "ls": cmd_list, "info": cmd_info,
    "find": cmd_find, "start": cmd_start, "stop": cmd_stop, "suspend": cmd_suspend,
    "restart": cmd_restart, "delete": cmd_delete, "recover": cmd_recover,
    "purge": cmd_purge, "exec": cmd_exec, "shell": cmd_shell, "sh": cmd_shell,
    "connect": cmd_shell, "mount": cmd_mount, "umount": cmd_umount, "unmount": cmd_umount,
    "transfer": cmd_transfer, "copy-files": cmd_transfer, "networks": cmd_networks,
    "version": cmd_version, "get": cmd_get, "set": cmd_set,
}
HELP = """Usage: multipass [options] <command>
Create, control and connect to Ubuntu instances.

This is a command line utility for multipass, a
service that manages Ubuntu instances.

Options:
  -h, --help     Displays help on commandline options
  -v, --verbose  Increase logging verbosity.

Available commands:
""" + "\n".join(f"  {name}" for name in sorted(COMMANDS))


def take_fault(argv: list[str]) -> dict | None:
    """MULTIPASS_FAKE_FAULTS names a JSON file of faults for the fault tests (the CLI's
    counterpart of an HTTP fault proxy): the first one whose "match" occurs in the command
    line is used once ("times" counts down), and every call is recorded under "seen" with
    how it was answered."""
    path = os.environ.get("MULTIPASS_FAKE_FAULTS")
    if not path:
        return None
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        plan = json.load(handle)
        text = " ".join(argv)
        chosen = next((f for f in plan["faults"] if f["times"] > 0 and f["match"] in text),
                      None)
        if chosen:
            chosen["times"] -= 1
        plan["seen"].append({"argv": argv, "answered": chosen["kind"] if chosen
                             else "forwarded"})
        handle.seek(0)
        handle.truncate()
        json.dump(plan, handle)
    return chosen


def play_fault(fault: dict, argv: list[str]) -> int:
    """What a client sees when its daemon is restarting, hangs, or answers too late."""
    import time

    kind = fault["kind"]
    if kind == "status":
        err(fault.get("body") or f"{argv[0]} failed: cannot connect to the multipass socket")
        return int(fault.get("status") or COMMAND_FAIL)
    if kind in ("drop", "hang"):
        time.sleep(float(fault.get("seconds") or 0))
        err(f"{argv[0]} failed: cannot connect to the multipass socket")
        return COMMAND_FAIL
    if kind == "lose_answer":  # common_cli.cpp make_timer: the daemon carries on
        import io

        real_stdout, sys.stdout = sys.stdout, io.StringIO()
        try:
            COMMANDS[argv[0]](argv[1:])
        except Exit:
            pass
        finally:
            sys.stdout = real_stdout
        err("Timed out waiting for instance launch." if argv[0] == "launch"
            else "Timed out waiting for response.")
        return TIMEOUT_EXIT
    raise ValueError(f"unknown fault kind {kind!r}")


def main(argv: list[str]) -> int:
    log = os.environ.get("MULTIPASS_FAKE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(argv) + "\n")
    fault = take_fault(argv) if argv and argv[0] in COMMANDS else None
    if fault:
        return play_fault(fault, argv)
    if not argv or argv[0] in ("help", "-h", "--help"):
        out(HELP)
        return OK
    for variable, allowed in QUIRK_VALUES.items():
        if os.environ.get(variable, "") not in allowed:
            err(f"fake multipass: {variable}={os.environ[variable]!r} is no Multipass "
                f"release's behaviour (one of {', '.join(map(repr, allowed))})")
            return 99
    command = COMMANDS.get(argv[0])
    if command is None:  # ArgParser::parse (src/client/cli/argparser.cpp), on stdout
        out(f"Error: Unknown command or alias '{argv[0]}' (try \"multipass help\" or "
            '"multipass aliases")')
        return COMMAND_LINE_ERROR
    options_part = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    if "-h" in options_part or "--help" in options_part:
        out(f"Usage: multipass {argv[0]} [options]")
        return OK
    verb, code, message = injected_failure()
    if verb == argv[0] and code == TIMEOUT_EXIT:
        # common_cli.cpp make_timer: the client gives up, prints the message alone and exits
        # 5; the daemon carries on, so the command's effect happens all the same
        import io

        real_stdout, sys.stdout = sys.stdout, io.StringIO()
        try:
            command(argv[1:])
        except Exit:
            pass
        finally:
            sys.stdout = real_stdout
        err(message or "Timed out waiting for instance launch.")
        return TIMEOUT_EXIT
    try:
        return command(argv[1:])
    except Exit as leave:
        return leave.code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
