"""Fault injection for the stand-ins: the next `count` calls answer `status`."""
from __future__ import annotations

import threading


class InjectedFaults:
    def __init__(self):
        self._lock = threading.Lock()
        self._status = 0
        self._remaining = 0

    def set(self, spec: dict) -> None:
        if not isinstance(spec, dict):
            raise ValueError('a fault is {"status": <400-599>, "count": <n>}')
        status, count = spec.get("status"), spec.get("count", 1)
        if not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        if not (isinstance(count, int) and count >= 0):
            raise ValueError("count must be a non-negative integer")
        with self._lock:
            self._status, self._remaining = status, count

    def take(self) -> int | None:
        """The status the next call must answer, if a fault is pending."""
        with self._lock:
            if self._remaining <= 0:
                return None
            self._remaining -= 1
            return self._status

    def clear(self) -> None:
        with self._lock:
            self._remaining = 0
