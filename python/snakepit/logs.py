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


def bridge_root_logging():
    """Python's own `logging` in a tool (`logging.warning(...)`, a module's logger, the stderr
    handler `logging.basicConfig()` installs) reaches the agent as LOG frames with their level,
    instead of `[stderr]` lines the agent can only log at WARN. Done once `logging` is imported (by
    the tool module, or later by a call): the runtime never imports it itself, to start fast.

    The root logger keeps its level (WARNING unless the tool set another), so the same records
    are emitted as before; a stream handler on stderr/stdout is replaced by one that keeps its
    level and formatter. A `basicConfig()` a tool calls only after this point finds a handler and
    does nothing (Python's rule); `basicConfig(force=True)` takes over again."""
    global _bridged
    if _bridged:
        return
    logging = sys.modules.get("logging")
    if logging is None:
        return
    _bridged = True
    frame_handler = _handler_class()
    root = logging.getLogger()
    streams = [s for s in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__) if s is not None]
    for h in list(root.handlers):
        if type(h) is logging.StreamHandler and any(h.stream is s for s in streams):
            bridged = frame_handler(h.level)
            bridged.setFormatter(h.formatter or logging.Formatter("%(message)s"))
            root.removeHandler(h)
            root.addHandler(bridged)
    if not root.handlers:
        bridged = frame_handler()
        bridged.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(bridged)


_bridged = False
_FrameHandler = None


def _handler_class():
    global _FrameHandler
    if _FrameHandler is None:
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

        _FrameHandler = FrameHandler
    return _FrameHandler


def _setup():
    global _root, _Adapter
    import logging

    class CallAdapter(logging.LoggerAdapter):
        def process(self, msg, kwargs):
            extra = kwargs.get("extra")
            kwargs["extra"] = dict(extra, **self.extra) if extra else self.extra
            return msg, kwargs

    root = logging.getLogger(ROOT)
    level = logging.getLevelName(os.environ.get("SNAKEPIT_LOG_LEVEL", "INFO").upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    root.propagate = False
    handler = _handler_class()()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    _Adapter = CallAdapter
    _root = root
    # ctx.logger imported logging: Python's own loggers are bridged too from now on.
    bridge_root_logging()
