"""Reading cloudmesh.yaml's text safely: PyYAML's safe loader (its C parser when
present) that refuses duplicate keys, aliases that expand past a budget (a "billion
laughs") and nesting too deep for the code that walks the tree; each refusal is a
ConfigError naming the file and line, never a value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudmesh.compute.errors import ConfigError

#: cloudmesh.yaml is a few kilobytes; a larger file, or one whose aliases expand to more
#: nodes than this (a "billion laughs"), is refused before anything walks it
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_NODES = 100_000
#: cloudmesh.yaml nests 6 levels deep; far deeper nesting would overflow the recursion of
#: everything that walks the tree (masking, ${ENV} expansion, the round-trip writer)
MAX_CONFIG_DEPTH = 64


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


def load_yaml(text: str, path: Path) -> Any:
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
