"""Outside Linux (macOS, the BSDs) the worker must start without Linux's prctl: no parent-death
signal, no child subreaper. It then leaves with its agent through the stdin-EOF watch alone
(test_worker.test_stdin_eof_ends_the_worker). Here sys.platform is set to "darwin" and ctypes'
library loader made to fail, as both guards would meet them there."""

import ctypes
import os
import sys
import unittest
from unittest import mock

from snakepit import containment, worker


class NotLinux(unittest.TestCase):
    def setUp(self):
        # Both guards swallow errors, so a loaded library is caught by recording, not raising.
        self.loaded = []

        def no_libc(*args, **kwargs):
            self.loaded.append(args)
            raise OSError("no prctl here")

        patches = [mock.patch.object(sys, "platform", "darwin"), mock.patch.object(ctypes, "CDLL", no_libc)]
        for p in patches:
            p.start()
            self.addCleanup(p.stop)
        self.addCleanup(lambda: self.assertEqual(self.loaded, [], "prctl is Linux-only: libc must not be loaded"))

    def test_guard_parent_skips_pdeathsig(self):
        with mock.patch.dict(os.environ, {"SNAKEPIT_AGENT_PID": str(os.getppid())}):
            worker._guard_parent()  # returns: the agent is our parent, and no prctl was tried

    def test_guard_parent_still_exits_when_the_agent_is_not_the_parent(self):
        with mock.patch.dict(os.environ, {"SNAKEPIT_AGENT_PID": str(os.getppid() + 1)}), \
                mock.patch.object(worker, "_exit", side_effect=SystemExit) as exit_, \
                mock.patch.object(sys, "stderr"):
            with self.assertRaises(SystemExit):
                worker._guard_parent()
        exit_.assert_called_once_with(1)

    def test_subreaper_asked_for_is_skipped(self):
        with mock.patch.dict(os.environ, {"SNAKEPIT_SUBREAPER": "1"}), mock.patch.object(sys, "stderr") as err:
            os.environ.pop("SNAKEPIT_CGROUP", None)
            containment.contain()
        self.assertFalse(containment._subreaper)
        err.write.assert_not_called()  # skipped quietly, not tried and failed
        containment.before_exit()  # nothing to kill, nothing read from /proc


if __name__ == "__main__":
    unittest.main()
