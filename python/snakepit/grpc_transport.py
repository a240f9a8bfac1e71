"""The optional gRPC worker transport: `python -m snakepit --transport grpc --listen ADDRESS`.

Why this module exists: some workers must sit behind a network boundary, where two inherited
pipes cannot reach. This serves the same protocol (docs/worker-protocol.md, one message per frame
kind, proto/snakepit/v1/worker.proto) from a grpcio server: the agent opens ONE long-lived
`Connect` stream and multiplexes its calls on it by id. Everything else is shared with the pipe
transport: the process rules and the Worker (worker.py), and the Executor that runs calls, which
answers through a StreamSink here instead of a FrameSink.

Only `--transport grpc` imports this module, so the default runtime stays stdlib-only. Without
grpcio (or protobuf) the worker exits 3 with a message saying what to install.

Exit codes as for pipes (0 normal, 1 agent gone at start, 3 tools or grpcio missing), plus
5: the server could not listen on ADDRESS. The end of the agent's side of the stream counts as
SHUTDOWN (as EOF on fd 3 does for pipes).
"""

import os
import queue
import sys
import threading
import time

from . import worker as _worker

NEEDS_GRPCIO = ("the gRPC worker transport needs grpcio: install python3-grpcio or "
                "`pip install grpcio`")
NEEDS_PROTOBUF = ("the gRPC worker transport needs protobuf: install python3-protobuf or "
                  "`pip install protobuf`")
SERVICE = "snakepit.v1.Worker"
EXIT_LISTEN_FAILED = 5
# Room for the message framing around a payload the executor accepted (it sizes values as pipe
# frames; protobuf adds a few bytes per field).
MESSAGE_SLACK = 64 * 1024


def serve(spec, threads, listen):
    """Run the gRPC worker on `listen` until SHUTDOWN / the stream ends; never returns."""
    _worker.start_process(pipes=False)
    grpc, pb = import_grpc()
    module_name, tools = _worker.load_tools(spec, threads)
    GrpcWorker(module_name, tools, threads, grpc, pb).run(listen)


def import_grpc():
    """(grpc, worker_pb2), or exit 3 naming what to install."""
    try:
        import grpc
    except ImportError as exc:
        sys.stderr.write("snakepit worker: %s (%s)\n" % (NEEDS_GRPCIO, exc))
        _worker._exit(3)
    try:
        from ._proto import worker_pb2
    except ImportError as exc:
        sys.stderr.write("snakepit worker: %s (%s)\n" % (NEEDS_PROTOBUF, exc))
        _worker._exit(3)
    return grpc, worker_pb2


class StreamSink:
    """The gRPC transport's output: answers become WorkerMessages on an unbounded queue that the
    Connect handler yields from. Messages are built on the sending thread (a call thread or the
    reader), so the handler thread only hands them to grpcio.

    flush() is the ordering rule of docs/worker-protocol.md for this transport: a call thread
    takes its next call only once its answers have left the process (grpcio asks the handler for
    the next message only after the send of the previous one completed), so an answer queued
    here can never be lost to a SIGKILL while a later call already runs."""

    def __init__(self, pb):
        self._queue = queue.SimpleQueue()
        self._sent_cond = threading.Condition()
        self._queued = 0  # messages put on the queue so far
        self._sent = 0    # of those, sent by grpcio
        self._over = False
        self._Message = pb.WorkerMessage
        self._Ready = pb.Ready
        self._Value = pb.CallValue
        self._End = pb.CallEnd
        self._Error = pb.CallError
        self._Pong = pb.Pong
        self._Log = pb.LogRecord

    def _put(self, msg):
        with self._sent_cond:  # counted in queue order, so flush() waits for exactly these
            self._queued += 1
            self._queue.put(msg)

    def flush(self):
        """Wait until every message queued so far has been sent (or the stream is over)."""
        with self._sent_cond:
            target = self._queued
            while self._sent < target and not self._over:
                self._sent_cond.wait(1.0)

    def ready(self, payload):
        self._put(self.ready_message(payload))

    def ready_message(self, payload):
        return self._Message(ready=self._Ready(json=payload))

    def result(self, call_id, payload, blobs):
        self._put(self._Message(result=self._Value(id=call_id, json=payload, blobs=blobs)))

    def chunk(self, call_id, payload, blobs):
        self._put(self._Message(chunk=self._Value(id=call_id, json=payload, blobs=blobs)))

    def end(self, call_id):
        self._put(self._Message(end=self._End(id=call_id)))

    def error(self, call_id, code, message, type=None, traceback=None):
        try:
            err = self._Error(id=call_id, code=code, message=message, type=type, traceback=traceback)
        except (UnicodeEncodeError, ValueError, TypeError):  # e.g. lone surrogates in str(exc)
            err = self._Error(id=call_id, code=_text(code), message=_text(message),
                              type=_text(type), traceback=_text(traceback))
        self._put(self._Message(error=err))

    def pong(self, seq):
        self._put(self._Message(pong=self._Pong(seq=seq)))

    def log(self, call_id, level, logger_name, message):
        try:
            rec = self._Log(call_id=call_id, level=level, logger=logger_name, message=message)
        except (UnicodeEncodeError, ValueError, TypeError):
            rec = self._Log(call_id=call_id, level=_text(level), logger=_text(logger_name), message=_text(message))
        self._put(self._Message(log=rec))

    def close(self):
        """No more messages: the Connect stream ends (status OK) once the queue is drained."""
        self._queue.put(None)

    def messages(self):
        get = self._queue.get
        cond = self._sent_cond
        try:
            while True:
                msg = get()
                if msg is None:
                    return
                yield msg
                # grpcio resumes us only after the send of `msg` completed.
                with cond:
                    self._sent += 1
                    cond.notify_all()
        finally:
            self.stream_over()

    def stream_over(self):
        """The stream ended (however): nothing more will be sent, flush() waits no longer."""
        with self._sent_cond:
            self._over = True
            self._sent_cond.notify_all()


class GrpcWorker(_worker.Worker):
    def __init__(self, module_name, tools, threads, grpc, pb):
        self.grpc = grpc
        _worker.Worker.__init__(self, module_name, tools, threads, StreamSink(pb))
        self.server = None
        self._connected = False
        self._lock = threading.Lock()
        self._stream_over = threading.Event()
        self._rpc_over = threading.Event()
        self.listen = ""

    def run(self, listen):
        grpc = self.grpc
        self.listen = listen
        from concurrent import futures

        limit = self.max_frame + MESSAGE_SLACK
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="snakepit-grpc"),
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
        )
        from ._proto import worker_pb2
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Connect": grpc.stream_stream_rpc_method_handler(
                self._connect,
                request_deserializer=worker_pb2.AgentMessage.FromString,
                response_serializer=worker_pb2.WorkerMessage.SerializeToString,
            ),
        })
        server.add_generic_rpc_handlers((handler,))
        try:
            port = server.add_insecure_port(listen)
        except RuntimeError as exc:
            port, why = 0, str(exc)
        else:
            why = "address in use or not valid"
        if not port:
            sys.stderr.write("snakepit worker: cannot listen on %s: %s\n" % (listen, why))
            _worker._exit(EXIT_LISTEN_FAILED)
        self.server = server
        self.start_threads()
        server.start()
        # The main thread only waits: every exit is an os._exit from the shutdown path, the
        # stdin watcher or a signal.
        threading.Event().wait()

    # ------------------------------------------------------------------ the Connect stream

    def _connect(self, requests, context):
        grpc = self.grpc
        with self._lock:
            first = not self._connected
            self._connected = True
        if not first:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "this worker already serves an agent (one Connect stream per worker)")
        context.add_callback(self._on_rpc_over)  # runs when the RPC is over, however it ends
        threading.Thread(target=self._read, args=(requests,), name="snakepit-reader", daemon=True).start()
        try:
            # READY first (ahead of anything already queued), then every answer as it is sent.
            yield self.sink.ready_message(self.ready_payload())
            for msg in self.sink.messages():
                yield msg
        finally:
            self._stream_over.set()

    def _on_rpc_over(self):
        self.sink.stream_over()
        self._rpc_over.set()

    def _read(self, requests):
        """The reader: the agent's messages, in order, as the pipe reader handles frames."""
        monotonic = time.monotonic
        on_call = self.on_call
        inflight = self.inflight
        pong = self.sink.pong
        try:
            for msg in requests:
                kind = msg.WhichOneof("kind")
                if kind == "call":
                    c = msg.call
                    head = {
                        "tool": c.tool,
                        "session": c.session if c.HasField("session") else None,
                        "timeoutMs": c.timeout_ms if c.HasField("timeout_ms") else None,
                    }
                    on_call(c.id, head, c.args_json, list(c.blobs) or None, monotonic())
                elif kind == "ping":
                    pong(msg.ping.seq)
                elif kind == "cancel":
                    ctx = inflight.get(msg.cancel.id)
                    if ctx is not None:
                        ctx.cancel()
                elif kind == "shutdown":
                    self.on_shutdown()
                else:
                    sys.stderr.write("snakepit worker: ignoring an unexpected message (%s)\n" % kind)
        except Exception as exc:  # the stream broke (cancelled by the agent, connection lost)
            if not self.closing:
                sys.stderr.write("snakepit worker: the agent's stream failed: %s\n" % _describe(exc))
        # The agent's side ended: same as SHUTDOWN (and as EOF on fd 3 for pipes).
        if not self.closing:
            self.drain_and_exit()

    def finish(self):
        """After the last answer: end the stream with status OK, give grpcio a moment to send
        it, and remove our unix socket."""
        self.sink.close()
        if self._stream_over.wait(5):
            # The handler starts sending the status as the generator ends; the RPC is over once
            # the agent has it. (A client that keeps its side open holds the RPC, so do not wait
            # for that longer than a moment.)
            self._rpc_over.wait(0.2)
        if self.listen.startswith("unix:"):
            try:
                os.unlink(self.listen[len("unix:"):])
            except OSError:
                pass


def _text(s):
    """A str protobuf accepts (valid UTF-8), or None."""
    if s is None:
        return None
    return str(s).encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(exc):
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            return "%s: %s" % (code(), exc.details())
        except Exception:
            pass
    return repr(exc)
