"""Runs CALLs on call threads and sends their answers (RESULT / CHUNK* END / ERROR) to a sink.

Why this module exists: this is the per-call hot path, kept apart from process start-up and the
transport. The transport's reader only queues a Context; the call thread decodes the head and
arguments, checks them, runs the tool (sync, async, generator or async generator) and sends
exactly one terminal answer.

The sink is the transport's output, so both transports share every rule here (validation,
context, streaming, cancellation, exceptions). Its methods are thread-safe and may raise OSError
once the agent is gone:

    result(cid, payload, blobs)   chunk(cid, payload, blobs)   end(cid)
    error(cid, code, message, type=None, traceback=None)

`payload` is UTF-8 JSON bytes, `blobs` a list of bytes or None. The pipe transport's sink is
protocol.FrameSink; the gRPC transport's is grpc_transport.StreamSink.
"""

import os
import sys
import threading
import time
import types

from . import logs
from .context import Context
from .errors import CallStopped, InvalidArguments, ToolError
from .protocol import PayloadEncoder, decode_value

_monotonic = time.monotonic
_CoroutineType = types.CoroutineType
_OWN_MODULES = frozenset((__name__, "snakepit.tools"))
_EMPTY_HEAD = {}
_json_decode = __import__("json").JSONDecoder().decode
# Decoded CALL heads kept by their bytes (cleared when full).
_MAX_CACHED_HEADS = 512


def new_context(call_id, worker_id, t, head, payload, blobs):
    """The reader's cheap per-CALL object; parsing happens later on the call thread."""
    ctx = Context.__new__(Context)
    ctx.call_id = call_id
    ctx.worker_id = worker_id
    ctx.session_id = ctx.deadline = ctx.tool_name = None
    ctx._cancelled = False
    ctx._session = ctx._logger = ctx._async = None
    ctx._t = t
    ctx._head = head
    ctx._payload = payload
    ctx._blobs = blobs
    return ctx


class Executor:
    def __init__(self, tools, sink, inflight, max_frame):
        self.tools = tools  # name -> prepared Tool
        self.sink = sink
        self._result = sink.result
        self._chunk = sink.chunk
        self._end = sink.end
        self._error = sink.error
        self.inflight = inflight  # call id -> Context, shared with the reader
        self.max_frame = max_frame
        self._heads = {}

        self._local = threading.local()

    # ------------------------------------------------------------------ thread loop

    def thread_main(self, queue):
        """Body of one call thread: run queued contexts in order until a None arrives.

        The ordering rule of docs/worker-protocol.md: calls are taken in the order received, and a
        call's answers have left the process before its thread takes the next one (the pipe sink
        writes them before returning; a sink that buffers, like gRPC's, has a flush()). With N
        threads, only the N oldest unanswered calls can be running, which is how the agent knows
        which calls a dead worker never started."""
        enc = PayloadEncoder()
        get = queue.get
        run_safely = self.run_safely
        flush = getattr(self.sink, "flush", None)
        while True:
            ctx = get()
            if ctx is None:
                return
            run_safely(ctx, enc)
            if flush is not None:
                flush()

    def run_safely(self, ctx, enc):
        """Run one call on this thread; a runtime bug is reported and the worker keeps serving."""
        if not logs._bridged and "logging" in sys.modules:
            logs.bridge_root_logging()  # a call imported logging since: bridge it before it logs again
        try:
            self.run(ctx, enc)
        except OSError:  # the agent closed its end: nobody is listening any more
            _exit_quietly()
        except BaseException as exc:
            sys.stderr.write("snakepit worker: internal error in call %d: %r\n" % (ctx.call_id, exc))
            try:
                self._fail(ctx, *_exception_info(exc))
            except BaseException:
                # Every call gets an answer before its thread takes the next one (the ordering
                # rule of docs/worker-protocol.md): a plain one if even the report failed.
                try:
                    self.inflight.pop(ctx.call_id, None)
                    self._error(ctx.call_id, "INTERNAL", "internal error in the worker")
                except BaseException:
                    pass

    # ------------------------------------------------------------------ one call

    def run(self, ctx, enc):
        cid = ctx.call_id
        try:
            tool, args = self._prepare(ctx)
        except ToolError as exc:
            self._fail(ctx, exc.code, exc.message)
            return
        if tool.stream:
            self._stream(tool, args, ctx, enc)
            return
        try:
            result = tool.invoke(args, ctx)
            if type(result) is _CoroutineType or (tool.is_async and hasattr(result, "__await__")):
                result = self._await(ctx, result)
        except BaseException as exc:
            self._fail(ctx, *_exception_info(exc))
            return
        try:
            payload, blobs = self._encode(result, enc, tool, "returned")
        except _Unsendable as u:
            self._fail(ctx, u.code, u.message, u.type)
            return
        self.inflight.pop(cid, None)
        self._result(cid, payload, blobs)

    def decode_head(self, raw):
        """A CALL head as a dict. Heads repeat (same tool, no session or deadline), so decoded
        heads are cached by their bytes; callers must not modify the dict."""
        head = self._heads.get(raw)
        if head is not None:
            return head
        try:
            head = _json_decode(raw.decode("utf-8")) if raw else _EMPTY_HEAD
        except ValueError as exc:
            raise InvalidArguments("malformed CALL head: %s" % exc)
        if type(head) is not dict:
            raise InvalidArguments("malformed CALL head: not a JSON object")
        if len(self._heads) >= _MAX_CACHED_HEADS:
            self._heads.clear()
        self._heads[raw] = head
        return head

    def _prepare(self, ctx):
        """Decode head and arguments, apply timeout/cancel, find and check the tool."""
        head = ctx._head
        if type(head) is not dict:  # pipe: raw JSON bytes; gRPC: already a dict
            head = self.decode_head(head)
        sid = head.get("session")
        if sid is not None:
            ctx.session_id = sid if type(sid) is str else str(sid)
        timeout = head.get("timeoutMs")
        if timeout is not None and type(timeout) in (int, float):
            ctx.deadline = ctx._t + timeout / 1000.0
        name = head.get("tool")
        ctx.tool_name = name
        if ctx._cancelled:
            raise CallStopped("CANCELLED", "call was cancelled before it started")
        if ctx.deadline is not None and _monotonic() >= ctx.deadline:
            raise CallStopped("TIMEOUT", "deadline passed before the call started")
        tool = self.tools.get(name) if type(name) is str else None
        if tool is None:
            raise ToolError("TOOL_NOT_FOUND", "no tool named %r (this worker has: %s)" % (name, self._tool_list()))
        payload = ctx._payload
        if payload:
            try:
                args = decode_value(payload, ctx._blobs)
            except ValueError as exc:
                raise InvalidArguments("arguments are not valid JSON: %s" % exc)
        else:
            args = {}
        ctx._head = ctx._payload = ctx._blobs = None
        tool.check(args)
        return tool, args

    def _tool_list(self):
        names = sorted(self.tools)
        return ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")

    def _fail(self, ctx, code, message, type=None, traceback=None):
        """End the call with ERROR."""
        self.inflight.pop(ctx.call_id, None)
        self._error(ctx.call_id, code, message, type, traceback)

    def _stream_done(self, ctx):
        """End a stream that ran out: END, or ERROR CANCELLED if it was cancelled meanwhile."""
        if ctx._cancelled:
            self._fail(ctx, "CANCELLED", "call was cancelled")
        else:
            self.inflight.pop(ctx.call_id, None)
            self._end(ctx.call_id)

    # ------------------------------------------------------------------ streaming

    def _stream(self, tool, args, ctx, enc):
        cid = ctx.call_id
        try:
            it = tool.invoke(args, ctx)
            if type(it) is _CoroutineType or (tool.is_async and hasattr(it, "__await__")):
                it = self._await(ctx, it)
            if hasattr(it, "__anext__"):
                self._stream_async(tool, it, ctx, enc)
                return
            try:
                it = iter(it)
            except TypeError:
                raise TypeError("streaming tool '%s' returned %s, which is not iterable"
                                % (tool.name, type(it).__name__)) from None
        except BaseException as exc:
            self._fail(ctx, *_exception_info(exc))
            return
        next_value = it.__next__
        encode = self._encode
        chunk = self._chunk
        while True:
            try:
                value = next_value()
            except StopIteration:
                break
            except BaseException as exc:
                self._fail(ctx, *_exception_info(exc))
                return
            stop = _stopped(ctx)
            if stop is None:
                try:
                    payload, blobs = encode(value, enc, tool, "yielded")
                except _Unsendable as u:
                    stop = u.code, u.message, u.type
                else:
                    chunk(cid, payload, blobs)
                    continue
            _close(it)
            self._fail(ctx, *stop)
            return
        self._stream_done(ctx)

    def _stream_async(self, tool, agen, ctx, enc):
        cid = ctx.call_id
        while True:
            try:
                value = self._await(ctx, agen.__anext__())
            except StopAsyncIteration:
                break
            except BaseException as exc:
                self._aclose(agen)
                self._fail(ctx, *_exception_info(exc))
                return
            stop = _stopped(ctx)
            if stop is None:
                try:
                    payload, blobs = self._encode(value, enc, tool, "yielded")
                except _Unsendable as u:
                    stop = u.code, u.message, u.type
                else:
                    self._chunk(cid, payload, blobs)
                    continue
            self._aclose(agen)
            self._fail(ctx, *stop)
            return
        self._stream_done(ctx)

    # ------------------------------------------------------------------ asyncio

    def _loop(self):
        loop = getattr(self._local, "loop", None)
        if loop is None:
            import asyncio
            loop = self._local.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        return loop

    def _await(self, ctx, awaitable):
        """Run an awaitable on this thread's event loop; CANCEL and the deadline cancel it."""
        import asyncio
        loop = self._loop()
        task = asyncio.ensure_future(awaitable, loop=loop)
        ctx._async = (loop, task)
        timer = None
        if ctx._cancelled:
            task.cancel()
        elif ctx.deadline is not None:
            timer = loop.call_at(ctx.deadline, task.cancel)  # loop.time() is time.monotonic()
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            stop = _stopped(ctx)
            if stop is not None:
                raise CallStopped(stop[0], stop[1]) from None
            raise
        finally:
            ctx._async = None
            if timer is not None:
                timer.cancel()

    def _aclose(self, agen):
        try:
            self._loop().run_until_complete(agen.aclose())
        except BaseException:
            pass

    # ------------------------------------------------------------------ values

    def _encode(self, value, enc, tool, verb):
        """(payload, blobs) of a value the agent will accept; raises _Unsendable otherwise."""
        try:
            payload, blobs = enc.encode(value)
        except (TypeError, ValueError, RecursionError) as exc:
            raise _Unsendable("PYTHON_EXCEPTION", "tool '%s' %s a value that is not JSON-serialisable: %s"
                              % (tool.name, verb, exc), "TypeError")
        # Sized as a pipe frame (13 header bytes, 4 per blob) whatever the transport, so both
        # refuse the same values.
        size = 13 + len(payload)
        if blobs:
            size += sum(4 + len(b) for b in blobs)
        if size > self.max_frame:
            raise _Unsendable("PAYLOAD_TOO_LARGE", "tool '%s' %s a value of %d bytes, over the %d byte frame limit"
                              % (tool.name, verb, size, self.max_frame))
        return payload, blobs


class _Unsendable(Exception):
    """A value the worker must not send; the call ends with this error instead."""

    def __init__(self, code, message, type=None):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.type = type


def _exception_info(exc):
    """(code, message, type, traceback) of an exception raised by a tool."""
    if isinstance(exc, ToolError):
        return exc.code, exc.message, None, None
    import traceback
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in _OWN_MODULES:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    try:
        message = str(exc)
    except Exception:
        message = "<str() of %s failed>" % type(exc).__name__
    return "PYTHON_EXCEPTION", message, type(exc).__name__, text


def _stopped(ctx):
    """("CANCELLED"|"TIMEOUT", message) if the call should stop now, else None."""
    if ctx._cancelled:
        return "CANCELLED", "call was cancelled"
    d = ctx.deadline
    if d is not None and _monotonic() >= d:
        return "TIMEOUT", "call ran past its deadline"
    return None


def _close(it):
    close = getattr(it, "close", None)
    if close is not None:
        try:
            close()
        except BaseException as exc:
            sys.stderr.write("snakepit worker: error while closing a stream: %r\n" % (exc,))


def _exit_quietly():
    from . import containment
    containment.before_exit()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)
