"""`Context`: what a tool can know about the call it is serving.

Why this module exists: tools declare a `ctx: Context` parameter to see their session, deadline
and cancellation, and to log to the agent. The worker creates one per call on its hot path, so
the class uses __slots__ and computes anything costly (session dict, logger) lazily.
"""

import time

from . import logs
from .errors import CallStopped

_monotonic = time.monotonic
_sessions = {}  # session id -> dict, for the life of this worker process


class Context:
    """Per-call context handed to tools that declare it.

    Attributes: call_id (int), worker_id (str or None), session_id (str or None),
    deadline (absolute time.monotonic() value, or None).
    """

    __slots__ = (
        "call_id", "worker_id", "session_id", "deadline", "tool_name",
        "_cancelled", "_session", "_logger", "_async",
        # raw CALL frame, parsed by the call thread (not the reader)
        "_t", "_head", "_payload", "_blobs",
    )

    def __init__(self, session_id=None, *, deadline=None, call_id=0, worker_id=None, tool_name=None):
        self.call_id = call_id
        self.worker_id = worker_id
        self.session_id = session_id
        self.deadline = deadline
        self.tool_name = tool_name
        self._cancelled = False
        self._session = None
        self._logger = None
        self._async = None

    @property
    def session(self):
        """A dict kept per session id in this worker (the same dict on every call of the session).

        A call without a session gets a fresh dict that lives only for that call.
        """
        s = self._session
        if s is None:
            sid = self.session_id
            if sid is None:
                s = {}
            else:
                s = _sessions.get(sid)
                if s is None:
                    s = _sessions.setdefault(sid, {})
            self._session = s
        return s

    @property
    def cancelled(self):
        """True once the agent sent CANCEL for this call or the deadline has passed."""
        if self._cancelled:
            return True
        d = self.deadline
        return d is not None and _monotonic() >= d

    def time_left(self):
        """Seconds until the deadline (may be negative), or None without a deadline."""
        d = self.deadline
        return None if d is None else d - _monotonic()

    def raise_if_cancelled(self):
        """Raise so the call ends with ERROR CANCELLED (or TIMEOUT once the deadline passed)."""
        if self._cancelled:
            raise CallStopped("CANCELLED", "call was cancelled")
        d = self.deadline
        if d is not None and _monotonic() >= d:
            raise CallStopped("TIMEOUT", "call ran past its deadline")

    @property
    def logger(self):
        """A logging.Logger-compatible object; its records go to the agent as LOG frames."""
        lg = self._logger
        if lg is None:
            lg = self._logger = logs.call_logger(self.tool_name, self.call_id)
        return lg

    def cancel(self):
        """Mark the call cancelled (the worker calls this when a CANCEL frame arrives)."""
        self._cancelled = True
        pending = self._async
        if pending is not None:  # an asyncio task is running this call: cancel it too
            loop, task = pending
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # loop already closed
                pass

    def __repr__(self):
        return "Context(call_id=%r, session_id=%r, worker_id=%r)" % (
            self.call_id, self.session_id, self.worker_id)


def drop_session(session_id):
    """Forget a session's dict (the protocol has no session-end frame yet; for tools/tests)."""
    _sessions.pop(session_id, None)
