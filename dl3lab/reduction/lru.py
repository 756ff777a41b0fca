"""A small thread-safe least-recently-used cache for derived arrays."""

import os
import threading
import weakref
from collections import OrderedDict

__all__ = ["LRUCache"]

_CACHES = weakref.WeakSet()


def _new_locks_after_fork():
    # A forked child has only the forking thread: a lock another thread held at the fork
    # would never be released there.
    for cache in list(_CACHES):
        cache._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_after_fork)


class LRUCache:
    """Mapping with a maximum size that forgets the least recently used entries.

    Lookups and insertions hold a lock; computing a missing value does not, so two
    threads may compute the same entry once each (the results are identical).
    """

    def __init__(self, maxsize=32):
        self.maxsize = maxsize
        self._data = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, key, default=None):
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._data.clear()

    def __len__(self):
        return len(self._data)
