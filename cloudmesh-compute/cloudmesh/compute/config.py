"""``Config()``: dotted access to cloudmesh.yaml.

Reading uses PyYAML (its C loader when present); writing uses ruamel.yaml's round trip so
that ``cms config set`` keeps the user's comments and key order. Values of the form
``${NAME}`` are taken from the environment when read. Secret values are never printed:
they are masked by key name, and any value that came from ``${...}`` is masked too.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing costs 3 ms at start-up; type checkers see True
if TYPE_CHECKING:
    from typing import Any  # noqa: F401

from cloudmesh.compute.errors import ConfigError, NotFound
from cloudmesh.compute.files import atomic_write, config_dir
from cloudmesh.compute.hidden import Hidden

MASK = "********"
_MISSING = object()
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: the documented key names of secrets (README, "Security"): a key whose name contains
#: one of these, or any key below it, holds a secret
_SECRET_NAME = re.compile(
    r"(password|passwd|pwd|secret|token|api[-_]?key|auth|credential|pass[-_]?phrase"
    r"|private[-_]?key|access[-_]?key|cookie|bearer|signature)",
    re.IGNORECASE)
_NOT_SECRET_SUFFIX = ("_file", "_path", "_url", "_endpoint", "_id_file")
_NOT_SECRET = {"application_credential_id"}
#: section names that contain a secret word but hold ordinary keys too
_SECTIONS = {"credentials", "credential"}
_warned_permissions: set[str] = set()
#: cloudmesh.yaml is a few kilobytes; a larger file, or one whose aliases expand to more
#: nodes than this (a "billion laughs"), is refused before anything walks it
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_NODES = 100_000
#: cloudmesh.yaml nests 6 levels deep; far deeper nesting would overflow the recursion of
#: everything that walks the tree (masking, ${ENV} expansion, the round-trip writer)
MAX_CONFIG_DEPTH = 64


def _secret_name(name: str) -> bool:
    name = name.lower()
    if name.endswith(_NOT_SECRET_SUFFIX) or name in _NOT_SECRET:
        return False
    return bool(_SECRET_NAME.search(name))


def is_secret_key(key: str) -> bool:
    """True when a dotted config key names a secret value: its last part is a secret's
    name, or it lies below one (``secret: {value: ...}``, a list of ``passwords:``). The
    names of clouds and the ``credentials`` section do not count as secret names."""
    parts = key.split(".")
    if _secret_name(parts[-1]):
        return True
    in_clouds = len(parts) > 2 and parts[0] == "cloudmesh" and parts[1] in ("compute", "cloud")
    for index, part in enumerate(parts[:-1]):
        if index < 2 or (in_clouds and index == 2) or part.lower() in _SECTIONS:
            continue
        if _secret_name(part):
            return True
    return False


def _yaml_loader():
    """PyYAML's safe loader (its C parser when present) that refuses a duplicate key
    (naming the key and line, never a value) and aliases expanding past a budget."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        def construct_document(self, node):
            _check_expansion(node)
            return super().construct_document(node)

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: set = set()
                for key_node, _ in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        if (key_node.tag, key_node.value) in seen \
                                and key_node.tag != "tag:yaml.org,2002:merge":
                            raise _DuplicateKey(key_node.value, key_node.start_mark.line + 1)
                        seen.add((key_node.tag, key_node.value))
            return super().construct_mapping(node, deep=deep)

    return Loader


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


class _TooLarge(Exception):
    pass


class _TooDeep(Exception):
    pass


def _check_expansion(root) -> None:
    """Raise _TooLarge if the document, with every alias expanded, has more nodes than
    MAX_CONFIG_NODES. Each distinct node is sized once (memoized), so the check itself
    is linear in the file, not in the expansion."""
    sizes: dict[int, int] = {}

    def size(node, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if depth > MAX_CONFIG_DEPTH:
            raise _TooDeep()
        sizes[id(node)] = 1  # a node that contains itself counts once
        total = 1
        value = node.value
        if isinstance(value, list):
            for child in value:
                if isinstance(child, tuple):
                    total += size(child[0], depth + 1) + size(child[1], depth + 1)
                else:
                    total += size(child, depth + 1)
                if total > MAX_CONFIG_NODES:
                    raise _TooLarge()
        sizes[id(node)] = total
        return total

    size(root, 0)


def _load_yaml(text: str, path: Path) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}",
                          "fix that line, or 'cms init --force' writes the template "
                          "(keeping the old file as cloudmesh.yaml.bak)") from None
    except _DuplicateKey as error:
        raise ConfigError(f"{path}:{error.line}: the key '{error.key}' appears twice in one "
                          "mapping", "keep one of them") from None
    except _TooLarge:
        raise ConfigError(f"{path}: its aliases (*name) expand to more than "
                          f"{MAX_CONFIG_NODES:,} values", "write the values out instead") from None
    except (_TooDeep, RecursionError):
        raise ConfigError(f"{path}: nested more than {MAX_CONFIG_DEPTH} levels deep",
                          "flatten the file") from None


class Config:
    """The cms configuration file, by default ``~/.cloudmesh/cloudmesh.yaml``
    (``$CLOUDMESH_CONFIG_DIR/cloudmesh.yaml`` when set)."""

    FILENAME = "cloudmesh.yaml"
    _data = Hidden()  # the parsed file holds secrets: kept out of vars(config)

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path else config_dir() / self.FILENAME
        self._data: dict | None = None

    # ---- reading -------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def data(self) -> dict:
        """The parsed file (without ${ENV} expansion). Raises ConfigError if missing or
        malformed."""
        if self._data is None:
            self._data = self._read()
        return self._data

    def _read(self) -> dict:
        path = self.path
        if path.is_dir():
            raise ConfigError(f"{path} is a directory, not a file",
                              "move it away and run 'cms init'")
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"no configuration file at {path}",
                              "run 'cms init' to write one") from None
        except PermissionError:
            raise ConfigError(f"cannot read {path}: permission denied",
                              "fix its owner or mode (chmod 600)") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is {len(raw):,} bytes, over the limit of "
                              f"{MAX_CONFIG_BYTES:,}", "is this the right file?")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise ConfigError(f"{path}:{line}: not UTF-8 text",
                              "save the file as UTF-8") from None
        self._warn_permissions()
        data = _load_yaml(text, path)
        if data is None:
            raise ConfigError(f"{path} is empty",
                              "run 'cms init' to write the template in its place")
        if not isinstance(data, dict) or not isinstance(data.get("cloudmesh"), dict):
            raise ConfigError(f"{path}: the top level must be a mapping with the key 'cloudmesh'",
                              "fix it, or 'cms init --force' writes the template (keeping "
                              "the old file as cloudmesh.yaml.bak)")
        return data

    def _warn_permissions(self) -> None:
        problem = self.permission_problem()
        if problem and str(self.path) not in _warned_permissions:
            _warned_permissions.add(str(self.path))
            print(f"warning: {problem}", file=sys.stderr)

    def permission_problem(self) -> str | None:
        """A sentence if the file can be read by group or others, else None."""
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            return (f"{self.path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
                    f"run: chmod 600 {self.path}")
        return None

    def _resolve_alias(self, parts: list[str]) -> list[str]:
        # "cloudmesh.cloud" (older files) and "cloudmesh.compute" are the same section.
        if len(parts) >= 2 and parts[0] == "cloudmesh" and parts[1] in ("compute", "cloud"):
            section = self.data["cloudmesh"]
            if parts[1] not in section or section.get(parts[1]) is None:
                other = "cloud" if parts[1] == "compute" else "compute"
                if other in section:
                    return [parts[0], other, *parts[2:]]
        return parts

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """The value at a dotted key as written in the file (no ${ENV} expansion)."""
        node: Any = self.data
        for part in self._resolve_alias(key.split(".")):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                if default is _MISSING:
                    raise NotFound(f"{self.path} has no key '{key}'",
                                   "see 'cms config cat' for what it has")
                return default
        return node

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The value at a dotted key, with ${ENV} references expanded."""
        return self.expand(self.raw(key, default), key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __contains__(self, key: str) -> bool:
        try:
            self.raw(key)
        except NotFound:
            return False
        return True

    def expand(self, value: Any, key: str = "") -> Any:
        """Expand ${NAME} in a value (recursively); an unset variable is a ConfigError
        naming the key. Secret values (by key name or from the environment) are
        registered so that no error message or traceback prints them."""
        if isinstance(value, str):
            from cloudmesh.compute.errors import register_secret

            def substitute(match: re.Match) -> str:
                name = match.group(1)
                if name not in os.environ:
                    raise ConfigError(
                        f"{self.path}: '{key}' refers to ${{{name}}}, which is not set",
                        f"export {name} or edit the file")
                register_secret(os.environ[name])
                return os.environ[name]
            expanded = _ENV_REF.sub(substitute, value)
            if is_secret_key(key):
                register_secret(expanded)
            return expanded
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and is_secret_key(key):
            from cloudmesh.compute.errors import register_secret

            register_secret(str(value))  # a numeric PIN or password is one too
        if isinstance(value, dict):
            return {k: self.expand(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, key) for v in value]
        return value

    # ---- clouds --------------------------------------------------------------------
    def clouds(self) -> dict[str, dict]:
        """The cloud entries (cloudmesh.compute, or cloudmesh.cloud in older files)."""
        section = self.raw("cloudmesh.compute", None)
        if section is None:
            return {}
        if not isinstance(section, dict):
            raise ConfigError(f"{self.path}: 'cloudmesh.compute' must be a mapping of cloud names")
        return section

    def cloud(self, name: str) -> dict:
        """One cloud's entry with ${ENV} expanded; ConfigError if it is not there."""
        clouds = self.clouds()
        if name not in clouds:
            known = ", ".join(sorted(clouds)) or "none"
            raise ConfigError(f"cloud '{name}' is not in {self.path} (known: {known})",
                              "add it under cloudmesh.compute or pick another with --cloud")
        spec = clouds[name]
        self._check_cloud_shape(name, spec)
        return self.expand(spec, f"cloudmesh.compute.{name}")

    _CLOUD_KEYS = ("cm", "credentials", "default", "defaults", "regions")

    def _check_cloud_shape(self, name: str, spec: Any) -> None:
        """Wrong types and misspelt keys of a cloud entry are configuration errors that
        name the key, not failures deep inside a provider."""
        where = f"{self.path}: cloud '{name}'"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a mapping with cm, credentials and default")
        for key, value in spec.items():
            if key == "regions":  # the list --region=all spans (DESIGN 4)
                _check_regions(where, value)
                continue
            if key not in self._CLOUD_KEYS:
                raise ConfigError(f"{where} has an unknown key '{key}'"
                                  f"{_did_you_mean(key, self._CLOUD_KEYS)}",
                                  f"the keys are {', '.join(self._CLOUD_KEYS[:3])}")
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a mapping, not "
                                  f"{type(value).__name__}")
            for inner, item in (value or {}).items():
                allowed = (str, int, float, bool, type(None))
                if key == "default" or key == "defaults":
                    ok = isinstance(item, allowed) or (
                        isinstance(item, list) and all(isinstance(i, allowed) for i in item))
                else:
                    ok = isinstance(item, allowed)
                if not ok:
                    raise ConfigError(f"{where}: '{key}.{inner}' must be a single value, not "
                                      f"{type(item).__name__}")

    def regions(self, name: str) -> list[str] | None:
        """The cloud's ``regions:`` list (what ``--region=all`` spans), None without one."""
        value = self.cloud(name).get("regions")
        return [str(region) for region in value] if value else None

    def check_cloud(self, name: str) -> None:
        """ConfigError unless the cloud is configured or needs no configuration (a cloud
        named after an installed zero-config kind, such as multipass). Imports nothing
        heavy for a configured cloud or an unknown name."""
        if self.exists and name in self.clouds():
            self.cloud(name)  # shape errors are reported here too
            return
        from cloudmesh.compute import registry

        if name in registry.kinds() and registry.zero_config_spec(name) is not None:
            return
        self.cloud(name)  # raises, naming the file and the known clouds

    def default_cloud(self) -> str | None:
        value = self.get("cloudmesh.default.cloud", None)
        return str(value) if value else None

    def username(self) -> str:
        # without a file (zero-config clouds such as multipass) the login name serves
        user = self.get("cloudmesh.profile.user", None) if self.exists else None
        return str(user or os.environ.get("USER") or "cloudmesh")

    # ---- masking -------------------------------------------------------------------
    def is_masked(self, key: str) -> bool:
        """True if the value at key must not be printed: a secret by name, or one that
        comes from ${ENV}."""
        if is_secret_key(key):
            return True
        raw = self.raw(key, None)
        return isinstance(raw, str) and bool(_ENV_REF.search(raw))

    def masked(self, key: str = "cloudmesh") -> Any:
        """The value at key, safe to print: secrets replaced by a mask, ${ENV} shown as
        the reference, never as its value."""
        return mask_tree(copy.deepcopy(self.raw(key)), key)

    def masked_text(self) -> str:
        """The whole file, comments kept, with every secret masked (for cms config cat)."""
        import io

        from ruamel.yaml import YAML

        self.data  # report a malformed file with our own error first
        yaml = YAML()
        document = yaml.load(self.path.read_text(encoding="utf-8"))
        buffer = io.StringIO()
        yaml.dump(mask_tree(document), buffer)
        return mask_comments(buffer.getvalue())

    # ---- writing -------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Set a dotted key and write the file atomically (0600), keeping comments. The
        read, change and write happen under a lock: of 20 'cms config set' run at once,
        every update is kept."""
        from cloudmesh.compute.files import FileLock

        with FileLock(self.path):
            self._data = None  # read what the previous holder of the lock wrote
            self._set_locked(key, value)

    def _set_locked(self, key: str, value: Any) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedMap

        yaml = YAML()
        yaml.preserve_quotes = True
        if self.path.exists():
            self.data  # validate first: never rewrite a file we could not parse
            with open(self.path, encoding="utf-8") as handle:
                document = yaml.load(handle)
        else:
            document = CommentedMap()
            document["cloudmesh"] = CommentedMap()
            self._data = {"cloudmesh": {}}
        parts = self._resolve_alias(key.split("."))
        if not all(parts):
            raise ConfigError(f"invalid key '{key}': empty part between dots")
        node = document
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = CommentedMap()
                node[part] = child
            elif not isinstance(child, dict):
                raise ConfigError(f"cannot set '{key}': '{part}' holds a value, not a mapping")
            node = child
        node[parts[-1]] = value
        import io

        buffer = io.StringIO()
        yaml.dump(document, buffer)
        atomic_write(self.path, buffer.getvalue())
        self._data = None

    def write_text(self, text: str) -> None:
        """Replace the whole file (used by cms init), atomically with mode 0600."""
        atomic_write(self.path, text)
        self._data = None


def _check_regions(where: str, value: Any) -> None:
    """A cloud's ``regions:`` is a list of region names (a string is one region)."""
    if value is None:
        return
    if not isinstance(value, list) or not all(
            isinstance(r, str) and r.strip() and "," not in r for r in value):
        raise ConfigError(f"{where}: 'regions' must be a list of region names",
                          "e.g. regions: [us-east-1, eu-west-1]")


def _did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def mask_tree(node: Any, key: str = "") -> Any:
    """Mask secrets in a (copied) tree of dicts and lists, in place; returns it. A value
    is masked when its key is a secret's name or lies below one (``is_secret_key``), the
    items of a list included, and wherever else the same value appears (a YAML alias of
    a secret under another name); a ``${ENV}`` reference is shown as it is (it says where
    the value comes from, not what it is)."""
    secrets: set = set()
    _mask_by_name(node, key, secrets)
    if secrets:
        _mask_equal(node, secrets)
    return node


def _mask_by_name(node: Any, key: str, secrets: set) -> None:
    if isinstance(node, dict):
        for k in list(node):
            node[k] = _masked(node[k], f"{key}.{k}" if key else str(k), secrets)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            node[index] = _masked(item, key, secrets)


def _masked(value: Any, key: str, secrets: set) -> Any:
    if isinstance(value, (dict, list)):
        _mask_by_name(value, key, secrets)
        return value
    if value is None or value == "" or isinstance(value, bool) or not is_secret_key(key):
        return value
    if isinstance(value, str) and _ENV_REF.fullmatch(value):
        return value
    secrets.add(str(value))
    return MASK


def _mask_equal(node: Any, secrets: set) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for k, value in list(items):
        if isinstance(value, (dict, list)):
            _mask_equal(value, secrets)
        elif value is not None and not isinstance(value, bool) and str(value) in secrets:
            node[k] = MASK


_commented_secret = None


def mask_comments(text: str) -> str:
    """YAML text with the values of secrets in comments masked (a commented-out
    ``# password: hunter2`` is still a password): after a secret's name and ':' or '='
    in a comment, the rest of the line is masked."""
    global _commented_secret
    if _commented_secret is None:
        _commented_secret = re.compile(
            r"((?:^|\s)#.*?[\w.-]*" + _SECRET_NAME.pattern + r"[\w.-]*[\"']?\s*[:=]\s*)"
            r"(\S.*)$", re.IGNORECASE)
    lines = []
    for line in text.split("\n"):
        if "#" in line:
            line = _commented_secret.sub(lambda m: m.group(1) + MASK, line)
        lines.append(line)
    return "\n".join(lines)


def resolve_cloud(cloud: str | None, config: Config, state) -> str:
    """The cloud to use: --cloud, then ``cms set cloud=``, then cloudmesh.default.cloud.
    (Here, not in the facade, so that commands can say this before importing it.)"""
    name = cloud or state.get("cloud") or config.default_cloud()
    if not name:
        raise ConfigError("no cloud given",
                          f"use --cloud=NAME, 'cms set cloud=NAME', or set "
                          f"cloudmesh.default.cloud in {config.path}")
    return name
