"""Import the user's tool module from `--tools SPEC` and collect its tools.

Why this module exists: SPEC may be a `.py` path or an importable module name, and both the
worker and `--describe` need the same loading rules and the same "no tools" check.
"""

import importlib
import importlib.util
import os
import sys

from . import tools as _tools

DEFAULT_MODULE = "snakepit.demo"


class LoadError(Exception):
    """The tool module could not be used (the message says why; no traceback needed)."""


def is_path(spec):
    return spec.endswith(".py") or "/" in spec or os.sep in spec or os.path.isfile(spec)


def load(spec=None, threads=1):
    """Import SPEC and return (module_name, [prepared Tool]). Import errors propagate.

    More than one call thread is allowed only for modules that declare themselves thread safe
    with a module-level `SNAKEPIT_THREAD_SAFE = True`: running unprepared code concurrently
    would corrupt its state silently, so refusing loudly is the safer default.
    """
    spec = spec or DEFAULT_MODULE
    module = _load_file(spec) if is_path(spec) else importlib.import_module(spec)
    found = _tools.registered()
    if not found:
        raise LoadError(
            "tool module %r (%s) defines no tools: decorate functions with @snakepit.tool"
            % (module.__name__, getattr(module, "__file__", None) or spec))
    if threads > 1 and getattr(module, "SNAKEPIT_THREAD_SAFE", False) is not True:
        raise LoadError(
            "%d call threads were asked for, but tool module %r does not declare itself thread safe; "
            "add `SNAKEPIT_THREAD_SAFE = True` at its top level if its tools may run concurrently"
            % (threads, module.__name__))
    return module.__name__, [t.prepare() for t in found]


def _load_file(path):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise LoadError("tool file not found: %s" % path)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # so the file can import its neighbours
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError("cannot load %s as a Python module" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _module_name(path):
    """The file's stem as a module name, unless that would shadow another module."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = "".join(c if ("_" + c).isidentifier() else "_" for c in stem) or "tools"
    if name[0].isdigit():
        name = "_" + name
    if name in sys.modules:
        return "snakepit_tools_" + name
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        found = None
    origin = getattr(found, "origin", None)
    if found is not None and (origin is None or os.path.realpath(origin) != os.path.realpath(path)):
        return "snakepit_tools_" + name
    return name
