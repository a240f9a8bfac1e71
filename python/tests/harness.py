"""A minimal stand-in for the agent, used by the end-to-end tests and the benchmark.

Why this module exists: it starts the real worker (`python -m snakepit`) with two os.pipe()s
landing on the child's fds 3 and 4, speaks frames over them with snakepit.protocol, and always
kills the process it started (by the pid it holds) when closed.
"""

import fcntl
import json
import os
import select
import subprocess
import sys
import tempfile
import time

from snakepit import protocol
from snakepit.protocol import CALL, ERROR, END, RESULT, FrameReader, encode_frame, encode_json, encode_value

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERMINAL = (RESULT, ERROR, END)


class Frame:
    __slots__ = ("kind", "id", "head", "value", "raw_payload")

    def __init__(self, kind, cid, head, payload, blobs):
        self.kind = kind
        self.id = cid
        self.head = json.loads(head) if head else {}
        self.raw_payload = payload
        self.value = protocol.decode_value(payload, blobs)

    @property
    def name(self):
        return protocol.KIND_NAMES.get(self.kind, str(self.kind))

    def __repr__(self):
        return "Frame(%s, id=%d, head=%r, value=%r)" % (self.name, self.id, self.head, self.value)


class Worker:
    """Spawn a worker. args are extra command-line arguments (e.g. ["--tools", path])."""

    def __init__(self, args=(), env=None, python=None, stdin=True, wait_ready=True, control=False):
        self.reader = FrameReader()
        self.pending = []
        self.next_id = 1
        self.stdout = tempfile.TemporaryFile()
        self.stderr = tempfile.TemporaryFile()
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # Move the child's ends above fd 10 so dup2() onto 3 and 4 cannot clobber each other.
        child_in = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_child_r)
        os.close(from_child_w)
        # control=True: a control pipe on fd 5 (PING/CANCEL), as the agent gives its workers.
        self.control = None
        child_ctl = None
        if control:
            ctl_r, self.control = os.pipe()
            child_ctl = fcntl.fcntl(ctl_r, fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(ctl_r)

        def preexec():
            os.dup2(child_in, 3)  # dup2 leaves the new fds inheritable
            os.dup2(child_out, 4)
            if child_ctl is not None:
                os.dup2(child_ctl, 5)

        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = PYTHON_DIR
        full_env.setdefault("SNAKEPIT_AGENT_PID", str(os.getpid()))
        full_env.update(env or {})
        self.started = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                [python or sys.executable, "-m", "snakepit"] + list(args),
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=self.stdout, stderr=self.stderr, env=full_env,
                preexec_fn=preexec, close_fds=False)
        finally:
            os.close(child_in)
            os.close(child_out)
            if child_ctl is not None:
                os.close(child_ctl)
        self.ready = None
        self.ready_seconds = None
        if wait_ready:
            try:
                self.ready = self.recv(timeout=20)
                self.ready_seconds = time.perf_counter() - self.started
                if self.ready.kind != protocol.READY:
                    raise AssertionError("expected READY, got %r" % (self.ready,))
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ sending

    def send(self, kind, cid=0, head=None, value=None, raw=None):
        if raw is None:
            head_bytes = encode_json(head) if head else b""
            payload, blobs = (b"", None) if value is None else encode_value(value)
            raw = encode_frame(kind, cid, head_bytes, payload, blobs)
        view = memoryview(raw)
        while view:
            view = view[os.write(self.to_child, view):]

    def send_control(self, kind, cid):
        """PING / CANCEL on the control pipe (fd 5)."""
        raw = encode_frame(kind, cid)
        view = memoryview(raw)
        while view:
            view = view[os.write(self.control, view):]

    def call(self, tool, args=None, cid=None, session=None, timeout_ms=None):
        if cid is None:
            cid = self.next_id
            self.next_id += 1
        self.send(CALL, cid, {"tool": tool, "session": session, "timeoutMs": timeout_ms},
                  {} if args is None else args)
        return cid

    # ------------------------------------------------------------------ receiving

    def recv(self, timeout=10.0):
        """The next frame; raises EOFError if the worker closed fd 4, TimeoutError on timeout."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                raise TimeoutError("no frame from the worker within %.1fs; stderr:\n%s" % (timeout, self.err()))
            data = os.read(self.from_child, 1 << 20)
            if not data:
                raise EOFError("worker closed fd 4")
            self.pending.extend(Frame(*f) for f in self.reader.feed(data))
        return self.pending.pop(0)

    def collect(self, cid, timeout=10.0):
        """Frames for cid up to and including its terminal frame; others stay pending."""
        got = []
        others = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                frame = self.recv(max(0.0, deadline - time.monotonic()))
                if frame.id != cid:
                    others.append(frame)
                    continue
                got.append(frame)
                if frame.kind in TERMINAL:
                    return got
        finally:
            self.pending[:0] = others

    def roundtrip(self, tool, args=None, **kw):
        """Call a plain tool and return its single terminal frame."""
        frames = self.collect(self.call(tool, args, **kw))
        assert len(frames) == 1, frames
        return frames[0]

    # ------------------------------------------------------------------ process

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def out(self):
        self.stdout.seek(0)
        return self.stdout.read().decode("utf-8", "replace")

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def close(self):
        """Kill the worker we started (by its Popen pid) and release every fd."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.to_child, self.from_child, self.control):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stdin:
            self.proc.stdin.close()
        self.stdout.close()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
