"""``Hidden()``: an attribute whose value lives outside the instance's ``__dict__``.

A cloud's entry and a parsed ``cloudmesh.yaml`` hold credentials. Kept in an instance's
``__dict__`` they show in ``vars(provider)``, ``provider.__dict__``, a debugger's or a
notebook's view of the object and ``pprint(vars(...))``; kept here, in a table keyed by
the (weakly referenced) instance, they are reached only by their attribute's name.
"""

from __future__ import annotations

import weakref
from typing import Any


class Hidden:
    """A data descriptor: ``obj.name = value`` stores ``value`` in this descriptor's
    table, not in ``obj.__dict__``; the value goes when the object does."""

    def __init__(self) -> None:
        self._values: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._name = "attribute"

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        try:
            return self._values[instance]
        except KeyError:
            raise AttributeError(self._name) from None

    def __set__(self, instance: Any, value: Any) -> None:
        self._values[instance] = value

    def __delete__(self, instance: Any) -> None:
        self._values.pop(instance, None)

    def __repr__(self) -> str:
        return f"<hidden attribute {self._name!r}>"
