"""Measure worker start-to-READY time and tiny-call round trips per second (one call in flight).

Why this file exists: to report numbers, not to assert them (it is not a test_*.py module).
Run from the repo root:  python3 python/tests/bench_worker.py [--python EXE] [--calls N]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from snakepit.protocol import CALL, RESULT, FrameReader, encode_frame, encode_json  # noqa: E402
from tests.harness import Worker  # noqa: E402


def start_times(python, runs, env):
    times = []
    for _ in range(runs):
        with Worker(python=python, env=env) as w:
            times.append(w.ready_seconds * 1000)
    return times


def raw_round_trips(w, n):
    """Pre-encoded CALL add(1, 2), blocking reads: measures the worker + pipes, not the driver."""
    frame = encode_frame(CALL, 1, encode_json({"tool": "add", "session": None, "timeoutMs": None}), b'{"a":1,"b":2}')
    out, inp = w.to_child, w.from_child
    reader = FrameReader()
    write, read, feed = os.write, os.read, reader.feed
    start = time.perf_counter()
    for _ in range(n):
        write(out, frame)
        got = feed(read(inp, 65536))
        while not got:
            got = feed(read(inp, 65536))
    elapsed = time.perf_counter() - start
    assert got[0][0] == RESULT and got[0][3] == b"3", got
    return n / elapsed


def harness_round_trips(w, n):
    """Full encode/decode per call through the test harness (slower driver)."""
    start = time.perf_counter()
    for i in range(n):
        w.roundtrip("add", {"a": i, "b": 1})
    return n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--calls", type=int, default=20000)
    args = ap.parse_args()
    print("python: %s" % args.python)

    no_cache = start_times(args.python, args.runs, {"PYTHONDONTWRITEBYTECODE": "1"})
    with tempfile.TemporaryDirectory() as cache:
        env = {"PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": ""}
        start_times(args.python, 1, env)  # warm the bytecode cache
        cached = start_times(args.python, args.runs, env)
        for label, times in (("no bytecode cache", no_cache), ("bytecode cached", cached)):
            print("start -> READY (%s): median %.1f ms, min %.1f ms, max %.1f ms over %d runs"
                  % (label, statistics.median(times), min(times), max(times), len(times)))

        with Worker(python=args.python, env=env) as w:
            raw_round_trips(w, 2000)  # warm-up
            rates = [raw_round_trips(w, args.calls) for _ in range(3)]
            print("tiny calls, 1 in flight, raw driver:     %s calls/s (median %.0f, %.1f us/call)"
                  % (", ".join("%.0f" % r for r in rates), statistics.median(rates), 1e6 / statistics.median(rates)))
            rates = [harness_round_trips(w, args.calls // 4) for _ in range(3)]
            print("tiny calls, 1 in flight, harness driver: %s calls/s (median %.0f)"
                  % (", ".join("%.0f" % r for r in rates), statistics.median(rates)))


if __name__ == "__main__":
    main()
