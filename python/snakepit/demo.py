"""Built-in demo tools, served when the worker is started without --tools.

Why this module exists: it lets the agent (and its tests) exercise every feature of the runtime
without a user module: plain and streaming tools, sessions, cancellation, bytes, logging, and
printing from a tool. `from __future__ import annotations` keeps `int | None` valid on 3.9.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from . import Context, tool

# Every demo tool keeps its state in ctx.session or locals, so the module may run several calls
# at once (`snakepit up --threads N`).
SNAKEPIT_THREAD_SAFE = True


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def echo(value: Any = None):
    """Return the value unchanged (JSON, unicode, bytes, nested structures)."""
    return value


@tool
def greet(name: str, excited: bool = False) -> str:
    """Greet someone by name; `excited` adds an exclamation mark."""
    return "Hello, %s%s" % (name, "!" if excited else ".")


@tool
def stats(values: list[float]) -> dict:
    """Count, mean, min and max of a list of numbers (null for an empty list)."""
    if not values:
        return {"count": 0, "mean": None, "min": None, "max": None}
    return {"count": len(values), "mean": sum(values) / len(values), "min": min(values), "max": max(values)}


@tool
def tokens(text: str, ctx: Context):
    """Stream the whitespace-separated tokens of `text` as {"token", "index"} chunks."""
    for index, token in enumerate(text.split()):
        if ctx.cancelled:
            return
        yield {"token": token, "index": index}


_counter_lock = threading.Lock()  # sessions are shared by call threads under --threads N


@tool
def counter(ctx: Context, step: int = 1) -> int:
    """Add `step` to this session's counter and return the new value."""
    with _counter_lock:
        value = ctx.session["count"] = ctx.session.get("count", 0) + step
    return value


@tool
def fail(message: str = "boom"):
    """Always raise ValueError(message), to show how Python errors reach the caller."""
    raise ValueError(message)


@tool
def sleep(seconds: float, ctx: Context) -> float:
    """Sleep up to `seconds` in small steps, stopping early when cancelled; return seconds slept."""
    start = time.monotonic()
    end = start + seconds
    while not ctx.cancelled:
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(left, 0.01))
    return time.monotonic() - start


@tool
def whoami(ctx: Context) -> dict:
    """This worker's pid and id, and the call's session id."""
    return {"pid": os.getpid(), "worker_id": ctx.worker_id, "session_id": ctx.session_id}


@tool
def reverse_bytes(data: bytes) -> bytes:
    """Return the bytes reversed (bytes travel as raw blobs, never base64)."""
    return data[::-1]


@tool
def noisy(ctx: Context) -> str:
    """Print to stdout and stderr and log via ctx.logger: none of it can corrupt the protocol."""
    print("noisy: a line on stdout")
    print("noisy: a line on stderr", file=sys.stderr)
    sys.stdout.write("noisy: \x00\x00\x00\x05 frame-like bytes without a newline")
    sys.stdout.flush()
    ctx.logger.info("noisy: a log record for call %s", ctx.call_id)
    return "ok"


@tool
def optional(x: int | None = None, *, label: str = "n") -> str:
    """Format an optional integer with a keyword-only label, e.g. "n=3" or "n=None"."""
    return "%s=%s" % (label, x)
