"""``client_on_first_use``: an SDK client made once per provider, safely from many threads.

The facade calls one provider from up to 16 threads (``cms vm list`` over many names, a
boot of several VMs); a plain ``if self._client is None`` lets two threads make two
clients (and with some SDKs share half-made state). This is ``functools.cached_property``
with a double-checked lock per instance.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class client_on_first_use(Generic[T]):  # noqa: N801 - used as a decorator, like property
    """Decorate a method that makes a client: the first access calls it (under a lock of
    that instance), later accesses return the same object without locking. A method that
    raises caches nothing, so the next access tries again. ``del provider.client``
    forgets the client."""

    def __init__(self, make: Callable[[Any], T]) -> None:
        self.make = make
        self.name = make.__name__
        self.__doc__ = make.__doc__
        self._guard = threading.Lock()  # protects the making of per-instance locks

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _lock(self, instance: Any) -> threading.Lock:
        key = f"_client_on_first_use_lock_{self.name}"
        lock = instance.__dict__.get(key)
        if lock is None:
            with self._guard:
                lock = instance.__dict__.setdefault(key, threading.Lock())
        return lock

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__
        if self.name in cache:  # (normally not reached: the cached value shadows us)
            return cache[self.name]
        with self._lock(instance):
            if self.name not in cache:
                cache[self.name] = self.make(instance)
            return cache[self.name]
