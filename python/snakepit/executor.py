"""Runs CALLs on call threads and writes their answers (RESULT / CHUNK* END / ERROR).

Why this module exists: this is the per-call hot path, kept apart from process start-up and the
frame reader. The reader only slices frames and queues a Context; the call thread decodes the
head and arguments, checks them, runs the tool (sync, async, generator or async generator) and
writes exactly one terminal frame.
"""

import os
import sys
import threading
import time
import types

from .context import Context
from .errors import CallStopped, InvalidArguments, ToolError
from .protocol import CHUNK, END, ERROR, RESULT, PayloadEncoder, decode_value, encode_frame, encode_value

_monotonic = time.monotonic
_CoroutineType = types.CoroutineType
_OWN_MODULES = frozenset((__name__, "snakepit.tools"))
_EMPTY_HEAD = {}
_json_decode = __import__("json").JSONDecoder().decode


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
    def __init__(self, tools, writer, inflight, max_frame):
        self.tools = tools  # name -> prepared Tool
        self.write = writer.write
        self.inflight = inflight  # call id -> Context, shared with the reader
        self.max_frame = max_frame
        self._local = threading.local()

    # ------------------------------------------------------------------ thread loop

    def thread_main(self, queue):
        """Body of one call thread: run queued contexts in order until a None arrives."""
        enc = PayloadEncoder()
        get = queue.get
        run = self.run
        while True:
            ctx = get()
            if ctx is None:
                return
            try:
                run(ctx, enc)
            except OSError:  # the agent closed fd 4: nobody is listening any more
                _exit_quietly()
            except BaseException as exc:  # a runtime bug: report it, keep the worker alive
                sys.stderr.write("snakepit worker: internal error in call %d: %r\n" % (ctx.call_id, exc))
                try:
                    self._finish(ctx, self._exception_frame(ctx.call_id, exc))
                except BaseException:
                    pass

    # ------------------------------------------------------------------ one call

    def run(self, ctx, enc):
        cid = ctx.call_id
        try:
            tool, args = self._prepare(ctx)
        except ToolError as exc:
            self._finish(ctx, _error_frame(cid, exc.code, exc.message))
            return
        if tool.stream:
            self._stream(tool, args, ctx, enc)
            return
        try:
            result = tool.invoke(args, ctx)
            if type(result) is _CoroutineType or (tool.is_async and hasattr(result, "__await__")):
                result = self._await(ctx, result)
        except BaseException as exc:
            frame = self._exception_frame(cid, exc)
        else:
            frame = self._value_frame(RESULT, cid, result, enc, tool, "returned")[0]
        self._finish(ctx, frame)

    def _prepare(self, ctx):
        """Decode head and arguments, apply timeout/cancel, find and check the tool."""
        head = ctx._head
        try:
            head = _json_decode(head.decode("utf-8")) if head else _EMPTY_HEAD
        except ValueError as exc:
            raise InvalidArguments("malformed CALL head: %s" % exc)
        if type(head) is not dict:
            raise InvalidArguments("malformed CALL head: not a JSON object")
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

    def _finish(self, ctx, frame):
        self.inflight.pop(ctx.call_id, None)
        self.write(frame)

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
            self._finish(ctx, self._exception_frame(cid, exc))
            return
        next_value = it.__next__
        write = self.write
        while True:
            try:
                value = next_value()
            except StopIteration:
                break
            except BaseException as exc:
                self._finish(ctx, self._exception_frame(cid, exc))
                return
            stop = _stopped(ctx)
            if stop is None:
                frame, ok = self._value_frame(CHUNK, cid, value, enc, tool, "yielded")
                if ok:
                    write(frame)
                    continue
            else:
                frame = _error_frame(cid, stop[0], stop[1])
            _close(it)
            self._finish(ctx, frame)
            return
        if ctx._cancelled:
            self._finish(ctx, _error_frame(cid, "CANCELLED", "call was cancelled"))
        else:
            self._finish(ctx, encode_frame(END, cid))

    def _stream_async(self, tool, agen, ctx, enc):
        cid = ctx.call_id
        while True:
            try:
                value = self._await(ctx, agen.__anext__())
            except StopAsyncIteration:
                break
            except BaseException as exc:
                self._aclose(agen)
                self._finish(ctx, self._exception_frame(cid, exc))
                return
            stop = _stopped(ctx)
            if stop is None:
                frame, ok = self._value_frame(CHUNK, cid, value, enc, tool, "yielded")
                if ok:
                    self.write(frame)
                    continue
            else:
                frame = _error_frame(cid, stop[0], stop[1])
            self._aclose(agen)
            self._finish(ctx, frame)
            return
        if ctx._cancelled:
            self._finish(ctx, _error_frame(cid, "CANCELLED", "call was cancelled"))
        else:
            self._finish(ctx, encode_frame(END, cid))

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

    # ------------------------------------------------------------------ frames

    def _value_frame(self, kind, cid, value, enc, tool, verb):
        """(frame, True) for an encodable value, else (ERROR frame, False)."""
        try:
            payload, blobs = enc.encode(value)
        except (TypeError, ValueError, RecursionError) as exc:
            return _error_frame(cid, "PYTHON_EXCEPTION", "tool '%s' %s a value that is not JSON-serialisable: %s"
                                % (tool.name, verb, exc), type="TypeError"), False
        size = 13 + len(payload)
        if blobs:
            size += sum(4 + len(b) for b in blobs)
        if size > self.max_frame:
            return _error_frame(cid, "PAYLOAD_TOO_LARGE", "tool '%s' %s a value of %d bytes, over the %d byte frame limit"
                                % (tool.name, verb, size, self.max_frame)), False
        return encode_frame(kind, cid, b"", payload, blobs), True

    def _exception_frame(self, cid, exc):
        if isinstance(exc, ToolError):
            return _error_frame(cid, exc.code, exc.message)
        import traceback
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_globals.get("__name__") in _OWN_MODULES:
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        try:
            message = str(exc)
        except Exception:
            message = "<str() of %s failed>" % type(exc).__name__
        return _error_frame(cid, "PYTHON_EXCEPTION", message, type=type(exc).__name__, traceback=text)


def _error_frame(cid, code, message, **extra):
    body = {"code": code, "message": message}
    body.update(extra)
    return encode_frame(ERROR, cid, b"", encode_value(body)[0])


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
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)
