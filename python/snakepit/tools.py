"""The `@tool` decorator, the tool registry, and per-tool argument checking.

Why this module exists: a Tool turns a Python function into a ToolDescription (protocol doc,
"ToolDescription") and precomputes everything the per-call path needs (known names, required
names, type checkers, where the context goes) so a call does no signature work at all.

The description's `doc` is the whole docstring, cleaned like inspect.cleandoc.
"""

import json

from . import introspect, typespec
from .context import Context
from .errors import InvalidArguments
from .introspect import EMPTY, POSITIONAL_ONLY

_registry = {}  # name -> Tool, in registration order


def tool(fn=None, *, name=None, stream=None):
    """Register a function as a tool. Use bare (`@tool`) or with options:

    name:   the tool's name (default: the function's __name__)
    stream: True for a streaming tool (CHUNK* then END). Default: generator and async
            generator functions stream, everything else is a plain tool.
    The function itself is returned unchanged.
    """
    def register(f):
        if not callable(f):
            raise TypeError("@tool expects a function, got %r" % (f,))
        t = Tool(f, name=name, stream=stream)
        existing = _registry.get(t.name)
        if existing is not None and not _same_function(existing.fn, f):
            raise ValueError("a tool named %r is already registered (%s)" % (t.name, _where(existing.fn)))
        _registry[t.name] = t
        try:
            f.__snakepit_tool__ = t
        except (AttributeError, TypeError):
            pass
        return f

    if fn is None:
        return register
    if callable(fn):
        return register(fn)
    raise TypeError("@tool takes keyword arguments only, e.g. @tool(name=%r)" % (fn,))


def registered():
    """All registered tools, in registration order."""
    return list(_registry.values())


def get(name):
    return _registry.get(name)


def unregister(name):
    _registry.pop(name, None)


def _same_function(a, b):
    if a is b:
        return True
    ca = getattr(introspect.unwrap(a), "__code__", None)
    cb = getattr(introspect.unwrap(b), "__code__", None)
    return (ca is not None and cb is not None and ca.co_filename == cb.co_filename
            and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None))


def _where(fn):
    return "%s.%s" % (getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn)))


def _is_context(annotation):
    if isinstance(annotation, type):
        return issubclass(annotation, Context)
    if isinstance(annotation, str):  # could not be evaluated, e.g. imported under TYPE_CHECKING
        return annotation.strip().strip("'\"").rpartition(".")[2] == "Context"
    return False


def _json_default(value):
    """The default as a JSON value for the description, or None if it has no JSON form."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return None


class Tool:
    """A registered tool. Everything beyond name/fn is filled in by prepare()."""

    def __init__(self, fn, name=None, stream=None):
        self.fn = fn
        self.name = name if name is not None else getattr(fn, "__name__", None)
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("tool name must be a non-empty string (pass @tool(name=...))")
        is_gen, is_coro, is_agen = introspect.flags(fn)
        self.stream = bool(stream) if stream is not None else (is_gen or is_agen)
        self.is_async = is_coro
        self.ready = False

    def prepare(self):
        """Read the signature and annotations once (after the tool module finished importing,
        so annotations may refer to names defined later in the module)."""
        if self.ready:
            return self
        fn = self.fn
        params, var_kw = introspect.parameters(fn)
        hints = introspect.resolve(fn, params)
        described, required, checks, names, posonly, specs = [], [], [], [], [], []
        self.ctx_name = None
        for pname, kind, default, raw in params:
            annotation = hints.get(pname, EMPTY)
            if _is_context(annotation) or (pname == "ctx" and raw is EMPTY):
                self.ctx_name = pname
                if kind == POSITIONAL_ONLY:
                    posonly.append((pname, None))
                continue
            spec = typespec.ANY if annotation is EMPTY else typespec.spec_of(annotation)
            if default is None and spec != typespec.ANY:
                spec = typespec.nullable(spec)  # `x: int = None` accepts an explicit null
            specs.append((pname, spec))
            is_required = default is EMPTY
            described.append({
                "name": pname,
                "type": typespec.type_name(spec),
                "required": is_required,
                "default": None if is_required else _json_default(default),
                "kind": kind,
            })
            names.append(pname)
            if is_required:
                required.append(pname)
            check = typespec.predicate(spec)
            if check is not None:
                checks.append((pname, check, spec))
            if kind == POSITIONAL_ONLY:
                posonly.append((pname, default))
        self.params = described
        self.names = frozenset(names)
        self.ordered_names = tuple(names)
        self.required = tuple(required)
        self.checks = tuple(checks)
        self.specs = dict(specs)
        self.var_kw = var_kw
        self.posonly = tuple(posonly) or None
        self.doc = introspect.cleandoc(getattr(fn, "__doc__", None))
        self.ready = True
        return self

    @property
    def description(self):
        self.prepare()
        return {"name": self.name, "doc": self.doc, "stream": self.stream, "params": self.params}

    def check(self, args):
        """Raise InvalidArguments unless args (a decoded JSON object) fit the parameters."""
        if type(args) is not dict:
            raise InvalidArguments("arguments must be a JSON object, got %s" % typespec.describe_value(args))
        if not self.var_kw:
            names = self.names
            for key in args:
                if key not in names:
                    raise InvalidArguments(self._unknown(key))
        for pname in self.required:
            if pname not in args:
                raise InvalidArguments("missing required parameter '%s'" % pname)
        specs = self.specs
        for key, value in args.items():
            if type(value) is not dict:
                continue
            raw = typespec.cli_value(value)
            if raw is not None:  # typed on a command line: converted to the declared type
                try:
                    args[key] = typespec.from_cli(specs.get(key, typespec.ANY), raw, key)
                except ValueError as exc:
                    raise InvalidArguments(str(exc))
                continue
            spec = specs.get(key)
            if spec is not None and typespec.accepts(spec, "bytes"):
                decoded = typespec.base64_value(value)  # what `exec --json` printed for bytes
                if decoded is not None:
                    args[key] = decoded
        for pname, check, spec in self.checks:
            if pname in args and not check(args[pname]):
                raise InvalidArguments("parameter '%s': %s" % (pname, typespec.explain(spec, args[pname])))

    def _unknown(self, key):
        if self.ordered_names:
            takes = "takes: " + ", ".join(self.ordered_names)
        else:
            takes = "takes no parameters"
        return "unknown parameter '%s' (tool '%s' %s)" % (key, self.name, takes)

    def invoke(self, args, ctx):
        """Call the function with checked args (consumed), passing ctx where it is declared."""
        if self.ctx_name is not None:
            args[self.ctx_name] = ctx
        posonly = self.posonly
        if posonly is None:
            return self.fn(**args)
        positional = [args.pop(n) if n in args else d for n, d in posonly]
        return self.fn(*positional, **args)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return "<snakepit tool %r%s>" % (self.name, " (stream)" if self.stream else "")
