"""The control pipe (fd 5) and inline execution: with one call thread the main thread runs each
CALL as it reads it, while a control thread answers PING and delivers CANCEL."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from snakepit.protocol import CANCEL, ERROR, PING, PONG, RESULT, SHUTDOWN  # noqa: E402
from tests.harness import Worker  # noqa: E402


def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


class InlineTest(unittest.TestCase):
    def setUp(self):
        self.w = Worker(control=True)

    def tearDown(self):
        self.w.close()

    def test_runs_calls_inline_without_a_call_thread(self):
        self.assertEqual(self.w.roundtrip("add", {"a": 2, "b": 3}).value, 5)
        # main + control + stdin watch; queue mode would add a call thread.
        self.assertEqual(thread_count(self.w.proc.pid), 3)

    def test_pipelined_calls_answer_in_order(self):
        cids = [self.w.call("add", {"a": i, "b": 1}) for i in range(200)]
        for i, cid in enumerate(cids):
            frame = self.w.collect(cid)[0]
            self.assertEqual((frame.kind, frame.value), (RESULT, i + 1))

    def test_ping_on_the_control_pipe_while_a_tool_runs(self):
        cid = self.w.call("sleep", {"seconds": 0.4})
        time.sleep(0.05)
        sent = time.monotonic()
        self.w.send_control(PING, 77)
        pong = self.w.recv(timeout=5)
        self.assertEqual((pong.kind, pong.id), (PONG, 77))
        self.assertLess(time.monotonic() - sent, 0.3)
        self.assertEqual(self.w.collect(cid)[0].kind, RESULT)

    def test_cancel_on_the_control_pipe_reaches_a_running_tool(self):
        start = time.monotonic()
        cid = self.w.call("sleep", {"seconds": 30})
        time.sleep(0.05)
        self.w.send_control(CANCEL, cid)
        frame = self.w.collect(cid, timeout=5)[0]
        self.assertEqual(frame.kind, RESULT)  # sleep returns how long it slept
        self.assertLess(time.monotonic() - start, 5)

    def test_cancel_that_overtakes_its_call(self):
        # The CANCEL arrives on fd 5 before the CALL is read from fd 3: it must still apply.
        busy = self.w.call("sleep", {"seconds": 0.3})
        time.sleep(0.05)
        self.w.send_control(CANCEL, 501)
        self.w.call("add", {"a": 1, "b": 1}, cid=501)
        self.assertEqual(self.w.collect(busy)[0].kind, RESULT)
        frame = self.w.collect(501)[0]
        self.assertEqual((frame.kind, frame.value["code"]), (ERROR, "CANCELLED"))
        self.assertEqual(self.w.roundtrip("add", {"a": 1, "b": 1}).value, 2)

    def test_shutdown_finishes_earlier_calls_then_exits(self):
        cid = self.w.call("sleep", {"seconds": 0.2})
        self.w.send(SHUTDOWN)
        self.assertEqual(self.w.collect(cid)[0].kind, RESULT)
        self.assertEqual(self.w.wait(), 0)


if __name__ == "__main__":
    unittest.main()
