"""Every request the fake receives, checked against the Compute Engine v1 API description
at the version google-cloud-compute sends.

Sources:
- the operation table ``spec_table.py``: made by ``extract_spec.py`` from
  google-cloud-compute 1.57.0's REST transports and request messages, which are generated
  from the Compute Engine v1 discovery document (``compute.v1.json``; the copy in
  googleapis/google-api-go-client ``compute/v1/compute-api.json``, and the reference at
  cloud.google.com/compute/docs/reference/rest/v1); path, method, body message and each
  query parameter with its type;
- WORDS and BODY below, transcribed by hand from that document's descriptions and
  ``pattern``/``annotations.required`` entries (the constraints it states in words:
  ``maxResults`` 0-500, ``orderBy`` only ``name`` or ``creationTimestamp desc``,
  ``requestId`` a non-zero UUID, the name patterns of path parameters, ``name`` required
  on insert, metadata keys ``[a-zA-Z0-9-_]{1,128}``, an access config only ONE_TO_ONE_NAT
  or DIRECT_IPV6).

A request outside the description gets GCE's own 400 (``{"error": {"code": 400,
"message", "errors": [{"message", "domain": "global", "reason": "invalid"}]}}``) and is
recorded in ``GoogleFake.violations`` so that the test that sent it fails.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .spec_table import OPERATIONS, SDK_VERSION

__all__ = ["SpecViolation", "match", "check", "SDK_VERSION"]

#: the discovery document's top-level "parameters", accepted by every method
STANDARD = {"$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
            "prettyPrint", "quotaUser", "upload_protocol", "uploadType", "userIp", "$alt"}
_NAME = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
_NAME_OR_ID = _NAME + r"|[1-9][0-9]{0,19}"
_PROJECT = (r"(?:(?:[-a-z0-9]{1,63}\.)*(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?):)?"
            r"(?:[0-9]{1,19}|(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?))")
#: path parameter -> its "pattern" in the discovery document
PATH_PATTERNS = {"project": _PROJECT, "zone": _NAME, "instance": _NAME_OR_ID,
                 "operation": _NAME_OR_ID, "image": _NAME_OR_ID, "family": _NAME,
                 "machineType": _NAME_OR_ID, "firewall": _NAME_OR_ID,
                 "network": _NAME_OR_ID, "disk": _NAME_OR_ID, "machine_type": _NAME_OR_ID}


def _uuid(value: str) -> str | None:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return "Must be a valid UUID"
    if parsed.int == 0:
        return "The zero UUID is not supported"
    return None


def _max_results(value: str) -> str | None:
    if not value.isdigit() or int(value) > 500:
        return "Acceptable values are 0 to 500, inclusive"
    return None


#: query parameter -> its rule in words (None when the value is fine)
WORDS = {
    "maxResults": _max_results,
    "orderBy": lambda v: None if v in ("name", "creationTimestamp desc") else
    "Currently, only sorting by name or creationTimestamp desc is supported",
    "requestId": _uuid,
}
_TYPE_RULES = {"boolean": lambda v: None if v in ("true", "false") else "Must be a boolean",
               "uint32": lambda v: None if v.isdigit() else "Must be an unsigned integer",
               "int64": lambda v: None if re.fullmatch(r"-?\d+", v) else "Must be an integer"}


def _instance_body(body: dict) -> list[tuple[str, Any, str]]:
    problems = []
    if not body.get("name"):
        problems.append(("resource.name", "", "Required field not specified"))
    elif not re.fullmatch(_NAME, str(body["name"])):
        problems.append(("resource.name", body["name"], f"Must be a match of regex '{_NAME}'"))
    for n, nic in enumerate(body.get("networkInterfaces") or ()):
        for m, access in enumerate(nic.get("accessConfigs") or ()):
            if access.get("type", "ONE_TO_ONE_NAT") not in ("ONE_TO_ONE_NAT", "DIRECT_IPV6"):
                problems.append((f"resource.networkInterfaces[{n}].accessConfigs[{m}].type",
                                 access.get("type"), "Must be ONE_TO_ONE_NAT or DIRECT_IPV6"))
    for n, disk in enumerate(body.get("disks") or ()):
        if disk.get("type", "PERSISTENT") not in ("PERSISTENT", "SCRATCH"):
            problems.append((f"resource.disks[{n}].type", disk.get("type"),
                             "Must be PERSISTENT or SCRATCH"))
    return problems + _metadata(body.get("metadata") or {}, "resource.metadata")


def _metadata(body: dict, where: str = "resource") -> list[tuple[str, Any, str]]:
    problems = []
    for n, item in enumerate(body.get("items") or ()):
        if not re.fullmatch(r"[a-zA-Z0-9-_]{1,128}", str(item.get("key") or "")):
            problems.append((f"{where}.items[{n}].key", item.get("key"),
                             "Must be a match of regex '[a-zA-Z0-9-_]{1,128}'"))
    size = sum(len(str(i.get("key") or "")) + len(str(i.get("value") or ""))
               for i in body.get("items") or ())
    if size > 512 * 1024:
        problems.append((f"{where}.items", f"{size} bytes", "Metadata is limited to 512 KB"))
    return problems


def _named(body: dict) -> list[tuple[str, Any, str]]:
    if not body.get("name"):
        return [("resource.name", "", "Required field not specified")]
    return []


#: body message -> the rules the document states for it (annotations.required, patterns)
BODY = {"Instance": _instance_body, "Metadata": _metadata, "Firewall": _named}
_REQUIRED_BODY = {"compute.firewalls.patch": False}  # patch takes a partial Firewall


class SpecViolation(Exception):
    """A request the API description does not allow; ``field``/``value``/``why`` as GCE
    words its 400."""

    def __init__(self, operation: str, field: str, value: Any, why: str) -> None:
        self.operation, self.field, self.value, self.why = operation, field, value, why
        if why == "unknown":
            message = (f"Invalid JSON payload received. Unknown name \"{field}\": Cannot "
                       f"bind query parameter. Field '{field}' could not be found in "
                       "request message.")
        elif why == "Required field not specified":
            message = f"Required field '{field}' not specified"
        else:
            message = f"Invalid value for field '{field}': '{value}'. {why}"
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"error": {"code": 400, "message": self.message,
                          "errors": [{"message": self.message, "domain": "global",
                                      "reason": "invalid" if self.why != "unknown"
                                      else "badRequest"}],
                          "status": "INVALID_ARGUMENT"}}


def _compile(path: str) -> re.Pattern:
    pattern = re.sub(r"{(\w+)}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(path)
                     .replace(r"\{", "{").replace(r"\}", "}"))
    return re.compile(pattern)


_ROUTES = [(row["method"], _compile(row["path"]), row) for row in OPERATIONS]


def match(method: str, path: str) -> tuple[dict, dict[str, str]] | None:
    """The operation (its table row) and path parameters a request stands for."""
    for verb, pattern, row in _ROUTES:
        found = pattern.fullmatch(path)
        if found and verb == method:
            return row, found.groupdict()
    return None


def check(method: str, path: str, query: dict[str, list[str]], body: Any) -> str | None:
    """The operation id of a request the description allows; SpecViolation otherwise;
    None for a path no operation of the table has (the fake answers 404 as GCE does)."""
    found = match(method, path)
    if found is None:
        return None
    row, params = found
    name = row["operation"]
    for param, value in params.items():
        pattern = PATH_PATTERNS.get(param)
        if pattern and not re.fullmatch(pattern, value):
            raise SpecViolation(name, param, value, f"Must be a match of regex '{pattern}'")
    for key, values in query.items():
        if key in STANDARD:
            continue
        kind = row["query"].get(key)
        if kind is None:
            raise SpecViolation(name, key, values[-1], "unknown")
        if len(values) > 1:
            raise SpecViolation(name, key, values, "Must be given once")
        for rule in (_TYPE_RULES.get(kind), WORDS.get(key)):
            why = rule(values[0]) if rule else None
            if why:
                raise SpecViolation(name, key, values[0], why)
    if row["body"]:
        if not isinstance(body, dict) or (not body and _REQUIRED_BODY.get(name, True)):
            raise SpecViolation(name, "resource", "", "Required field not specified")
        rule = BODY.get(row["body"])
        for field, value, why in (rule(body) if rule else ()):
            raise SpecViolation(name, field, value, why)
    elif body:
        raise SpecViolation(name, "resource", "...", "This method takes no request body")
    return name
