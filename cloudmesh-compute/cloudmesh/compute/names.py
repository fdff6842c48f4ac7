r"""Name expressions: ``web[01-03]``, ``a,b,c``, ``x[1-2,5]``, ``r[1-2]n[1-2]``.

Our own small expander (the usual hostlist packages are GPL). Zero padding of the lower
bound is kept (``[01-10]`` gives ``01`` ... ``10``). Anything malformed raises UsageError.

An expression addresses VMs that exist, so a name may hold any character the cloud
allows (``Test Server 2``, quoted on the command line); only a top-level ``,`` and a
``[...]`` range are syntax. A literal comma or bracket is written with a backslash:
``my\,vm`` is the name ``my,vm``, ``node\[1\]`` the name ``node[1]``, ``\\`` one
backslash (quote the word on a shell command line). Names cms creates (boot, keys,
groups) are checked separately, by :func:`check_new_name` and the kind's ``check_name``.
"""

from __future__ import annotations

import re

from cloudmesh.compute.errors import UsageError

MAX_NAMES = 1000
#: the rule for names cms creates: what every kind accepts
_NEW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_ESCAPABLE = ",[]\\"


def _tokens(expression: str) -> list[str]:
    r"""The expression's characters; an escaped one (``\,``) is one two-character token,
    so that it never equals the syntax character it spells."""
    tokens: list[str] = []
    index = 0
    while index < len(expression):
        ch = expression[index]
        if ch == "\\" and index + 1 < len(expression) and expression[index + 1] in _ESCAPABLE:
            tokens.append(expression[index:index + 2])
            index += 2
            continue
        tokens.append(ch)
        index += 1
    return tokens


def _text(tokens: list[str]) -> str:
    return "".join(token[-1] for token in tokens)


def _split_top(tokens: list[str], expression: str) -> list[list[str]]:
    """Split on commas that are not inside brackets."""
    parts: list[list[str]] = []
    depth, current = 0, []
    for token in tokens:
        if token == "[":
            depth += 1
            if depth > 1:
                raise UsageError(f"invalid name expression '{expression}': nested '['",
                                 "write a literal bracket as \\[")
        elif token == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"invalid name expression '{expression}': ']' without '['",
                                 "write a literal bracket as \\]")
        if token == "," and depth == 0:
            parts.append(current)
            current = []
        else:
            current.append(token)
    if depth:
        raise UsageError(f"invalid name expression '{expression}': '[' is not closed",
                         "write a literal bracket as \\[")
    parts.append(current)
    return parts


def _expand_range(body: str, expression: str) -> list[str]:
    values: list[str] = []
    for item in body.split(","):
        match = _RANGE.match(item.strip())
        if not match:
            raise UsageError(
                f"invalid range '[{body}]' in '{expression}'; write it as [1-3] or [01-10,12]",
                "a literal bracket in a name is written \\[ and \\]")
        low_text, high_text = match.group(1), match.group(2)
        if high_text is None:
            values.append(low_text)
            continue
        low, high = int(low_text), int(high_text)
        if low > high:
            raise UsageError(f"invalid range '[{item}]' in '{expression}': {low} is above {high}")
        if high - low + 1 > MAX_NAMES:
            raise UsageError(
                f"'{expression}' expands to {high - low + 1} names; at most {MAX_NAMES} are allowed")
        width = len(low_text) if low_text.startswith("0") and len(low_text) > 1 else 0
        values.extend(str(n).zfill(width) for n in range(low, high + 1))
    return values


def _expand_one(part: list[str], expression: str) -> list[str]:
    results = [""]
    rest = part
    while rest:
        if "[" not in rest:
            results = [r + _text(rest) for r in results]
            break
        start = rest.index("[")
        end = rest.index("]", start)
        prefix, body, rest = _text(rest[:start]), "".join(rest[start + 1:end]), rest[end + 1:]
        values = _expand_range(body, expression)
        results = [r + prefix + v for r in results for v in values]
        if len(results) > MAX_NAMES:
            raise UsageError(
                f"'{expression}' expands to more than {MAX_NAMES} names; name fewer at once")
    return results


def _strip(tokens: list[str]) -> list[str]:
    start, end = 0, len(tokens)
    while start < end and tokens[start].isspace():
        start += 1
    while end > start and tokens[end - 1].isspace():
        end -= 1
    return tokens[start:end]


def expand(expression: str | list[str] | None) -> list[str]:
    """Expand a name expression (or a list of them) into names, in order, without
    duplicates. A name may hold any printable character (it addresses what exists);
    raises UsageError for a malformed or too large expression, or a control character."""
    if expression is None:
        return []
    expressions = [expression] if isinstance(expression, str) else list(expression)
    names: list[str] = []
    seen: set[str] = set()
    for expr in expressions:
        if not isinstance(expr, str) or not expr.strip():
            raise UsageError("empty name; give a name such as web01 or web[01-03]")
        _check_text(expr)  # before stripping: a control character may count as a space
        for part in _split_top(_strip(_tokens(expr)), expr):
            part = _strip(part)
            if not part:
                raise UsageError(f"invalid name expression '{expr}': empty name between commas",
                                 "write a literal comma as \\,")
            for name in _expand_one(part, expr):
                if name not in seen:
                    seen.add(name)
                    names.append(name)
                if len(names) > MAX_NAMES:
                    raise UsageError(f"more than {MAX_NAMES} names given; name fewer at once")
    return names


def _check_text(expression: str) -> None:
    if any(ord(c) < 32 or 127 <= ord(c) <= 159 for c in expression):
        raise UsageError(f"invalid name {expression!r}: it holds a control character",
                         "address the VM by its id (see 'cms vm list')")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in expression):
        # bytes that were not UTF-8 on the command line: no cloud has such a name
        raise UsageError(f"invalid name {ascii(expression)}: it is not UTF-8 text",
                         "type the name in UTF-8, or address the VM by its id")


def literal(name: str) -> str:
    """An expression that expands to exactly ``name`` (its commas, brackets and
    backslashes escaped): for a caller that holds one VM's exact name."""
    return "".join("\\" + ch if ch in _ESCAPABLE else ch for ch in name)


def check_new_name(name: str, what: str = "name") -> str:
    """``name`` if cms may create something under it (letters, digits, '.', '_' and '-',
    starting with a letter or digit, at most 255 characters), else a UsageError. A kind's
    own ``check_name`` may be stricter; existing names are never checked."""
    if not (isinstance(name, str) and _NEW_NAME.fullmatch(name)):
        raise UsageError(f"invalid {what} '{name}'",
                         "use letters, digits, '.', '_' and '-', starting with a letter "
                         "or digit")
    return name


def sanitised_user(user: str) -> str:
    """A user name as the first part of generated VM names: lowercase ASCII letters,
    digits and '-', starting with a letter, at most 40 characters, so that
    ``{user}-vm-{n}`` passes every kind's name rule (GCE's RFC 1035 is the strictest)."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in user.lower())
    cleaned = "-".join(part for part in cleaned.split("-") if part)[:40].rstrip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"u{cleaned}"[:40].rstrip("-") if cleaned else "cloudmesh"
    return cleaned
