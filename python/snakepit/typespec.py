"""Python annotations -> protocol type names (`integer`, `array<T>`, `T | null`, ...) and checkers.

Why this module exists: the ToolDescription `type` string and the INVALID_ARGUMENTS validation
must always agree, so both are derived here from one small "spec" tree:
    ("any",) ("null",) ("integer",) ("number",) ("string",) ("boolean",) ("bytes",)
    ("array", item_spec | None) ("object", value_spec | None) ("union", (spec, ...))
Values checked are what JSON decoding (plus blobs) can produce: None, bool, int, float, str,
bytes, list, dict.
"""

import json
import sys
import types
from collections import abc as _abc

ANY = ("any",)
NULL = ("null",)
_NoneType = type(None)
_UnionType = getattr(types, "UnionType", None)  # `int | None` at runtime (3.10+)

_SIMPLE = {
    int: ("integer",), float: ("number",), str: ("string",), bool: ("boolean",),
    bytes: ("bytes",), bytearray: ("bytes",), _NoneType: NULL, object: ANY,
    list: ("array", None), tuple: ("array", None), dict: ("object", None),
}
_ARRAY_ORIGINS = (list, tuple, _abc.Sequence, _abc.MutableSequence)
_OBJECT_ORIGINS = (dict, _abc.Mapping, _abc.MutableMapping)


def spec_of(tp):
    """Spec for an evaluated annotation (anything unrecognised is `any`)."""
    if tp is None:
        return NULL
    try:
        simple = _SIMPLE.get(tp)
    except TypeError:  # unhashable annotation object
        simple = None
    if simple is not None:
        return simple
    supertype = getattr(tp, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return spec_of(supertype)
    origin = getattr(tp, "__origin__", None)
    if getattr(tp, "__metadata__", None) is not None and origin is not None:  # Annotated[T, ...]
        return spec_of(origin)
    args = getattr(tp, "__args__", None) or ()
    if _is_union(tp, origin):
        return union([spec_of(a) for a in args])
    if origin is None:
        return ANY
    args = tuple(a for a in args if type(a).__name__ != "TypeVar")
    if origin in _ARRAY_ORIGINS:
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return _array(spec_of(args[0]))
            return ("array", None)  # fixed-length tuples: items not checked
        return _array(spec_of(args[0])) if args else ("array", None)
    if origin in _OBJECT_ORIGINS:
        if len(args) == 2:
            value = spec_of(args[1])
            return ("object", None if value == ANY else value)
        return ("object", None)
    return ANY


def _array(item):
    return ("array", None if item == ANY else item)


def _is_union(tp, origin):
    if _UnionType is not None and isinstance(tp, _UnionType):
        return True
    typing = sys.modules.get("typing")
    return typing is not None and origin is typing.Union


def union(specs):
    """Flattened, de-duplicated union; `any` absorbs everything; null goes last."""
    members = []
    for s in specs:
        for m in (s[1] if s[0] == "union" else (s,)):
            if m == ANY:
                return ANY
            if m not in members:
                members.append(m)
    if NULL in members:
        members.remove(NULL)
        members.append(NULL)
    if len(members) == 1:
        return members[0]
    return ("union", tuple(members))


def nullable(spec):
    return union([spec, NULL])


def type_name(spec):
    """The protocol's type string for a spec."""
    kind = spec[0]
    if kind == "array":
        return "array<%s>" % type_name(spec[1]) if spec[1] is not None else "array"
    if kind == "union":
        return " | ".join(type_name(m) for m in spec[1])
    return kind  # object<T> has no spelling in the protocol: value types are only checked


# ----------------------------------------------------------------------------- checking

def _is_int(v):
    return type(v) is int


def _is_number(v):
    t = type(v)
    return t is int or t is float


def _is_str(v):
    return type(v) is str


def _is_bool(v):
    return type(v) is bool


def _is_bytes(v):
    t = type(v)
    return t is bytes or t is bytearray


def _is_none(v):
    return v is None


def _is_list(v):
    return type(v) is list


def _is_dict(v):
    return type(v) is dict


_PREDICATES = {
    "integer": _is_int, "number": _is_number, "string": _is_str, "boolean": _is_bool,
    "bytes": _is_bytes, "null": _is_none,
}


def predicate(spec):
    """A fast `value -> bool` checker for spec, or None when every value is accepted."""
    kind = spec[0]
    if kind == "any":
        return None
    if kind in _PREDICATES:
        return _PREDICATES[kind]
    if kind == "array":
        item = predicate(spec[1]) if spec[1] is not None else None
        if item is None:
            return _is_list
        return lambda v: type(v) is list and all(map(item, v))
    if kind == "object":
        value = predicate(spec[1]) if spec[1] is not None else None
        if value is None:
            return _is_dict
        return lambda v: type(v) is dict and all(map(value, v.values()))
    if kind == "union":
        preds = [predicate(m) for m in spec[1]]
        if None in preds:
            return None
        if len(preds) == 2 and spec[1][-1] == NULL:
            first = preds[0]
            return lambda v: v is None or first(v)
        return lambda v: any(p(v) for p in preds)
    return None


def explain(spec, value):
    """Why value does not match spec ("expected integer, got string ("x")"), or None if it does."""
    check = predicate(spec)
    if check is None or check(value):
        return None
    kind = spec[0]
    if kind == "union":  # e.g. `array<integer> | null` given an array: explain the array part
        same_shape = [m for m in spec[1] if (m[0], type(value)) in (("array", list), ("object", dict))]
        if len(same_shape) == 1:
            return explain(same_shape[0], value)
    if kind == "array" and type(value) is list:
        for i, item in enumerate(value):
            why = explain(spec[1], item)
            if why:
                return "item %d: %s" % (i, why)
    if kind == "object" and type(value) is dict:
        for key, item in value.items():
            why = explain(spec[1], item)
            if why:
                return "key %s: %s" % (json.dumps(key, ensure_ascii=False), why)
    return "expected %s, got %s" % (type_name(spec), describe_value(value))


def describe_value(value):
    """Short JSON-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "boolean (%s)" % ("true" if value else "false")
    if t is int:
        text = str(value)
        return "integer (%s)" % (text if len(text) <= 40 else text[:37] + "...")
    if t is float:
        return "number (%r)" % value
    if t is str:
        text = value if len(value) <= 40 else value[:37] + "..."
        return "string (%s)" % json.dumps(text, ensure_ascii=False)
    if t is list:
        return "array"
    if t is dict:
        return "object"
    if t is bytes or t is bytearray:
        return "bytes (%d bytes)" % len(value)
    return t.__name__


# -- values typed on a command line ------------------------------------------------------------
# `snakepit exec tool k=v` sends each `k=v` value as {"$cli": "v"} (and `k@FILE` as
# {"$cli_bytes": <the file's bytes>}): text whose type the command line cannot know. It is
# converted here, where the signature is, so every client gets the same rule (HTTPie's): the
# text is a string, turned into the declared type. `k:=JSON` values arrive as plain JSON.

CLI = "$cli"
CLI_BYTES = "$cli_bytes"
_TRUE = ("true", "1")
_FALSE = ("false", "0")


BASE64 = "$base64"


def base64_value(v):
    """The bytes of {"$base64": "..."} (how `exec --json` prints a bytes result), or None."""
    if type(v) is dict and len(v) == 1 and type(v.get(BASE64)) is str:
        import base64
        import binascii
        try:
            return base64.b64decode(v[BASE64], validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def cli_value(v):
    """The text (str) or bytes of a command-line value, or None when v is not one."""
    if type(v) is dict and len(v) == 1:
        if CLI in v and type(v[CLI]) is str:
            return v[CLI]
        if CLI_BYTES in v and type(v[CLI_BYTES]) in (bytes, bytearray):
            return bytes(v[CLI_BYTES])
    return None


def from_cli(spec, raw, pname):
    """Converts a command-line value to `spec`; ValueError naming the parameter, the declared
    type and the syntax that would work."""
    if type(raw) is bytes:  # k@FILE: bytes for a bytes parameter, text for anything else
        if accepts(spec, "bytes"):
            return raw
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("parameter '%s' is %s: the file is not UTF-8 text" % (pname, type_name(spec)))
    value = _convert(spec, raw)
    if value is _FAILED:
        raise ValueError("parameter '%s' is %s: %s is not one; %s" % (pname, type_name(spec), json.dumps(raw, ensure_ascii=False)[:60], _syntax(spec, pname)))
    return value


_FAILED = object()


def accepts(spec, kind):
    """Whether spec is `kind` or a union with a `kind` member."""
    return spec[0] == kind or (spec[0] == "union" and any(m[0] == kind for m in spec[1]))


def _convert(spec, text):
    kind = spec[0]
    if kind in ("any", "string"):
        return text
    if kind == "null":
        return None if text == "null" else _FAILED
    if kind == "integer":
        t = text.strip()
        if t[1:].isdigit() if t[:1] in "+-" else t.isdigit():
            return int(t)
        return _FAILED
    if kind == "number":
        try:
            n = float(text)
        except ValueError:
            return _FAILED
        return n if n == n and n not in (float("inf"), float("-inf")) else _FAILED
    if kind == "boolean":
        t = text.strip().lower()
        return True if t in _TRUE else False if t in _FALSE else _FAILED
    if kind == "bytes":
        return text.encode("utf-8")
    if kind in ("array", "object"):
        try:
            value = json.loads(text)
        except ValueError:
            return _FAILED
        check = predicate(spec)
        return value if check is None or check(value) else _FAILED
    if kind == "union":
        members = spec[1]
        if text == "null" and NULL in members:
            return None
        # A string member takes the text as it is; otherwise the first member it converts to.
        if any(m[0] in ("string", "any") for m in members):
            return text
        for m in members:
            if m == NULL:
                continue
            value = _convert(m, text)
            if value is not _FAILED:
                return value
        return _FAILED
    return text


def _syntax(spec, pname):
    examples = {"integer": "%s=12", "number": "%s=1.5", "boolean": "%s=true or %s=false", "null": "%s=null",
                "array": "%s='[1, 2]'", "object": "%s='{\"k\": 1}'"}
    kind = spec[0]
    if kind == "union":
        kind = next((m[0] for m in spec[1] if m != NULL), "null")
    hint = examples.get(kind)
    write = (hint.replace("%s", pname) + ", or " if hint else "") + "%s:=JSON for any JSON value" % pname
    return "write " + write
