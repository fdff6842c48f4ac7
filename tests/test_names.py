"""The name expander."""

from __future__ import annotations

import pytest

from cloudmesh.compute.errors import UsageError
from cloudmesh.compute.names import MAX_NAMES, expand, literal


@pytest.mark.parametrize("expression,names", [
    ("web01", ["web01"]),
    ("web[01-03]", ["web01", "web02", "web03"]),
    ("a,b,c", ["a", "b", "c"]),
    ("x[1-2,5]", ["x1", "x2", "x5"]),
    ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
    ("vm[8-11]", ["vm8", "vm9", "vm10", "vm11"]),
    ("vm[08-11]", ["vm08", "vm09", "vm10", "vm11"]),
    ("[1-2]node", ["1node", "2node"]),
    ("a,web[1-2],a", ["a", "web1", "web2"]),
    (" spaced , names ", ["spaced", "names"]),
    (["a", "b[1-2]"], ["a", "b1", "b2"]),
    ("i-0abc123.def_x", ["i-0abc123.def_x"]),
    # existing VMs' names are kept as they are (issue 26); names cms creates are checked
    # by check_new_name and the kind's check_name
    ("bad/name", ["bad/name"]),
    ("-leading", ["-leading"]),
    (r"my\,vm,b", ["my,vm", "b"]),
])
def test_expands(expression, names) -> None:
    assert expand(expression) == names


@pytest.mark.parametrize("expression,fragment", [
    ("vm[3-1]", "3 is above 1"),
    ("vm[01-1000000]", f"at most {MAX_NAMES}"),
    ("vm[1-", "not closed"),
    ("vm]", "without '['"),
    ("vm[[1]]", "nested"),
    ("vm[]", "invalid range"),
    ("vm[a-b]", "invalid range"),
    ("a,,b", "empty name"),
    ("", "empty name"),
    ("bad\x01name", "control character"),
    ("n[1-40]m[1-40]", f"more than {MAX_NAMES}"),
])
def test_rejects(expression, fragment) -> None:
    with pytest.raises(UsageError, match=fragment.replace("[", r"\[")):
        expand(expression)


def test_none_is_empty() -> None:
    assert expand(None) == []


@pytest.mark.parametrize("name", ["plain", "my,vm", "node[1]", "a\\b", "Test Server 2",
                                  "x[1-3]"])
def test_a_literal_expands_to_exactly_its_name(name: str) -> None:
    assert expand(literal(name)) == [name]
