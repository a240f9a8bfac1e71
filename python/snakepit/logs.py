"""Bridge from Python `logging` to LOG frames.

Why this module exists: `ctx.logger` must be a real `logging.Logger`-compatible object, yet its
records must reach the agent tagged with the call id. `logging` is imported lazily (it costs
several milliseconds of worker start-up) the first time a tool asks for a logger.
"""

import os
import sys

ROOT = "snakepit.tool"
_sink = None  # set by the worker: callable(call_id, level, logger_name, message)
_root = None
_Adapter = None


def set_sink(sink):
    """Install the function that turns a log record into a LOG frame (None: log to stderr)."""
    global _sink
    _sink = sink


def call_logger(tool_name, call_id):
    """A LoggerAdapter for one call: its records carry `snakepit_call_id`."""
    if _root is None:
        _setup()
    name = "%s.%s" % (ROOT, tool_name) if tool_name else ROOT
    return _Adapter(_root.manager.getLogger(name), {"snakepit_call_id": call_id})


def _setup():
    global _root, _Adapter
    import logging

    class FrameHandler(logging.Handler):
        def emit(self, record):
            try:
                message = self.format(record)
                sink = _sink
                if sink is None:
                    sys.stderr.write(message + "\n")
                else:
                    call_id = getattr(record, "snakepit_call_id", 0)
                    sink(call_id, record.levelname.lower(), record.name, message)
            except Exception:
                self.handleError(record)

    class CallAdapter(logging.LoggerAdapter):
        def process(self, msg, kwargs):
            extra = kwargs.get("extra")
            kwargs["extra"] = dict(extra, **self.extra) if extra else self.extra
            return msg, kwargs

    root = logging.getLogger(ROOT)
    level = logging.getLevelName(os.environ.get("SNAKEPIT_LOG_LEVEL", "INFO").upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    root.propagate = False
    handler = FrameHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    _Adapter = CallAdapter
    _root = root
