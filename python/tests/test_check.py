"""`python -m snakepit --check`: its answer, and the runtime's bytecode it leaves behind so that
workers started under PYTHONDONTWRITEBYTECODE=1 do not compile the runtime at every start."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

RUNTIME = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "snakepit")


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sp-check-")
        shutil.copytree(RUNTIME, os.path.join(self.dir, "snakepit"), ignore=shutil.ignore_patterns("__pycache__"))
        self.env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check(self):
        out = subprocess.run([sys.executable, "-m", "snakepit", "--check"], env=self.env, cwd=self.dir,
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def pyc(self, name):
        return os.path.join(self.dir, "snakepit", "__pycache__", "%s.%s.pyc" % (name, sys.implementation.cache_tag))

    def test_writes_the_runtime_bytecode_once_and_again_when_a_source_changes(self):
        self.assertEqual(self.check()["executable"], sys.executable)
        for name in ("worker", "protocol", "tools", "demo"):
            self.assertTrue(os.path.exists(self.pyc(name)), name)
        before = os.stat(self.pyc("worker")).st_mtime_ns
        self.check()
        self.assertEqual(os.stat(self.pyc("worker")).st_mtime_ns, before)  # up to date: not rewritten
        source = os.path.join(self.dir, "snakepit", "worker.py")
        # Another version of the file, with an older mtime than the pyc (as a package manager's
        # files have): Python would not use that pyc, so it is rewritten.
        older = os.stat(source).st_mtime - 100
        os.utime(source, (older, older))
        self.check()
        # A timestamp pyc records its source's mtime (bytes 8-12), as Python's importer checks it.
        with open(self.pyc("worker"), "rb") as f:
            header = f.read(16)
        self.assertEqual(int.from_bytes(header[8:12], "little"), int(older))

    def test_a_cache_that_cannot_be_written_costs_nothing_but_speed(self):
        # A regular file where __pycache__ belongs: nothing can be written there, even by root.
        with open(os.path.join(self.dir, "snakepit", "__pycache__"), "w") as f:
            f.write("not a directory")
        self.assertIn("runtime", self.check())
        self.assertTrue(os.path.isfile(os.path.join(self.dir, "snakepit", "__pycache__")))

if __name__ == "__main__":
    unittest.main()
