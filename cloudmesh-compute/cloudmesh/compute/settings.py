"""Declared settings: which keys a cloud's ``default:`` and ``credentials:`` blocks may
hold, of what type, and the one check that ``cms config check``, ``cms config set`` and
the provider on use share (an unknown key is refused with a did-you-mean).

Every kind takes the common ``default:`` keys below (the facade reads them); a kind
declares the others it reads in its provider's ``settings`` class attribute, e.g.
``settings = {"stop_mode": str, "poll_interval": float}``. A kind that declares nothing
(``settings = None``, a third party's older provider) is not checked.
"""

from __future__ import annotations

from typing import Any

#: what a setting's declared type accepts from YAML or ``cms config set``: ``str`` any
#: scalar (24.04 is read as a number), ``float``/``int`` a number or numeric text,
#: ``bool`` true/false (or yes/no text), ``list`` a list or comma-separated text
SettingType = Any

#: the default: keys the core reads for every kind (boot options, the SSH target), with
#: the spellings older cloudmesh files use (size, secgroups, user, disk)
COMMON_SETTINGS: dict[str, SettingType] = {
    "image": str, "flavor": str, "size": str, "username": str, "user": str, "key": str,
    "secgroup": list, "secgroups": list, "network": str, "subnet": str, "public_ip": bool,
    "zone": str, "disk_gb": int, "disk": int, "ssh_port": int, "ssh_host": str,
}

_TRUE_FALSE = {"true", "false", "yes", "no", "1", "0", "on", "off"}


def _accepts(declared: SettingType, value: Any) -> bool:
    if value is None:
        return True  # an empty entry means "not set"
    if isinstance(declared, tuple):
        return any(_accepts(one, value) for one in declared)
    if declared is str:
        return not isinstance(value, (dict, list))
    if declared in (int, float):
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return declared is float or isinstance(value, int) or value == int(value)
        try:
            declared(str(value).strip())
            return True
        except ValueError:
            return False
    if declared is bool:
        return isinstance(value, bool) or str(value).strip().lower() in _TRUE_FALSE
    if declared is list:
        return isinstance(value, (list, str))
    return isinstance(value, declared)


def _type_name(declared: SettingType) -> str:
    if isinstance(declared, tuple):
        return " or ".join(_type_name(one) for one in declared)
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false",
            list: "a list", dict: "a mapping"}.get(declared, getattr(declared, "__name__",
                                                                      str(declared)))


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def declared_defaults(provider_class: type) -> dict[str, SettingType] | None:
    """The default: keys a kind takes (common ones included); None if it declares none."""
    own = getattr(provider_class, "settings", None)
    if own is None:
        return None
    return {**COMMON_SETTINGS, **own}


def default_problem(cloud: str, kind: str, key: str, value: Any,
                    declared: dict[str, SettingType] | None) -> str | None:
    """What is wrong with ``default.KEY: VALUE`` for this kind, or None."""
    if declared is None:
        return None
    if key not in declared:
        return (f"cloud '{cloud}': unknown default key '{key}' for kind {kind}"
                + _did_you_mean(key, sorted(declared)))
    if not _accepts(declared[key], value):
        return (f"cloud '{cloud}': default.{key} must be {_type_name(declared[key])}, "
                f"not {value!r}")
    return None


def credential_problem(cloud: str, kind: str, key: str,
                       known: tuple[str, ...] | list[str]) -> str | None:
    """What is wrong with ``credentials.KEY`` for this kind (empty ``known``: any)."""
    if not known or key in known:
        return None
    return (f"cloud '{cloud}': unknown credentials key '{key}' for kind {kind}"
            + _did_you_mean(key, list(known)))


def problems(cloud: str, kind: str, spec: dict[str, Any],
             provider_class: type) -> list[str]:
    """Every unknown or mistyped key of a cloud's credentials: and default: blocks."""
    found: list[str] = []
    credentials = spec.get("credentials") or {}
    if isinstance(credentials, dict):
        known = tuple(getattr(provider_class, "credential_keys", ()) or ())
        found += [p for key in credentials
                  if (p := credential_problem(cloud, kind, str(key), known))]
    defaults = spec.get("default") or spec.get("defaults") or {}
    if isinstance(defaults, dict):
        declared = declared_defaults(provider_class)
        found += [p for key, value in defaults.items()
                  if (p := default_problem(cloud, kind, str(key), value, declared))]
    return found


def hint(provider_class: type, block: str) -> str:
    """The keys a block takes, for the error's second part."""
    if block == "credentials":
        keys = list(getattr(provider_class, "credential_keys", ()) or ())
    else:
        keys = sorted(declared_defaults(provider_class) or {})
    return f"the {block} keys are: {', '.join(keys)}"


def seconds_setting(defaults: dict[str, Any], key: str, default: float, least: float = 0.01) -> float:
    """A declared seconds setting of ``default:`` (its type checked on use): ``default``
    when unset, never below ``least`` (0 would poll a cloud without a pause)."""
    value = defaults.get(key)
    return max(least, float(default if value is None or value == "" else value))
