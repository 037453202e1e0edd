"""One-line status output from the stack's many threads."""
from __future__ import annotations

import threading

_lock = threading.Lock()


def say(source: str, message: str) -> None:
    with _lock:
        print(f"[{source}] {message}", flush=True)


def excerpt(text: str, width: int = 70) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
