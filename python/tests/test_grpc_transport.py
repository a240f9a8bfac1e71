"""End to end: the gRPC worker transport (`python -m snakepit --transport grpc --listen ADDR`).

Spawns the real worker and drives its single Connect stream with a grpcio client, as the agent
does with grpc-js. Needs grpcio and protobuf: where they are missing these tests are skipped,
unless SNAKEPIT_REQUIRE_GRPC=1 (as `npm run test:python` sets for /usr/bin/python3), which turns
a missing grpcio into a failure. The command-line tests at the bottom need no grpcio.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from .harness import PYTHON_DIR

try:
    import grpc
    from snakepit._proto import worker_pb2 as pb
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    grpc = pb = None
    MISSING = str(exc)
    if os.environ.get("SNAKEPIT_REQUIRE_GRPC") == "1":
        raise ImportError("SNAKEPIT_REQUIRE_GRPC=1 but %s cannot import grpcio/protobuf: %s "
                          "(apt-get install python3-grpcio python3-protobuf)" % (sys.executable, exc))
else:
    MISSING = None

needs_grpc = unittest.skipIf(grpc is None, "grpcio/protobuf not importable here (%s); "
                             "npm run test:python runs these under /usr/bin/python3" % MISSING)

EXTRA_TOOLS = '''
import os
import time
from snakepit import Context, tool
from snakepit.demo import *  # noqa

SNAKEPIT_THREAD_SAFE = True


@tool
def deadline_left(ctx: Context):
    return ctx.time_left()


@tool
def slow_stream(ctx: Context, n: int = 1000):
    for i in range(n):
        time.sleep(0.01)
        yield i


@tool
def blob_sizes(data: bytes, more: list) -> list:
    return [len(data)] + [len(b) for b in more]


@tool
def bad_text():
    raise ValueError("lone \\udc80 surrogate")
'''

TERMINAL = ("result", "end", "error")


class GrpcWorker:
    """Spawn a gRPC worker on a private unix socket and (optionally) open its Connect stream."""

    def __init__(self, args=(), env=None, connect=True, listen=None):
        self.dir = tempfile.mkdtemp(prefix="sp-gw-")
        self.address = listen or "unix:" + os.path.join(self.dir, "w.sock")
        self.stdout = tempfile.TemporaryFile()
        self.stderr = tempfile.TemporaryFile()
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = PYTHON_DIR
        full_env["SNAKEPIT_AGENT_PID"] = str(os.getpid())
        full_env["SNAKEPIT_WORKER_ID"] = "gw-test"
        full_env.update(env or {})
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "snakepit", "--transport", "grpc", "--listen", self.address] + list(args),
            stdin=subprocess.PIPE, stdout=self.stdout, stderr=self.stderr, env=full_env)
        self.channel = None
        self.inbox = queue.Queue()
        self.pending = []
        self.status = None
        self.next_id = 1
        self.ready = None
        if connect:
            try:
                self.connect()
                self.ready = self.recv(timeout=20)
                self.ready_seconds = time.perf_counter() - self.started
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ the stream

    def open_channel(self):
        if self.channel is None:
            self.channel = grpc.insecure_channel(self.address, options=[
                ("grpc.initial_reconnect_backoff_ms", 20), ("grpc.max_reconnect_backoff_ms", 100)])
            grpc.channel_ready_future(self.channel).result(timeout=20)
        return self.channel.stream_stream(
            "/snakepit.v1.Worker/Connect",
            request_serializer=pb.AgentMessage.SerializeToString,
            response_deserializer=pb.WorkerMessage.FromString)

    def connect(self):
        connect = self.open_channel()
        self.outbox = queue.SimpleQueue()

        def requests():
            while True:
                msg = self.outbox.get()
                if msg is None:
                    return
                yield msg

        self.responses = connect(requests())
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        try:
            for msg in self.responses:
                self.inbox.put(msg)
            self.status = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            self.status = exc.code()
            self.details = exc.details()
        self.inbox.put(None)

    def send(self, **kind):
        self.outbox.put(pb.AgentMessage(**kind))

    def call(self, tool, args=None, cid=None, session=None, timeout_ms=None, blobs=()):
        if cid is None:
            cid = self.next_id
            self.next_id += 1
        self.send(call=pb.CallRequest(id=cid, tool=tool, session=session, timeout_ms=timeout_ms,
                                      args_json=json.dumps({} if args is None else args).encode(),
                                      blobs=list(blobs)))
        return cid

    def half_close(self):
        self.outbox.put(None)

    def recv(self, timeout=10.0):
        """The next message; EOFError once the stream has ended."""
        if self.pending:
            return self.pending.pop(0)
        try:
            msg = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("no message within %.1fs; stderr:\n%s" % (timeout, self.err()))
        if msg is None:
            self.inbox.put(None)
            raise EOFError("stream ended with %s" % (self.status,))
        return msg

    def collect(self, cid, timeout=10.0):
        got, others = [], []
        deadline = time.monotonic() + timeout
        try:
            while True:
                msg = self.recv(max(0.0, deadline - time.monotonic()))
                kind = msg.WhichOneof("kind")
                if kind not in ("result", "chunk", "end", "error") or getattr(msg, kind).id != cid:
                    others.append(msg)
                    continue
                got.append(msg)
                if kind in TERMINAL:
                    return got
        finally:
            self.pending[:0] = others

    def roundtrip(self, tool, args=None, **kw):
        msgs = self.collect(self.call(tool, args, **kw))
        assert len(msgs) == 1, msgs
        return msgs[0]

    # ------------------------------------------------------------------ process

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        if self.channel is not None:
            self.channel.close()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def value(msg):
    kind = msg.WhichOneof("kind")
    v = getattr(msg, kind)
    return json.loads(v.json) if v.json else None


_tmp = None


def setUpModule():
    global _tmp
    _tmp = tempfile.mkdtemp(prefix="sp-gt-")


def tearDownModule():
    shutil.rmtree(_tmp, ignore_errors=True)


def write_module(name, source):
    path = os.path.join(_tmp, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(source))
    return path


@needs_grpc
class GrpcWorkerTest(unittest.TestCase):
    """One worker (2 call threads) serving the demo tools plus a few probes."""

    @classmethod
    def setUpClass(cls):
        cls.w = GrpcWorker(["--tools", write_module("grpc_extra.py", EXTRA_TOOLS), "--threads", "2"])

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def test_ready_comes_first(self):
        msg = self.w.ready
        self.assertEqual(msg.WhichOneof("kind"), "ready")
        info = json.loads(msg.ready.json)
        self.assertEqual(info["pid"], self.w.proc.pid)
        self.assertEqual(info["threads"], 2)
        self.assertIn("add", [t["name"] for t in info["tools"]])

    def test_result(self):
        msg = self.w.roundtrip("add", {"a": 2, "b": 3})
        self.assertEqual(msg.WhichOneof("kind"), "result")
        self.assertEqual(msg.result.json, b"5")
        self.assertIsNone(value(self.w.roundtrip("echo", {})))

    def test_errors_carry_code_message_type_traceback(self):
        err = self.w.roundtrip("fail", {"message": "kaboom ✗"}).error
        self.assertEqual((err.code, err.message, err.type), ("PYTHON_EXCEPTION", "kaboom ✗", "ValueError"))
        self.assertIn("Traceback (most recent call last)", err.traceback)
        err = self.w.roundtrip("nope").error
        self.assertEqual(err.code, "TOOL_NOT_FOUND")
        self.assertEqual((err.type, err.traceback), ("", ""))
        self.assertEqual(self.w.roundtrip("add", {"a": "x", "b": 1}).error.code, "INVALID_ARGUMENTS")

    def test_unencodable_text_still_reaches_the_agent(self):
        err = self.w.roundtrip("bad_text").error
        self.assertEqual(err.code, "PYTHON_EXCEPTION")
        self.assertIn("surrogate", err.message)

    def test_blobs_both_ways(self):
        data = bytes(range(256)) * 4096  # 1 MiB
        cid = self.w.call("blob_sizes", {"data": {"$blob": 0}, "more": [{"$blob": 1}, {"$blob": 2}]},
                          blobs=[data, b"", b"xyz"])
        self.assertEqual(value(self.w.collect(cid)[0]), [len(data), 0, 3])
        cid = self.w.call("reverse_bytes", {"data": {"$blob": 0}}, blobs=[data])
        msg = self.w.collect(cid)[0]
        self.assertEqual(json.loads(msg.result.json), {"$blob": 0})
        self.assertEqual(msg.result.blobs[0], data[::-1])

    def test_stream_then_end(self):
        msgs = self.w.collect(self.w.call("tokens", {"text": "a bb ccc"}))
        self.assertEqual([m.WhichOneof("kind") for m in msgs], ["chunk", "chunk", "chunk", "end"])
        self.assertEqual([value(m)["token"] for m in msgs[:3]], ["a", "bb", "ccc"])

    def test_session_and_deadline_reach_the_context(self):
        who = value(self.w.roundtrip("whoami", session="s-1"))
        self.assertEqual((who["session_id"], who["worker_id"]), ("s-1", "gw-test"))
        self.assertIsNone(value(self.w.roundtrip("whoami"))["session_id"])
        left = value(self.w.roundtrip("deadline_left", timeout_ms=5000))
        self.assertTrue(3 < left <= 5, left)
        self.assertIsNone(value(self.w.roundtrip("deadline_left")))
        self.assertEqual(self.w.roundtrip("sleep", {"seconds": 5}, timeout_ms=0).error.code, "TIMEOUT")

    def test_ping_while_a_tool_runs(self):
        cid = self.w.call("sleep", {"seconds": 0.3})
        time.sleep(0.05)
        self.w.send(ping=pb.Ping(seq=77))
        first = self.w.recv()
        self.assertEqual(first.WhichOneof("kind"), "pong")
        self.assertEqual(first.pong.seq, 77)
        self.assertGreaterEqual(value(self.w.collect(cid)[0]), 0.29)

    def test_cancel_a_stream(self):
        cid = self.w.call("slow_stream", {"n": 1000})
        self.assertEqual(self.w.recv().WhichOneof("kind"), "chunk")
        self.w.send(cancel=pb.CancelRequest(id=cid))
        last = self.w.collect(cid)[-1]
        self.assertEqual((last.WhichOneof("kind"), last.error.code), ("error", "CANCELLED"))
        self.w.send(cancel=pb.CancelRequest(id=9999))  # unknown id: ignored
        self.assertEqual(self.w.roundtrip("add", {"a": 1, "b": 1}).result.json, b"2")

    def test_log_records(self):
        cid = self.w.call("noisy")
        logs = []
        while True:
            msg = self.w.recv()
            if msg.WhichOneof("kind") == "log":
                logs.append(msg.log)
            elif msg.WhichOneof("kind") == "result" and msg.result.id == cid:
                break
        self.assertEqual([(l.call_id, l.level, l.logger) for l in logs], [(cid, "info", "snakepit.tool.noisy")])
        self.assertIn("a log record for call %d" % cid, logs[0].message)

    def test_a_second_connect_is_refused(self):
        connect = self.w.open_channel()
        with self.assertRaises(grpc.RpcError) as caught:
            list(connect(iter([])))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(self.w.roundtrip("add", {"a": 1, "b": 2}).result.json, b"3")


@needs_grpc
class GrpcLifetimeTest(unittest.TestCase):
    def test_shutdown_finishes_in_flight_calls_then_ends_the_stream(self):
        with GrpcWorker() as w:
            cid = w.call("sleep", {"seconds": 0.3})
            time.sleep(0.05)
            w.send(shutdown=pb.ShutdownRequest())
            late = w.call("add", {"a": 1, "b": 1})
            self.assertEqual(w.collect(late)[0].error.code, "CANCELLED")
            self.assertGreaterEqual(value(w.collect(cid)[0]), 0.29)
            with self.assertRaises(EOFError):
                w.recv()
            self.assertEqual(w.status, grpc.StatusCode.OK)
            self.assertEqual(w.wait(), 0)
            self.assertFalse(os.path.exists(w.address[len("unix:"):]))

    def test_end_of_the_agent_stream_is_shutdown(self):
        with GrpcWorker() as w:
            cid = w.call("sleep", {"seconds": 0.2})
            w.half_close()
            self.assertGreaterEqual(value(w.collect(cid)[0]), 0.19)
            self.assertEqual(w.wait(), 0)

    def test_stdin_eof_ends_the_worker(self):
        with GrpcWorker() as w:
            w.proc.stdin.close()
            self.assertEqual(w.wait(), 0)

    def test_agent_gone_at_start(self):
        with GrpcWorker(env={"SNAKEPIT_AGENT_PID": "1"}, connect=False) as w:
            self.assertEqual(w.wait(), 1)
            self.assertIn("not our parent", w.err())

    def test_tools_import_error_exits_3(self):
        path = write_module("grpc_broken.py", "raise RuntimeError('broken on purpose')\n")
        with GrpcWorker(["--tools", path], connect=False) as w:
            self.assertEqual(w.wait(), 3)
            self.assertIn("broken on purpose", w.err())

    def test_cannot_listen_exits_5(self):
        with GrpcWorker(listen="unix:/nonexistent-dir-%d/w.sock" % os.getpid(), connect=False) as w:
            self.assertEqual(w.wait(), 5)
            self.assertIn("cannot listen on unix:/nonexistent-dir", w.err())

    def test_tcp_address(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with GrpcWorker(listen="127.0.0.1:%d" % port) as w:
            self.assertEqual(w.roundtrip("add", {"a": 20, "b": 22}).result.json, b"42")


@needs_grpc
class StreamSinkOrderingTest(unittest.TestCase):
    """The ordering rule the agent relies on to requeue calls a dead worker never started: a call
    thread takes its next call only once its answers were sent (docs/worker-protocol.md)."""

    def test_flush_waits_until_grpcio_asked_for_the_next_message(self):
        from snakepit.grpc_transport import StreamSink
        sink = StreamSink(pb)
        stream = sink.messages()
        sink.result(1, b"1", None)
        sink.end(2)
        flushed = threading.Event()
        threading.Thread(target=lambda: (sink.flush(), flushed.set()), daemon=True).start()
        self.assertEqual(next(stream).result.id, 1)  # yielded: grpcio is sending it
        self.assertFalse(flushed.wait(0.2))
        self.assertEqual(next(stream).end.id, 2)  # resumed: the first send completed
        self.assertFalse(flushed.wait(0.2))       # the second one is still being sent
        sink.close()
        self.assertEqual(list(stream), [])        # resumed once more, then the stream ends
        self.assertTrue(flushed.wait(2))

    def test_flush_returns_once_the_stream_is_over(self):
        from snakepit.grpc_transport import StreamSink
        sink = StreamSink(pb)
        sink.result(1, b"1", None)
        flushed = threading.Event()
        threading.Thread(target=lambda: (sink.flush(), flushed.set()), daemon=True).start()
        self.assertFalse(flushed.wait(0.2))
        sink.stream_over()  # the RPC ended: nothing will be sent any more
        self.assertTrue(flushed.wait(2))


class GrpcCommandLineTest(unittest.TestCase):
    """No grpcio needed: what happens before the server starts."""

    def run_worker(self, args, env=None):
        full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([p for p in (env or {}).get("PYTHONPATH", "").split(os.pathsep) if p] + [PYTHON_DIR]),
                        SNAKEPIT_AGENT_PID=str(os.getpid()))
        # stdin stays open (its EOF would end the worker before it gets anywhere).
        stdin_r, stdin_w = os.pipe()
        try:
            return subprocess.run([sys.executable, "-m", "snakepit"] + args, env=full_env, stdin=stdin_r,
                                  capture_output=True, text=True, timeout=30)
        finally:
            os.close(stdin_r)
            os.close(stdin_w)

    def test_without_grpcio_exits_3_saying_what_to_install(self):
        fake = tempfile.mkdtemp(prefix="sp-nogrpc-")
        try:
            os.mkdir(os.path.join(fake, "grpc"))
            with open(os.path.join(fake, "grpc", "__init__.py"), "w") as f:
                f.write("raise ImportError(\"No module named 'grpc'\")\n")
            r = self.run_worker(["--transport", "grpc", "--listen", "unix:%s/w.sock" % fake], env={"PYTHONPATH": fake})
        finally:
            shutil.rmtree(fake, ignore_errors=True)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("the gRPC worker transport needs grpcio: install python3-grpcio or `pip install grpcio`", r.stderr)

    def test_usage_errors(self):
        for args in (["--transport", "grpc"], ["--transport", "carrier-pigeon"], ["--listen", "unix:/tmp/x.sock"]):
            r = self.run_worker(args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage:", r.stderr)

    def test_the_pipe_runtime_never_imports_grpc(self):
        r = subprocess.run([sys.executable, "-c", "import sys, snakepit.worker, snakepit.executor, snakepit.__main__; "
                            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google')))"],
                           env=dict(os.environ, PYTHONPATH=PYTHON_DIR), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), "[]", r.stderr)


if __name__ == "__main__":
    unittest.main()
