"""Read a tool function's parameters, annotations and docstring.

Why this module exists: `inspect` and `typing` together cost ~12 ms of worker start-up, so plain
functions are read straight from their code object and `typing.get_type_hints` is only used when
annotations are strings. When evaluating annotations fails (e.g. `int | None` written as a string
on Python 3.9) each annotation is evaluated on its own, with `A | B` rebuilt as `Union[A, B]`.
"""

import sys
import types

EMPTY = object()  # "no default" / "no annotation"

POSITIONAL_ONLY = "positional_only"
POSITIONAL_OR_KEYWORD = "positional_or_keyword"
KEYWORD_ONLY = "keyword_only"

_CO_VARKEYWORDS = 0x08
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def unwrap(fn):
    """Follow functools.wraps' __wrapped__ chain (as inspect.signature does)."""
    seen = set()
    while hasattr(fn, "__wrapped__") and id(fn) not in seen and not hasattr(fn, "__signature__"):
        seen.add(id(fn))
        fn = fn.__wrapped__
    return fn


def parameters(fn):
    """([(name, kind, default, annotation)], takes_var_keyword). *args is never listed.

    Annotations are returned unevaluated (possibly strings); see resolve().
    """
    target = unwrap(fn)
    if type(target) is not types.FunctionType or hasattr(target, "__signature__"):
        return _parameters_via_inspect(fn)
    code = target.__code__
    names = code.co_varnames
    npos = code.co_argcount
    nposonly = getattr(code, "co_posonlyargcount", 0)
    nkw = code.co_kwonlyargcount
    defaults = target.__defaults__ or ()
    kwdefaults = target.__kwdefaults__ or {}
    ann = getattr(target, "__annotations__", None) or {}
    first_default = npos - len(defaults)
    out = []
    for i in range(npos):
        name = names[i]
        kind = POSITIONAL_ONLY if i < nposonly else POSITIONAL_OR_KEYWORD
        default = defaults[i - first_default] if i >= first_default else EMPTY
        out.append((name, kind, default, ann.get(name, EMPTY)))
    for name in names[npos:npos + nkw]:
        out.append((name, KEYWORD_ONLY, kwdefaults.get(name, EMPTY), ann.get(name, EMPTY)))
    return out, bool(code.co_flags & _CO_VARKEYWORDS)


def _parameters_via_inspect(fn):
    import inspect
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD: POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY: KEYWORD_ONLY,
    }
    out = []
    var_kw = False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            var_kw = True
        elif p.kind in kinds:
            default = EMPTY if p.default is p.empty else p.default
            annotation = EMPTY if p.annotation is p.empty else p.annotation
            out.append((p.name, kinds[p.kind], default, annotation))
    return out, var_kw


def flags(fn):
    """(is_generator, is_coroutine, is_async_generator) of the function as written."""
    code = getattr(unwrap(fn), "__code__", None)
    if code is None:
        call = getattr(type(fn), "__call__", None)
        code = getattr(call, "__code__", None)
    f = code.co_flags if code is not None else 0
    return bool(f & _CO_GENERATOR), bool(f & _CO_COROUTINE), bool(f & _CO_ASYNC_GENERATOR)


def resolve(fn, params):
    """{name: evaluated annotation} for params; unresolvable ones stay as their string."""
    raw = {name: ann for name, _, _, ann in params if ann is not EMPTY}
    if not any(isinstance(a, str) for a in raw.values()):
        return raw
    target = unwrap(fn)
    typing = _typing()
    try:
        hints = typing.get_type_hints(target)
        return {name: hints.get(name, ann) for name, ann in raw.items()}
    except Exception:
        pass
    globalns = getattr(target, "__globals__", None) or {}
    return {name: evaluate(ann, globalns) if isinstance(ann, str) else ann for name, ann in raw.items()}


def evaluate(text, globalns, depth=0):
    """Evaluate one string annotation; `A | B` works on every Python; failure returns text."""
    try:
        value = eval(text, globalns)  # the tool author's own annotation, as typing would do
        if isinstance(value, str) and depth < 3:  # a quoted annotation under `from __future__`
            return evaluate(value, globalns, depth + 1)
        return value
    except Exception:
        pass
    try:
        import ast
        return _eval_node(ast.parse(text.strip(), mode="eval").body, globalns, ast)
    except Exception:
        return text


def _eval_node(node, globalns, ast):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _typing().Union[_eval_node(node.left, globalns, ast), _eval_node(node.right, globalns, ast)]
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):  # nested forward reference
            return _eval_node(ast.parse(node.value.strip(), mode="eval").body, globalns, ast)
        return node.value
    if isinstance(node, ast.Subscript):
        base = _eval_node(node.value, globalns, ast)
        index = node.slice
        if type(index).__name__ == "Index":  # Python 3.8 wraps the slice
            index = index.value
        if isinstance(index, ast.Tuple):
            return base[tuple(_eval_node(e, globalns, ast) for e in index.elts)]
        return base[_eval_node(index, globalns, ast)]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_eval_node(e, globalns, ast) for e in node.elts]
    expr = ast.Expression(node)
    ast.fix_missing_locations(expr)
    return eval(compile(expr, "<annotation>", "eval"), globalns)


def _typing():
    import typing
    return typing


def cleandoc(doc):
    """Like inspect.cleandoc: dedent, drop leading/trailing blank lines and trailing spaces."""
    if not doc:
        return ""
    lines = doc.expandtabs().split("\n")
    margin = sys.maxsize
    for line in lines[1:]:
        content = len(line.lstrip())
        if content:
            margin = min(margin, len(line) - content)
    lines[0] = lines[0].lstrip()
    if margin < sys.maxsize:
        lines[1:] = [line[margin:] for line in lines[1:]]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(line.rstrip() for line in lines)
