"""Read and change cloudmesh.yaml.

Usage:
  cms config cat
  cms config get KEY
  cms config set KEY VALUE
  cms config set ASSIGNMENT
  cms config check
  cms config path

Arguments:
  KEY          a dotted key, e.g. cloudmesh.compute.mycloud.default.image
  VALUE        the new value (YAML scalars: 3 is a number, true a boolean)
  ASSIGNMENT   KEY=VALUE

'cat' and 'get' never print a secret: values of keys such as password, secret or token
are masked, and values written as ${ENV_VAR} are shown as that reference. 'set' keeps the
file's comments and order and writes it atomically with mode 0600. 'check' reports
problems (permissions, clouds without a kind, kinds with no provider installed, unset
${ENV_VAR} references, credentials and default keys the cloud's kind does not take) and
exits 4 if there are any; 'set' refuses such a key too, with the closest known one.
"""

from __future__ import annotations

import sys

from cloudmesh.compute.command import run_command
from cloudmesh.compute.errors import EXIT_CONFIG, UsageError


def run(argv: list[str]) -> int:
    return run_command(_config, __doc__, argv)


def _config(arguments: dict) -> int:
    from cloudmesh.compute.config import Config

    config = Config()
    if arguments["path"]:
        print(config.path)
        return 0
    if arguments["cat"]:
        sys.stdout.write(config.masked_text())
        return 0
    if arguments["get"]:
        return _get(config, arguments["KEY"])
    if arguments["set"]:
        key, value = arguments["KEY"], arguments["VALUE"]
        if arguments["ASSIGNMENT"] is not None:
            key, sep, value = arguments["ASSIGNMENT"].partition("=")
            if not sep or not key:
                raise UsageError(f"'{arguments['ASSIGNMENT']}' is not KEY=VALUE",
                                 "write cms config set KEY VALUE or KEY=VALUE")
        import yaml

        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        if isinstance(parsed, (dict, list)) or parsed is None:
            parsed = value  # a scalar setter: keep text that only looks like YAML as text
        _check_declared(config, key.strip(), parsed)
        config.set(key.strip(), parsed)
        shown = "********" if config.is_masked(key.strip()) else parsed
        print(f"{key.strip()} = {shown}", file=sys.stderr)
        return 0
    if arguments["check"]:
        return _check(config)
    raise UsageError("cms config: no verb given", "see 'cms config --help'")


def _get(config, key: str) -> int:
    from cloudmesh.compute.config import MASK, mask_tree

    raw = config.raw(key)
    if isinstance(raw, (dict, list)):
        import copy

        import yaml

        print(yaml.safe_dump(mask_tree(copy.deepcopy(raw), key), sort_keys=False,
                             default_flow_style=False).rstrip("\n"))
    elif config.is_masked(key):
        from cloudmesh.compute.config import _ENV_REF

        print(raw if isinstance(raw, str) and _ENV_REF.fullmatch(raw) else MASK)
    else:
        print("" if raw is None else raw)
    return 0


def _check(config) -> int:
    from cloudmesh.compute import registry
    from cloudmesh.compute.errors import CmsError

    problems: list[str] = []
    try:
        clouds = config.clouds()
    except CmsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    permission = config.permission_problem()
    if permission:
        problems.append(permission)
    kinds = registry.kinds()
    for name, spec in clouds.items():
        if not isinstance(spec, dict):
            problems.append(f"cloud '{name}': entry must be a mapping")
            continue
        kind = (spec.get("cm") or {}).get("kind") if isinstance(spec.get("cm"), dict) else None
        if not kind:
            problems.append(f"cloud '{name}': no cm.kind")
        elif kind not in kinds:
            problems.append(f"cloud '{name}': kind '{kind}' has no provider installed "
                            f"({registry.install_hint(str(kind))})")
        try:
            spec = config.cloud(name)
        except CmsError as error:
            problems.append(str(error))
            continue
        if kind in kinds:
            problems += _declared_problems(name, str(kind), spec)
    default = config.default_cloud() if "cloudmesh.default" in config else None
    if default and default not in clouds:
        problems.append(f"cloudmesh.default.cloud is '{default}', which is not a configured cloud")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print(f"{config.path}: ok ({len(clouds)} clouds)")
    return 0


def _declared_problems(cloud: str, kind: str, spec: dict) -> list[str]:
    """Unknown or mistyped credentials and default keys (the kind's declaration)."""
    from cloudmesh.compute import registry, settings
    from cloudmesh.compute.errors import CmsError

    try:
        provider_class = registry.load(kind, cloud)
    except CmsError as error:
        return [str(error)]
    return settings.problems(cloud, kind, spec, provider_class)


def _check_declared(config, key: str, value) -> None:
    """``cms config set cloudmesh.compute.CLOUD.credentials|default.KEY``: a key the
    cloud's kind does not take is refused before the file is written."""
    from cloudmesh.compute import registry, settings
    from cloudmesh.compute.errors import ConfigError

    parts = key.split(".")
    if len(parts) != 5 or parts[:2] != ["cloudmesh", "compute"] or \
            parts[3] not in ("credentials", "default"):
        return
    cloud, block, name = parts[2], parts[3], parts[4]
    kind = config.raw(f"cloudmesh.compute.{cloud}.cm.kind", None) if config.exists else None
    if kind is None and cloud in registry.kinds():
        kind = cloud  # a zero-config cloud is named after its kind
    if not isinstance(kind, str) or kind not in registry.kinds():
        return  # config check reports a missing or unknown kind
    provider_class = registry.load(kind, cloud)
    if block == "credentials":
        known = tuple(getattr(provider_class, "credential_keys", ()) or ())
        problem = settings.credential_problem(cloud, kind, name, known)
    else:
        problem = settings.default_problem(cloud, kind, name, value,
                                           settings.declared_defaults(provider_class))
    if problem:  # a misspelt key gets the list of keys; a wrong value only the line
        raise ConfigError(problem, settings.hint(provider_class, block)
                          if "unknown" in problem else None)
