"""Name expressions: ``web[01-03]``, ``a,b,c``, ``x[1-2,5]``, ``r[1-2]n[1-2]``.

Our own small expander (the usual hostlist packages are GPL). Zero padding of the lower
bound is kept (``[01-10]`` gives ``01`` ... ``10``). Anything malformed raises UsageError.
"""

from __future__ import annotations

import re

from cloudmesh.compute.errors import UsageError

MAX_NAMES = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _split_top(expression: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for ch in expression:
        if ch == "[":
            depth += 1
            if depth > 1:
                raise UsageError(f"invalid name expression '{expression}': nested '['")
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"invalid name expression '{expression}': ']' without '['")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise UsageError(f"invalid name expression '{expression}': '[' is not closed")
    parts.append("".join(current))
    return parts


def _expand_range(body: str, expression: str) -> list[str]:
    values: list[str] = []
    for item in body.split(","):
        match = _RANGE.match(item.strip())
        if not match:
            raise UsageError(
                f"invalid range '[{body}]' in '{expression}'; write it as [1-3] or [01-10,12]")
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


def _expand_one(part: str, expression: str) -> list[str]:
    results = [""]
    rest = part
    while rest:
        start = rest.find("[")
        if start < 0:
            results = [r + rest for r in results]
            break
        end = rest.index("]", start)
        prefix, body, rest = rest[:start], rest[start + 1:end], rest[end + 1:]
        values = _expand_range(body, expression)
        results = [r + prefix + v for r in results for v in values]
        if len(results) > MAX_NAMES:
            raise UsageError(
                f"'{expression}' expands to more than {MAX_NAMES} names; name fewer at once")
    return results


def expand(expression: str | list[str] | None) -> list[str]:
    """Expand a name expression (or a list of them) into names, in order, without
    duplicates. Raises UsageError for anything malformed or too large."""
    if expression is None:
        return []
    expressions = [expression] if isinstance(expression, str) else list(expression)
    names: list[str] = []
    seen: set[str] = set()
    for expr in expressions:
        if not isinstance(expr, str) or not expr.strip():
            raise UsageError("empty name; give a name such as web01 or web[01-03]")
        for part in _split_top(expr.strip()):
            part = part.strip()
            if not part:
                raise UsageError(f"invalid name expression '{expr}': empty name between commas")
            for name in _expand_one(part, expr):
                if not _NAME.match(name):
                    raise UsageError(
                        f"invalid name '{name}': use letters, digits, '.', '_' and '-', "
                        "starting with a letter or digit")
                if name not in seen:
                    seen.add(name)
                    names.append(name)
                if len(names) > MAX_NAMES:
                    raise UsageError(f"more than {MAX_NAMES} names given; name fewer at once")
    return names


def sanitised_user(user: str) -> str:
    """A user name as the first part of generated VM names: lowercase ASCII letters,
    digits and '-', starting with a letter, at most 40 characters, so that
    ``{user}-vm-{n}`` passes every kind's name rule (GCE's RFC 1035 is the strictest)."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in user.lower())
    cleaned = "-".join(part for part in cleaned.split("-") if part)[:40].rstrip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"u{cleaned}"[:40].rstrip("-") if cleaned else "cloudmesh"
    return cleaned
