"""End to end: spawn the real worker (`python -m snakepit`) on pipes at fds 3/4 and drive it."""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from snakepit import __version__
from snakepit.protocol import CANCEL, CHUNK, END, ERROR, LOG, PING, PONG, RESULT, SHUTDOWN

from .harness import PYTHON_DIR, Worker

EXTRA_TOOLS = '''
import asyncio
import time
from snakepit import Context, ToolError, tool


@tool
def slow_stream(ctx: Context, n: int = 1000):
    """Yield n integers, one every 10 ms."""
    try:
        for i in range(n):
            time.sleep(0.01)
            yield i
    finally:
        print("slow_stream closed", flush=True)


@tool
def bad_result():
    return {1, 2}


@tool
def bad_chunk():
    yield 1
    yield object()


@tool
def stream_fails():
    yield 1
    raise RuntimeError("mid-stream")


@tool
def missing_thing():
    raise ToolError("NOT_FOUND", "no such thing")


@tool
async def async_add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@tool
async def async_sleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@tool
async def async_stream(n: int):
    for i in range(n):
        await asyncio.sleep(0)
        yield {"i": i}


@tool(stream=True)
def list_stream():
    return ["a", "b"]


@tool
def posonly(a: int, /, b: int = 10) -> int:
    return a * b


@tool
def takes_kwargs(**kw):
    return kw


@tool
def exits():
    raise SystemExit(5)


@tool
def blob_size(data: bytes) -> int:
    return len(data)
'''


def setUpModule():
    global TMP, EXTRA
    TMP = tempfile.mkdtemp(prefix="snakepit-test-")
    EXTRA = os.path.join(TMP, "extra_tools.py")
    with open(EXTRA, "w") as f:
        f.write(textwrap.dedent(EXTRA_TOOLS))


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def write_module(name, source):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(source))
    return path


class DemoWorkerTest(unittest.TestCase):
    """One demo worker shared by tests that each finish their own calls."""

    @classmethod
    def setUpClass(cls):
        cls.w = Worker(env={"SNAKEPIT_WORKER_ID": "w-7"})

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def test_ready(self):
        ready = self.w.ready
        self.assertEqual(ready.id, 0)
        self.assertEqual(ready.head, {})
        info = ready.value
        self.assertEqual(info["pid"], self.w.proc.pid)
        self.assertEqual(info["python"], sys.version.split()[0])
        self.assertEqual(info["runtime"], __version__)
        self.assertEqual(info["module"], "snakepit.demo")
        self.assertEqual(info["threads"], 1)
        self.assertEqual({t["name"] for t in info["tools"]}, {
            "add", "echo", "greet", "stats", "tokens", "counter", "fail", "sleep", "whoami",
            "reverse_bytes", "noisy", "optional"})
        self.assertTrue(all(t["doc"] for t in info["tools"]))
        tokens = [t for t in info["tools"] if t["name"] == "tokens"][0]
        self.assertTrue(tokens["stream"])
        self.assertEqual([p["name"] for p in tokens["params"]], ["text"])

    def test_call_result(self):
        frame = self.w.roundtrip("add", {"a": 2, "b": 40})
        self.assertEqual((frame.kind, frame.head, frame.raw_payload), (RESULT, {}, b"42"))
        self.assertEqual(self.w.roundtrip("greet", {"name": "Ada", "excited": True}).value, "Hello, Ada!")
        self.assertEqual(self.w.roundtrip("stats", {"values": [1, 2, 3.5]}).value,
                         {"count": 3, "mean": 6.5 / 3, "min": 1, "max": 3.5})
        self.assertEqual(self.w.roundtrip("optional", {"x": 3, "label": "k"}).value, "k=3")
        self.assertEqual(self.w.roundtrip("optional").value, "n=None")
        self.assertEqual(self.w.roundtrip("whoami", session="s").value,
                         {"pid": self.w.proc.pid, "worker_id": "w-7", "session_id": "s"})

    def test_none_result_is_null(self):
        self.assertEqual(self.w.roundtrip("echo").raw_payload, b"null")

    def test_echo_json_unicode_and_bytes(self):
        value = {"s": "héllo 日本 🐍", "n": [1, 2.5, None, True, {"deep": [b"\x00\xff", "x"]}],
                 "raw": bytes(range(256)), "empty": b""}
        frame = self.w.roundtrip("echo", {"value": value})
        self.assertEqual(frame.kind, RESULT)
        self.assertEqual(frame.value, value)
        self.assertEqual(self.w.roundtrip("reverse_bytes", {"data": b"abc"}).value, b"cba")

    def test_large_frames_both_ways(self):
        blob = os.urandom(5 * 1024 * 1024)
        frame = self.w.roundtrip("echo", {"value": {"blob": blob, "text": "ü" * 600000}})
        self.assertEqual(frame.value, {"blob": blob, "text": "ü" * 600000})

    def test_invalid_arguments(self):
        cases = [
            ({"a": "x", "b": 1}, 'parameter \'a\': expected integer, got string ("x")'),
            ({"a": 1}, "missing required parameter 'b'"),
            ({"a": 1, "b": 2, "c": 3}, "unknown parameter 'c' (tool 'add' takes: a, b)"),
            ({"a": True, "b": 1}, "parameter 'a': expected integer, got boolean (true)"),
        ]
        for args, message in cases:
            frame = self.w.roundtrip("add", args)
            self.assertEqual((frame.kind, frame.value), (ERROR, {"code": "INVALID_ARGUMENTS", "message": message}))

    def test_tool_not_found(self):
        frame = self.w.roundtrip("nope")
        self.assertEqual(frame.kind, ERROR)
        self.assertEqual(frame.value["code"], "TOOL_NOT_FOUND")
        self.assertIn("'nope'", frame.value["message"])

    def test_python_exception_with_traceback(self):
        frame = self.w.roundtrip("fail", {"message": "kaput"})
        self.assertEqual(frame.kind, ERROR)
        err = frame.value
        self.assertEqual((err["code"], err["type"], err["message"]), ("PYTHON_EXCEPTION", "ValueError", "kaput"))
        self.assertTrue(err["traceback"].startswith("Traceback (most recent call last):"))
        self.assertIn("demo.py", err["traceback"])
        self.assertIn("raise ValueError(message)", err["traceback"])
        self.assertTrue(err["traceback"].rstrip().endswith("ValueError: kaput"))

    def test_streaming(self):
        cid = self.w.call("tokens", {"text": "the quick  brown\tfox"})
        frames = self.w.collect(cid)
        self.assertEqual([f.kind for f in frames], [CHUNK] * 4 + [END])
        self.assertEqual([f.value for f in frames[:4]], [
            {"token": "the", "index": 0}, {"token": "quick", "index": 1},
            {"token": "brown", "index": 2}, {"token": "fox", "index": 3}])
        self.assertEqual(frames[-1].raw_payload, b"")
        self.assertEqual([f.kind for f in self.w.collect(self.w.call("tokens", {"text": ""}))], [END])

    def test_session_counter(self):
        self.assertEqual(self.w.roundtrip("counter", session="A").value, 1)
        self.assertEqual(self.w.roundtrip("counter", {"step": 5}, session="A").value, 6)
        self.assertEqual(self.w.roundtrip("counter", session="B").value, 1)
        self.assertEqual(self.w.roundtrip("counter", session="A").value, 7)
        self.assertEqual(self.w.roundtrip("counter").value, 1)  # no session: fresh dict
        self.assertEqual(self.w.roundtrip("counter").value, 1)

    def test_cancel_sleep(self):
        start = time.monotonic()
        cid = self.w.call("sleep", {"seconds": 30})
        time.sleep(0.05)
        self.w.send(CANCEL, cid)
        frame = self.w.collect(cid, timeout=5)[0]
        self.assertEqual(frame.kind, RESULT)  # a plain tool that returns answers RESULT
        self.assertLess(frame.value, 5)
        self.assertLess(time.monotonic() - start, 5)

    def test_cancel_unknown_id_is_ignored(self):
        self.w.send(CANCEL, 987654)
        self.assertEqual(self.w.roundtrip("add", {"a": 1, "b": 1}).value, 2)

    def test_cancel_before_start(self):
        busy = self.w.call("sleep", {"seconds": 0.3})
        queued = self.w.call("add", {"a": 1, "b": 2})
        self.w.send(CANCEL, queued)
        self.assertEqual(self.w.collect(busy)[0].kind, RESULT)
        frame = self.w.collect(queued)[0]
        self.assertEqual((frame.kind, frame.value["code"]), (ERROR, "CANCELLED"))

    def test_timeout(self):
        frame = self.w.roundtrip("add", {"a": 1, "b": 2}, timeout_ms=0)
        self.assertEqual((frame.kind, frame.value["code"]), (ERROR, "TIMEOUT"))
        busy = self.w.call("sleep", {"seconds": 0.3})
        late = self.w.call("add", {"a": 1, "b": 2}, timeout_ms=50)  # expires while queued
        self.w.collect(busy)
        self.assertEqual(self.w.collect(late)[0].value["code"], "TIMEOUT")
        frame = self.w.roundtrip("sleep", {"seconds": 5}, timeout_ms=100)  # ctx.cancelled at the deadline
        self.assertEqual(frame.kind, RESULT)
        self.assertLess(frame.value, 1)
        self.assertEqual(self.w.roundtrip("add", {"a": 1, "b": 2}, timeout_ms=5000).value, 3)

    def test_ping_while_a_tool_runs(self):
        cid = self.w.call("sleep", {"seconds": 0.4})
        time.sleep(0.05)
        sent = time.monotonic()
        self.w.send(PING, 4242)
        pong = self.w.recv(timeout=5)
        self.assertEqual((pong.kind, pong.id, pong.raw_payload), (PONG, 4242, b""))
        self.assertLess(time.monotonic() - sent, 0.3)
        self.assertEqual(self.w.collect(cid)[0].kind, RESULT)

    def test_printing_and_logging_never_corrupt_frames(self):
        cid = self.w.call("noisy")
        frames = self.w.collect(cid)
        self.assertEqual([f.kind for f in frames], [LOG, RESULT])
        log = frames[0]
        self.assertEqual(log.id, cid)
        self.assertEqual(log.head, {"level": "info", "logger": "snakepit.tool.noisy"})
        self.assertEqual(log.value, "noisy: a log record for call %d" % cid)
        self.assertEqual(frames[1].value, "ok")
        self.assertEqual(self.w.roundtrip("add", {"a": 1, "b": 1}).value, 2)
        self.assertIn("noisy: a line on stdout\n", self.w.out())
        self.assertIn("noisy: a line on stderr\n", self.w.err())


class ExtraToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = Worker(["--tools", EXTRA])

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def test_module_name_from_file(self):
        self.assertEqual(self.w.ready.value["module"], "extra_tools")

    def test_cancel_stream_closes_the_generator(self):
        cid = self.w.call("slow_stream")
        first = self.w.recv()
        self.assertEqual((first.kind, first.value), (CHUNK, 0))
        self.w.send(CANCEL, cid)
        frames = self.w.collect(cid)
        self.assertTrue(all(f.kind == CHUNK for f in frames[:-1]))
        self.assertEqual((frames[-1].kind, frames[-1].value["code"]), (ERROR, "CANCELLED"))
        self.assertEqual(self.w.roundtrip("posonly", {"a": 2}).value, 20)  # still serving
        self.assertIn("slow_stream closed", self.w.out())

    def test_stream_deadline(self):
        frames = self.w.collect(self.w.call("slow_stream", timeout_ms=80))
        self.assertGreater(len(frames), 1)
        self.assertEqual((frames[-1].kind, frames[-1].value["code"]), (ERROR, "TIMEOUT"))

    def test_unserialisable_values(self):
        frame = self.w.roundtrip("bad_result")
        self.assertEqual((frame.value["code"], frame.value["type"]), ("PYTHON_EXCEPTION", "TypeError"))
        self.assertIn("'bad_result'", frame.value["message"])
        self.assertIn("set", frame.value["message"])
        frames = self.w.collect(self.w.call("bad_chunk"))
        self.assertEqual([f.kind for f in frames], [CHUNK, ERROR])
        self.assertEqual(frames[1].value["type"], "TypeError")
        self.assertIn("'bad_chunk' yielded", frames[1].value["message"])

    def test_exception_mid_stream(self):
        frames = self.w.collect(self.w.call("stream_fails"))
        self.assertEqual([f.kind for f in frames], [CHUNK, ERROR])
        self.assertEqual((frames[1].value["type"], frames[1].value["message"]), ("RuntimeError", "mid-stream"))
        self.assertIn("extra_tools.py", frames[1].value["traceback"])

    def test_tool_error_picks_the_code(self):
        frame = self.w.roundtrip("missing_thing")
        self.assertEqual(frame.value, {"code": "NOT_FOUND", "message": "no such thing"})

    def test_system_exit_does_not_kill_the_worker(self):
        self.assertEqual(self.w.roundtrip("exits").value["type"], "SystemExit")
        self.assertEqual(self.w.roundtrip("posonly", {"a": 3, "b": 3}).value, 9)

    def test_async_tools(self):
        self.assertEqual(self.w.roundtrip("async_add", {"a": 1, "b": 2}).value, 3)
        frames = self.w.collect(self.w.call("async_stream", {"n": 3}))
        self.assertEqual([f.value for f in frames], [{"i": 0}, {"i": 1}, {"i": 2}, None])
        self.assertEqual(frames[-1].kind, END)
        cid = self.w.call("async_sleep", {"seconds": 30})
        time.sleep(0.05)
        self.w.send(CANCEL, cid)
        frame = self.w.collect(cid, timeout=5)[0]
        self.assertEqual((frame.kind, frame.value["code"]), (ERROR, "CANCELLED"))
        frame = self.w.roundtrip("async_sleep", {"seconds": 30}, timeout_ms=50)
        self.assertEqual((frame.kind, frame.value["code"]), (ERROR, "TIMEOUT"))

    def test_stream_by_flag_and_kwargs(self):
        frames = self.w.collect(self.w.call("list_stream"))
        self.assertEqual([(f.kind, f.value) for f in frames], [(CHUNK, "a"), (CHUNK, "b"), (END, None)])
        self.assertEqual(self.w.roundtrip("takes_kwargs", {"x": 1, "y": [2]}).value, {"x": 1, "y": [2]})

    def test_blob_arguments(self):
        self.assertEqual(self.w.roundtrip("blob_size", {"data": os.urandom(2_000_000)}).value, 2_000_000)


class LifecycleTest(unittest.TestCase):
    def test_threads(self):
        with Worker(["--threads", "2"]) as w:
            self.assertEqual(w.ready.value["threads"], 2)
            start = time.monotonic()
            a = w.call("sleep", {"seconds": 0.3})
            b = w.call("sleep", {"seconds": 0.3})
            w.collect(a)
            w.collect(b)
            self.assertLess(time.monotonic() - start, 0.55)

    def test_many_calls_in_flight_on_threads(self):
        with Worker(["--threads", "3"]) as w:
            expected = {}
            for i in range(300):  # small frames: the whole batch fits in the pipe buffer
                kind = i % 4
                if kind == 0:
                    expected[w.call("add", {"a": i, "b": 1})] = [(RESULT, i + 1)]
                elif kind == 1:
                    expected[w.call("tokens", {"text": "x%d y" % i})] = [
                        (CHUNK, {"token": "x%d" % i, "index": 0}), (CHUNK, {"token": "y", "index": 1}), (END, None)]
                elif kind == 2:
                    expected[w.call("reverse_bytes", {"data": b"ab%d" % i})] = [(RESULT, (b"ab%d" % i)[::-1])]
                else:
                    expected[w.call("counter", session="pipelined")] = None  # value depends on order
            got = {cid: [] for cid in expected}
            done = 0
            while done < len(expected):
                frame = w.recv()
                got[frame.id].append((frame.kind, frame.value))
                done += frame.kind in (RESULT, END, ERROR)
            counters = []
            for cid, frames in got.items():
                if expected[cid] is None:
                    counters.append(frames[0][1])
                else:
                    self.assertEqual(frames, expected[cid])
            self.assertEqual(sorted(counters), list(range(1, 76)))

    def test_shutdown_finishes_in_flight_calls(self):
        with Worker() as w:
            cid = w.call("sleep", {"seconds": 0.2})
            queued = w.call("add", {"a": 1, "b": 2})
            w.send(SHUTDOWN)
            late = w.call("add", {"a": 1, "b": 2})
            self.assertEqual(w.collect(late)[0].value, {"code": "CANCELLED", "message": "worker is shutting down"})
            self.assertEqual(w.collect(cid)[0].kind, RESULT)
            self.assertEqual(w.collect(queued)[0].value, 3)
            self.assertEqual(w.wait(), 0)
            with self.assertRaises(EOFError):
                w.recv()

    def test_eof_on_fd3_is_shutdown(self):
        with Worker() as w:
            cid = w.call("sleep", {"seconds": 0.2})
            os.close(w.to_child)
            self.assertEqual(w.collect(cid)[0].kind, RESULT)
            self.assertEqual(w.wait(), 0)

    def test_stdin_eof_ends_the_worker(self):
        with Worker() as w:
            w.call("sleep", {"seconds": 30})
            w.proc.stdin.close()
            self.assertEqual(w.wait(timeout=5), 0)

    @unittest.skipUnless(sys.platform.startswith("linux"), "PR_SET_PDEATHSIG is Linux-only")
    def test_worker_dies_with_its_agent(self):
        # An intermediate "agent" starts a worker with stdin on /dev/null and a long call in
        # flight (so neither stdin EOF nor fd-3 EOF can end it quickly: only the parent-death
        # signal can), reports the worker's pid, then is SIGKILLed.
        agent_code = textwrap.dedent('''
            import sys, time
            sys.path.insert(0, %r)
            from tests.harness import Worker
            w = Worker(stdin=False)
            w.call("sleep", {"seconds": 60})
            print(w.proc.pid, flush=True)
            time.sleep(60)
        ''' % PYTHON_DIR)
        agent = subprocess.Popen([sys.executable, "-c", agent_code], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        worker_pid = None
        try:
            worker_pid = int(agent.stdout.readline())
            agent.kill()
            agent.wait(10)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(worker_pid):
                time.sleep(0.02)
            self.assertFalse(_alive(worker_pid), "worker outlived its agent")
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(10)
            agent.stdout.close()
            if worker_pid is not None and _alive(worker_pid):
                os.kill(worker_pid, 9)

    def test_agent_gone_at_start(self):
        with Worker(env={"SNAKEPIT_AGENT_PID": "1"}, wait_ready=False) as w:
            self.assertEqual(w.wait(), 1)
            self.assertIn("not our parent", w.err())

    def test_import_error_exits_3_with_traceback(self):
        path = write_module("broken_tools.py", '''
            from snakepit import tool
            import this_module_does_not_exist_anywhere
        ''')
        with Worker(["--tools", path], wait_ready=False) as w:
            self.assertEqual(w.wait(), 3)
            with self.assertRaises(EOFError):
                w.recv()
            err = w.err()
            self.assertIn("Traceback (most recent call last)", err)
            self.assertIn("this_module_does_not_exist_anywhere", err)

    def test_sigusr1_prints_where_a_hanging_import_is_stuck(self):
        path = write_module("hanging_tools.py", '''
            import threading
            from snakepit import tool

            def wait_forever():
                threading.Event().wait()

            wait_forever()
        ''')
        with Worker(["--tools", path], wait_ready=False) as w:
            time.sleep(1.0)  # past interpreter start-up: the handler is armed before the import
            deadline = time.monotonic() + 10
            while "hanging_tools.py" not in w.err() and time.monotonic() < deadline:
                self.assertIsNone(w.proc.poll(), w.err())
                os.kill(w.proc.pid, signal.SIGUSR1)
                time.sleep(0.2)
            err = w.err()
            self.assertIn("(most recent call first)", err)
            self.assertIn('hanging_tools.py", line 6 in wait_forever', err)
            self.assertIn('hanging_tools.py", line 8 in <module>', err)
            self.assertIsNone(w.proc.poll())  # it prints and carries on; the agent kills it

    def test_module_without_tools_exits_3(self):
        path = write_module("no_tools.py", "X = 1\n")
        with Worker(["--tools", path], wait_ready=False) as w:
            self.assertEqual(w.wait(), 3)
            self.assertIn("'no_tools'", w.err())
            self.assertIn("defines no tools", w.err())

    def test_threads_need_a_thread_safe_module(self):
        path = write_module("unsafe_tools.py", '''
            from snakepit import tool

            @tool
            def hello() -> str:
                return "hi"
        ''')
        with Worker(["--tools", path, "--threads", "2"], wait_ready=False) as w:
            self.assertEqual(w.wait(), 3)
            self.assertIn("SNAKEPIT_THREAD_SAFE = True", w.err())
        with Worker(["--tools", path]) as w:
            self.assertEqual(w.ready.value["threads"], 1)

    def test_importable_module_name(self):
        write_module("named_mod.py", '''
            from snakepit import tool

            @tool
            def hello() -> str:
                return "hi"
        ''')
        with Worker(["--tools", "named_mod"], env={"PYTHONPATH": PYTHON_DIR + os.pathsep + TMP}) as w:
            self.assertEqual(w.ready.value["module"], "named_mod")
            self.assertEqual(w.roundtrip("hello").value, "hi")

    def test_protocol_error_exits_4(self):
        with Worker() as w:
            w.send(0, raw=struct.pack(">I", 64 * 1024 * 1024 + 1))
            self.assertEqual(w.wait(), 4)
            self.assertIn("protocol error", w.err())


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *args):
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        return subprocess.run([sys.executable, "-m", "snakepit"] + list(args), env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)

    def test_check(self):
        done = self.run_cli("--check")
        self.assertEqual(done.returncode, 0)
        self.assertEqual(json.loads(done.stdout), {
            "runtime": __version__, "python": sys.version.split()[0], "executable": sys.executable})

    def test_describe(self):
        done = self.run_cli("--describe", "--tools", EXTRA)
        self.assertEqual(done.returncode, 0, done.stderr)
        names = [t["name"] for t in json.loads(done.stdout)["tools"]]
        self.assertIn("slow_stream", names)

    def test_not_started_by_an_agent(self):
        done = self.run_cli()
        self.assertEqual(done.returncode, 2)
        self.assertIn("this is a worker process; it is started by the snakepit agent", done.stderr)

    def test_usage_errors(self):
        self.assertEqual(self.run_cli("--threads", "0").returncode, 2)
        self.assertEqual(self.run_cli("--bogus").returncode, 2)


def _alive(pid):
    """True while pid exists and is not a zombie (an orphaned worker is reaped by init)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
