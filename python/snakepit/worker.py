"""The worker process: start-up checks, READY, the fd-3 frame reader, and shutdown.

Why this module exists: it owns the process-level rules of docs/worker-protocol.md (fds 3/4/5,
never outliving the agent, exit codes) and the reader threads; running calls is executor.py's
job. With the control pipe (fd 5: PING and CANCEL, read by a small control thread) and one call
thread, the main thread runs each CALL inline as it reads it: no hand-off between threads per
call, which measured as the largest cost of a tiny call. Exit codes: 0 normal, 2 not started by an agent (fds 3/4 missing), 3 tool module failed
to import / has no tools, 4 protocol error on fd 3, 1 agent already gone at start-up.
The transport-independent part (Worker, start_process, load_tools) is shared with the gRPC
transport (grpc_transport.py).
"""

import os
import queue
import signal
import stat
import sys
import threading
import time

from . import __version__, containment, logs, protocol
from .executor import Executor, new_context
from .protocol import PayloadEncoder
from .protocol import CALL, CANCEL, PING, SHUTDOWN, encode_value

IN_FD = 3
OUT_FD = 4
CONTROL_FD = 5
# The agent's "where are you stuck?" signal (docs/worker-protocol.md, "Worker command line").
STACKS_SIGNAL = signal.SIGUSR1
# CANCELs that arrived before their CALL was read; cleared if it ever grows this large (only a
# CANCEL racing its call's answer can leave an entry behind).
MAX_EARLY_CANCELS = 4096
# Under glibc's mmap threshold (128 KiB): larger reads map and unmap memory on every call.
READ_SIZE = 64 * 1024
NOT_A_WORKER = ("snakepit: this is a worker process; it is started by the snakepit agent "
                "(file descriptors 3 and 4 must be the agent's pipes)\n")


def serve(spec=None, threads=1):
    """Run the worker on pipes (fds 3/4) until SHUTDOWN / EOF; never returns."""
    start_process(pipes=True)
    module_name, tools = load_tools(spec, threads)
    PipeWorker(module_name, tools, threads).run()


def start_process(pipes):
    """The process-lifetime rules shared by every transport: never outlive the agent (exit 1 if
    it is already gone), watch stdin for EOF, line-buffered logs, Ctrl-C left to the agent.
    `pipes`: also insist on fds 3/4 (exit 2 without them)."""
    _guard_parent()
    containment.contain()  # before any tool code runs: its descendants must be born contained
    if pipes:
        _check_fds()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError, OSError):
            pass
    _watch_stdin()
    signal.signal(signal.SIGINT, _ignore_signal)  # Ctrl-C reaches the agent, which shuts us down


def load_tools(spec, threads):
    """Import the tool module: (module_name, tools), or exit 3 with the reason on stderr."""
    _dump_stacks_on(STACKS_SIGNAL)
    from . import loader
    try:
        loaded = loader.load(spec, threads)
        logs.bridge_root_logging()  # the tool module imported logging: its records get their levels
        return loaded
    except loader.LoadError as exc:
        sys.stderr.write("snakepit worker: %s\n" % exc)
        _exit(3)
    except BaseException:
        import traceback
        sys.stderr.write("snakepit worker: importing the tool module %r failed:\n" % (spec or loader.DEFAULT_MODULE))
        traceback.print_exc()
        _exit(3)


class Worker:
    """What every transport shares: call threads, the in-flight calls, READY, draining.

    A transport feeds it CALL / CANCEL / SHUTDOWN (on_call, on_cancel, on_shutdown), answers PING
    with sink.pong, and implements finish() (flush its output before the process exits).
    """

    def __init__(self, module_name, tools, threads, sink):
        self.module_name = module_name
        self.tool_list = tools
        self.threads = max(1, int(threads))
        self.sink = sink
        self.inflight = {}
        self.queue = queue.SimpleQueue()
        self.max_frame = _env_int("SNAKEPIT_MAX_FRAME_BYTES", protocol.MAX_FRAME)
        self.worker_id = os.environ.get("SNAKEPIT_WORKER_ID") or None
        self.executor = Executor({t.name: t for t in tools}, sink, self.inflight, self.max_frame)
        self.closing = False
        self.call_threads = []
        self.early_cancels = set()

    def start_threads(self):
        logs.set_sink(self._send_log)
        for i in range(self.threads):
            t = threading.Thread(target=self.executor.thread_main, args=(self.queue,),
                                 name="snakepit-call-%d" % i, daemon=True)
            t.start()
            self.call_threads.append(t)

    def ready_payload(self):
        """UTF-8 JSON of the READY payload."""
        return encode_value({
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "runtime": __version__,
            "module": self.module_name,
            "threads": self.threads,
            "tools": [t.description for t in self.tool_list],
        })[0]

    def on_call(self, cid, head, payload, blobs, now):
        """Queue a CALL (head: JSON bytes or an already-decoded dict)."""
        if self.closing:
            self.sink.error(cid, "CANCELLED", "worker is shutting down")
            return
        ctx = new_context(cid, self.worker_id, now, head, payload, blobs)
        self.inflight[cid] = ctx
        self._cancel_if_early(ctx)
        self.queue.put(ctx)

    def on_cancel(self, cid):
        ctx = self.inflight.get(cid)
        if ctx is not None:
            ctx.cancel()
            return
        # The CALL is not read yet (it may still sit in fd 3): remember, then look again, so that
        # whichever thread comes second sees the other's step.
        early = self.early_cancels
        if len(early) >= MAX_EARLY_CANCELS:
            early.clear()
        early.add(cid)
        ctx = self.inflight.get(cid)
        if ctx is not None:
            ctx.cancel()

    def _cancel_if_early(self, ctx):
        early = self.early_cancels
        if early and ctx.call_id in early:
            early.discard(ctx.call_id)
            ctx.cancel()

    def on_shutdown(self):
        if not self.closing:
            self.closing = True
            threading.Thread(target=self.drain_and_exit, name="snakepit-shutdown", daemon=True).start()

    def drain_and_exit(self):
        """Let queued and running calls finish, flush their answers, then exit 0."""
        self.closing = True
        for _ in self.call_threads:
            self.queue.put(None)
        for t in self.call_threads:
            t.join()
        self.finish()
        _exit(0)

    def finish(self):
        """Transport hook: make sure everything sent so far reaches the agent."""

    def _send_log(self, call_id, level, logger_name, message):
        try:
            self.sink.log(call_id, level, logger_name, message)
        except OSError:
            pass


class PipeWorker(Worker):
    """The pipe transport: frames in on fd 3, out on fd 4."""

    def __init__(self, module_name, tools, threads):
        self.writer = protocol.FrameWriter(OUT_FD)
        Worker.__init__(self, module_name, tools, threads, protocol.FrameSink(self.writer))

    def run(self):
        control = _open_control()
        inline = control is not None and self.threads == 1
        if inline:
            logs.set_sink(self._send_log)
        else:
            self.start_threads()
        try:
            self.sink.ready(self.ready_payload())
        except OSError:  # fd 4 closed: the agent is gone
            _exit(0)
        if control is not None:
            threading.Thread(target=self._control_loop, args=(control,), name="snakepit-control", daemon=True).start()
        if inline:
            self._read_loop(inline=True)
            self.finish()
            _exit(0)
        self._read_loop()
        self.drain_and_exit()  # EOF on fd 3: same as SHUTDOWN

    def _control_loop(self, fd):
        """PING and CANCEL from the control pipe, answered even while a call runs."""
        feed = protocol.FrameReader(self.max_frame).feed
        sink = self.sink
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return  # the agent is gone: stdin EOF / PDEATHSIG end the process
            try:
                frames = feed(data)
            except protocol.ProtocolError as exc:
                sys.stderr.write("snakepit worker: protocol error on fd %d: %s\n" % (fd, exc))
                _exit(4)
            try:
                for kind, cid, _head, _payload, _blobs in frames:
                    if kind == PING:
                        sink.pong(cid)
                    elif kind == CANCEL:
                        self.on_cancel(cid)
                    else:
                        sys.stderr.write("snakepit worker: ignoring frame kind %d on the control pipe\n" % kind)
            except OSError:
                _exit(0)

    def finish(self):
        # Never cut a frame in half: wait for a write in progress (another thread may still log).
        self.writer.lock.acquire(timeout=5)

    def _read_loop(self, inline=False):
        """Read frames from fd 3 until EOF (or SHUTDOWN when inline). CALLs run right here when
        `inline` (one call at a time, no hand-off), else go to the call threads."""
        read = os.read
        feed = protocol.FrameReader(self.max_frame).feed
        monotonic = time.monotonic
        inflight = self.inflight
        worker_id = self.worker_id
        sink = self.sink
        put = self.queue.put
        run = self.executor.run_safely
        enc = PayloadEncoder()
        cancel_if_early = self._cancel_if_early
        while not (inline and self.closing):
            try:
                data = read(IN_FD, READ_SIZE)
            except OSError as exc:
                sys.stderr.write("snakepit worker: reading fd %d failed: %s\n" % (IN_FD, exc))
                return
            if not data:
                return  # EOF on fd 3: same as SHUTDOWN
            now = monotonic()
            try:
                frames = feed(data)
            except protocol.ProtocolError as exc:
                sys.stderr.write("snakepit worker: protocol error on fd %d: %s\n" % (IN_FD, exc))
                _exit(4)
            try:
                for kind, cid, head, payload, blobs in frames:
                    if kind == CALL:
                        if self.closing:
                            sink.error(cid, "CANCELLED", "worker is shutting down")
                            continue
                        ctx = new_context(cid, worker_id, now, head, payload, blobs)
                        inflight[cid] = ctx
                        cancel_if_early(ctx)
                        if inline:
                            run(ctx, enc)
                        else:
                            put(ctx)
                    elif kind == SHUTDOWN:
                        if inline:
                            self.closing = True  # the calls read before it have run already
                        else:
                            self.on_shutdown()
                    elif kind == PING:
                        sink.pong(cid)
                    elif kind == CANCEL:
                        self.on_cancel(cid)
                    else:
                        sys.stderr.write("snakepit worker: ignoring unexpected frame kind %d (id %d)\n" % (kind, cid))
            except OSError:  # fd 4 closed: the agent is gone
                _exit(0)


# ---------------------------------------------------------------------------- process guards

def _dump_stacks_on(signum):
    """On `signum`, print every thread's Python stack on stderr and carry on (faulthandler, so it
    works even while a C call holds the GIL). Set before the tools module is imported: the agent
    sends it to a worker that is not ready within workerStartTimeoutMs, to report where a module
    that hangs on import is stuck, before it kills the worker."""
    try:
        import faulthandler
        faulthandler.register(signum, file=sys.stderr, all_threads=True)
    except (ImportError, AttributeError, ValueError, OSError, RuntimeError):
        pass  # no faulthandler (or no such signal here): the agent only misses the stacks


def _guard_parent():
    """Die with the agent: PR_SET_PDEATHSIG on Linux, and bail out if it is already gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:
            pass
    agent = os.environ.get("SNAKEPIT_AGENT_PID")
    if agent:
        try:
            agent_pid = int(agent)
        except ValueError:
            return
        if agent_pid != os.getppid():
            sys.stderr.write("snakepit worker: agent pid %s is not our parent (%d); exiting\n"
                             % (agent, os.getppid()))
            _exit(1)


def _check_fds():
    for fd in (IN_FD, OUT_FD):
        try:
            os.fstat(fd)
        except OSError:
            sys.stderr.write(NOT_A_WORKER)
            _exit(2)
    for fd in (IN_FD, OUT_FD):
        try:
            os.set_blocking(fd, True)
            os.set_inheritable(fd, False)  # tool subprocesses must not hold the agent's pipes
        except OSError:
            pass


def _open_control():
    """The control pipe (fd 5) if the agent gave us one, made private to this process."""
    try:
        os.fstat(CONTROL_FD)
    except OSError:
        return None
    try:
        os.set_blocking(CONTROL_FD, True)
        os.set_inheritable(CONTROL_FD, False)  # tool subprocesses must not hold the agent's pipes
    except OSError:
        pass
    return CONTROL_FD


def _watch_stdin():
    """A daemon thread that exits the process when stdin reaches EOF (the agent is gone)."""
    try:
        st = os.fstat(0)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat(os.devnull).st_rdev:
            sys.stderr.write("snakepit worker: stdin is %s, so agent exit cannot be seen on stdin\n" % os.devnull)
            return
    except OSError:
        return

    def watch():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            return
        _exit(0)

    threading.Thread(target=watch, name="snakepit-stdin", daemon=True).start()


def _ignore_signal(signum, frame):
    pass


def _env_int(name, default):
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


def _exit(code):
    """Flush the log streams (best effort) and leave at once, whatever other threads do."""
    containment.before_exit()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
