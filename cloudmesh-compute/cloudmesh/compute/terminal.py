"""Terminal escaping: text from a cloud (names, error messages) shown so that it can
neither move the cursor, ring the bell, change colours nor fake an extra line. Used by the
output (table cells) and by error lines."""

from __future__ import annotations

# Characters that must not reach a terminal raw from a cloud: C0 (with TAB, LF, CR, ESC,
# BEL), DEL, C1, the Unicode line and paragraph separators, and the bidirectional
# controls that make text display in another order than it is ("Trojan Source").
_UNSAFE_CHARS = ("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f"
                 "\u202a-\u202e\u2066-\u2069]")
_unsafe = None
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\n``, ``\\x1b``,
    ``\\u202e``), so that text from a cloud can neither move the cursor, ring the bell,
    change colours nor fake an extra line. Plain text is returned as it is."""
    if text.isprintable():  # the common case, and fast (no regex)
        return text
    global _unsafe
    if _unsafe is None:
        import re

        _unsafe = re.compile(_UNSAFE_CHARS)
    return _unsafe.sub(_escape_char, text)
