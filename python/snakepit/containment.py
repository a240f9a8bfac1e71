"""Containment of a worker's descendants, so that a tool's child that escapes (double fork into
its own session, a scrubbed environment) is still found and killed.

The agent chooses (src/agent/containment.ts) and tells us through the environment:
- SNAKEPIT_CGROUP=DIR: a cgroup made for this worker. We join it before any tool code runs, so
  every descendant is born inside it; the agent (or `doctor cleanup`) kills what is left in it.
- SNAKEPIT_SUBREAPER=1: no usable cgroup on this machine. We become a child subreaper
  (PR_SET_CHILD_SUBREAPER), so orphaned descendants re-parent to this process instead of init,
  and we kill all of them whenever this process leaves (SIGTERM, the agent's death, shutdown).
  Not covered: a SIGKILL of the worker itself (nothing runs then) leaves them to init.
Stdlib only (ctypes).
"""

import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
# How long descendants get after SIGTERM before SIGKILL when the worker leaves.
TERM_GRACE_S = 0.3

_subreaper = False


def contain():
    """Apply what the agent asked for; never fails the worker (problems go to stderr)."""
    global _subreaper
    path = os.environ.get("SNAKEPIT_CGROUP")
    if path:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            return
        except OSError as exc:
            sys.stderr.write("snakepit worker: could not join cgroup %s (%s); using a child subreaper instead\n" % (path, exc))
    elif os.environ.get("SNAKEPIT_SUBREAPER") != "1":
        return
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    except Exception as exc:
        sys.stderr.write("snakepit worker: cannot become a child subreaper (%s); escaped descendants are not contained\n" % (exc,))
        return
    _subreaper = True
    try:
        signal.signal(signal.SIGTERM, _on_term)
    except ValueError:  # not the main thread
        pass


def before_exit():
    """Kill every descendant if we are their subreaper (called on every way out)."""
    if _subreaper:
        kill_descendants()


def descendants():
    """Pids below this process, from /proc/PID/task/TID/children (orphans re-parent to us)."""
    found = []
    stack = [os.getpid()]
    seen = set(stack)
    while stack:
        pid = stack.pop()
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    kids = [int(p) for p in f.read().split()]
            except (OSError, ValueError):
                continue
            for kid in kids:
                if kid not in seen:
                    seen.add(kid)
                    found.append(kid)
                    stack.append(kid)
    return found


def _living(pids):
    alive = []
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2:][:1] != "Z":
            alive.append(pid)
    return alive


def kill_descendants():
    """SIGTERM every descendant, SIGKILL what is left after TERM_GRACE_S; again for late forks."""
    for _ in range(3):
        kids = _living(descendants())
        if not kids:
            return
        _signal_all(kids, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_S
        while _living(kids) and time.monotonic() < deadline:
            time.sleep(0.01)
        _signal_all(_living(descendants()), signal.SIGKILL)


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _on_term(signum, frame):
    kill_descendants()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # die of the signal, as without the handler
