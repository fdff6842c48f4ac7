"""Secrets, kept out of every output: which configuration keys hold secrets, masking
them in the configuration's tree and text (``cms config cat|get``), and the registry of
secret values read in this process with the scrubbing of any text cms prints (errors,
tracebacks, logs).

README, "Security", lists the key names that count as secrets.
"""

from __future__ import annotations

from cloudmesh.compute.terminal import escape_control

MASK = "********"
#: the documented key names of secrets (README, "Security"): a key whose name contains
#: one of these, or any key below it, holds a secret
_SECRET_WORDS = (r"(password|passwd|pwd|secret|token|api[-_]?key|auth|credential"
                 r"|pass[-_]?phrase|private[-_]?key|access[-_]?key|cookie|bearer|signature)")
#: a value written as ${NAME} (a reference, shown as it is)
_ENV_REF = r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}"
_patterns: dict = {}  # compiled on first use: errors imports this module on every start
_NOT_SECRET_SUFFIX = ("_file", "_path", "_url", "_endpoint", "_id_file")
_NOT_SECRET = {"application_credential_id"}
#: section names that contain a secret word but hold ordinary keys too
_SECTIONS = {"credentials", "credential"}
#: secret values read from the configuration in this process, in every form they may be
#: printed in (raw, repr-escaped, URL-encoded); never printed
_SECRETS: set[str] = set()
#: shorter values are not scrubbed: they would mask ordinary words
_SHORTEST_SECRET = 6


def _pattern(name: str, source: str):
    if name not in _patterns:
        import re

        _patterns[name] = re.compile(source, re.IGNORECASE if name == "secret" else 0)
    return _patterns[name]


# ---- which keys are secret, and masking them (cms config cat|get) --------------------------
def _secret_name(name: str) -> bool:
    name = name.lower()
    if name.endswith(_NOT_SECRET_SUFFIX) or name in _NOT_SECRET:
        return False
    return bool(_pattern("secret", _SECRET_WORDS).search(name))


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
    if isinstance(value, str) and _pattern("env", _ENV_REF).fullmatch(value):
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
        import re

        _commented_secret = re.compile(
            r"((?:^|\s)#.*?[\w.-]*" + _SECRET_WORDS + r"[\w.-]*[\"']?\s*[:=]\s*)"
            r"(\S.*)$", re.IGNORECASE)
    lines = []
    for line in text.split("\n"):
        if "#" in line:
            line = _commented_secret.sub(lambda m: m.group(1) + MASK, line)
        lines.append(line)
    return "\n".join(lines)


# ---- secret values of this process, scrubbed from what is printed ---------------------------
def _percent_encoded(text: str, safe: str, plus: bool, upper: bool) -> str:
    # urllib.parse.quote without importing urllib (register_secret is on the start-up
    # path of every command that reads the config)
    hex_format = "%{:02X}" if upper else "%{:02x}"
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if byte < 128 and (char.isalnum() or char in "_.-~" or char in safe):
            out.append(char)
        elif plus and char == " ":
            out.append("+")
        else:
            out.append(hex_format.format(byte))
    return "".join(out)


def secret_forms(value: str) -> set[str]:
    """The ways a secret can appear in text: as it is, without surrounding whitespace,
    escaped by repr or by JSON or by escape_control, and URL-encoded (as in a query string
    or a URL an SDK puts into its error)."""
    import json  # (already loaded by the state database on every path that gets here)

    bare = {value, value.strip()}
    forms = set(bare)
    for form in bare:
        forms.add(repr(form)[1:-1])
        forms.add(repr(form.encode("utf-8"))[2:-1])  # b'...': as an HTTP library shows it
        forms.add(escape_control(form))
        forms.add(form.encode("unicode_escape").decode("ascii"))
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
        for safe, plus in (("", False), ("/", False), ("", True), ("/", True)):
            forms.add(_percent_encoded(form, safe, plus, upper=True))
            forms.add(_percent_encoded(form, safe, plus, upper=False))
    return {f for f in forms if len(f) >= _SHORTEST_SECRET}


def register_secret(value: object) -> None:
    """Remember a secret value so that any output, error text or traceback containing it
    (in any of its printed forms) is scrubbed before it is printed. Very short values are
    skipped (they would mask ordinary words)."""
    if isinstance(value, str) and len(value.strip()) >= _SHORTEST_SECRET \
            and value not in _SECRETS:
        _SECRETS.update(secret_forms(value))


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by a mask."""
    if not _SECRETS:
        return text
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
