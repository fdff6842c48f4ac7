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
from cloudmesh.compute.secrecy import (MASK, is_secret_key,  # noqa: F401 (re-exported)
                                       mask_comments, mask_tree)
from cloudmesh.compute.yamlfile import MAX_CONFIG_BYTES, load_yaml
from cloudmesh.compute.hidden import Hidden

_MISSING = object()
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_warned_permissions: set[str] = set()


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
        data = load_yaml(text, path)
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


def resolve_cloud(cloud: str | None, config: Config, state) -> str:
    """The cloud to use: --cloud, then ``cms set cloud=``, then cloudmesh.default.cloud.
    (Here, not in the facade, so that commands can say this before importing it.)"""
    name = cloud or state.get("cloud") or config.default_cloud()
    if not name:
        raise ConfigError("no cloud given",
                          f"use --cloud=NAME, 'cms set cloud=NAME', or set "
                          f"cloudmesh.default.cloud in {config.path}")
    return name
