"""Fixture: the tools of the WorkerChannel contract suite (run over every worker transport).

The demo tools (add, echo, tokens, fail, sleep, counter, whoami, reverse_bytes, noisy, ...) plus
probes for deadlines, crashes and concurrency.
"""
import os
import signal
import threading
import time

from snakepit import Context, tool
from snakepit.demo import *  # noqa: F401,F403  (registers the demo tools)

SNAKEPIT_THREAD_SAFE = True

_barriers = {}
_barriers_lock = threading.Lock()


@tool
def pid() -> int:
    """The worker's pid."""
    return os.getpid()


@tool
def deadline_left(ctx: Context):
    """Seconds left until the call's deadline as Python sees it (null without one)."""
    return ctx.time_left()


@tool
def hang(seconds: float = 30.0) -> str:
    """Sleep, ignoring cancellation."""
    time.sleep(seconds)
    return "done"


@tool
def kill_self() -> None:
    """SIGKILL the worker itself, mid-call."""
    os.kill(os.getpid(), signal.SIGKILL)


@tool
def rendezvous(key: str, parties: int, timeout: float = 5.0) -> dict:
    """Wait until `parties` calls with this key run at once in this worker (a threading.Barrier)."""
    with _barriers_lock:
        barrier = _barriers.setdefault(key, threading.Barrier(parties))
    try:
        barrier.wait(timeout)
        passed = True
    except threading.BrokenBarrierError:
        passed = False
    return {"pid": os.getpid(), "passed": passed, "thread": threading.current_thread().name}


@tool
def blob_of(size: int) -> bytes:
    """`size` bytes (a large result from a small call)."""
    return bytes(size)


@tool
def end_stream() -> None:
    """gRPC only, misbehaving: end the worker's Connect stream while the process lives on."""
    from snakepit import logs

    logs._sink.__self__.sink.close()  # the Worker behind the log sink; its StreamSink
    time.sleep(30)
