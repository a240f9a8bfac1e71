"""ToolDescriptions built by @tool: every annotation kind, defaults, kinds, ctx, docs, stream."""

import functools
import sys
import textwrap
import types
import typing
import unittest
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, NewType, Optional, Tuple, Union

from snakepit import Context, tool, tools
from snakepit.tools import Tool

UserId = NewType("UserId", int)


def describe(fn, **kw):
    return Tool(fn, **kw).description


def types_of(fn):
    return {p["name"]: p["type"] for p in describe(fn)["params"]}


def module_from_source(source, name="snakepit_test_source"):
    """Exec source as a real module (so annotations are resolved in its globals)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(textwrap.dedent(source), "<%s>" % name, "exec"), module.__dict__)
    return module


class AnnotationTypesTest(unittest.TestCase):
    def test_simple_types(self):
        def f(i: int, n: float, s: str, b: bool, raw: bytes, ba: bytearray, l: list, d: dict, t: tuple,
              a: Any, o: object, none: None, plain):
            pass
        self.assertEqual(types_of(f), {
            "i": "integer", "n": "number", "s": "string", "b": "boolean", "raw": "bytes", "ba": "bytes",
            "l": "array", "d": "object", "t": "array", "a": "any", "o": "any", "none": "null", "plain": "any"})

    def test_generics(self):
        def f(a: list[int], b: List[str], c: list[list[float]], d: dict[str, int], e: Dict[str, Any],
              f: Sequence[bool], g: Mapping[str, list[int]], h: Tuple[int, ...], i: tuple[int, str],
              j: List, k: list[Any], m: UserId, n: typing.Annotated[int, "meta"]):
            pass
        self.assertEqual(types_of(f), {
            "a": "array<integer>", "b": "array<string>", "c": "array<array<number>>", "d": "object",
            "e": "object", "f": "array<boolean>", "g": "object", "h": "array<integer>", "i": "array",
            "j": "array", "k": "array", "m": "integer", "n": "integer"})

    def test_optional_and_unions(self):
        def f(a: Optional[int], b: Union[int, str], c: Union[int, None, str], d: Union[int, Any],
              e: Optional[list[Optional[int]]], f: Union[None, bool]):
            pass
        self.assertEqual(types_of(f), {
            "a": "integer | null", "b": "integer | string", "c": "integer | string | null", "d": "any",
            "e": "array<integer | null> | null", "f": "boolean | null"})

    @unittest.skipIf(sys.version_info < (3, 10), "X | Y at runtime needs Python 3.10")
    def test_pep604_unions_at_runtime(self):
        ns = {}
        exec("def f(a: int | None, b: str | int | None, c: list[int | None]): pass", ns)
        self.assertEqual(types_of(ns["f"]), {
            "a": "integer | null", "b": "string | integer | null", "c": "array<integer | null>"})

    def test_string_annotations_resolved(self):
        module = module_from_source('''
            from __future__ import annotations
            from typing import Optional
            from snakepit import Context
            def f(a: int, b: Optional[str], c: list[Later], ctx: Context): pass
            class Later: pass
        ''')
        self.assertEqual(types_of(module.f), {"a": "integer", "b": "string | null", "c": "array"})

    def test_pep604_strings_fall_back_per_annotation(self):
        # get_type_hints fails here on every version (an unknown name), and on 3.9 also for
        # `int | None`; each annotation is then evaluated on its own, `|` rebuilt as Union.
        module = module_from_source('''
            from __future__ import annotations
            def f(a: int | None, b: list[int | None], c: Missing, d: dict[str, float] | None = None,
                  e: "int | str" = 1, *, ctx: Context): pass
        ''')
        d = describe(module.f)
        self.assertEqual({p["name"]: p["type"] for p in d["params"]}, {
            "a": "integer | null", "b": "array<integer | null>", "c": "any", "d": "object | null",
            "e": "integer | string"})

    def test_unhashable_or_odd_annotations_are_any(self):
        def f(a: [int], b: "not valid python (", c: 3):
            pass
        self.assertEqual(types_of(f), {"a": "any", "b": "any", "c": "any"})


class ParamsTest(unittest.TestCase):
    def test_defaults_required_and_kinds(self):
        def f(a, b: int = 2, /, c: str = "x", *args, d: float, e: bool = True, f: list = None, **kw):
            pass
        params = describe(f)["params"]
        self.assertEqual(params, [
            {"name": "a", "type": "any", "required": True, "default": None, "kind": "positional_only"},
            {"name": "b", "type": "integer", "required": False, "default": 2, "kind": "positional_only"},
            {"name": "c", "type": "string", "required": False, "default": "x", "kind": "positional_or_keyword"},
            {"name": "d", "type": "number", "required": True, "default": None, "kind": "keyword_only"},
            {"name": "e", "type": "boolean", "required": False, "default": True, "kind": "keyword_only"},
            {"name": "f", "type": "array | null", "required": False, "default": None, "kind": "keyword_only"},
        ])

    def test_non_json_default_is_null(self):
        def f(a: bytes = b"x", b: float = float("inf"), c=object(), d: tuple = (1, 2)):
            pass
        defaults = {p["name"]: (p["required"], p["default"]) for p in describe(f)["params"]}
        self.assertEqual(defaults, {"a": (False, None), "b": (False, None), "c": (False, None), "d": (False, (1, 2))})

    def test_context_is_never_listed(self):
        def by_annotation(x: int, context: Context):
            pass

        def by_name(ctx, x: int):
            pass

        def annotated_ctx_is_a_param(ctx: int):
            pass

        class MyContext(Context):
            pass

        def subclass(c: MyContext, *, y: str):
            pass

        self.assertEqual([p["name"] for p in describe(by_annotation)["params"]], ["x"])
        self.assertEqual([p["name"] for p in describe(by_name)["params"]], ["x"])
        self.assertEqual([p["name"] for p in describe(annotated_ctx_is_a_param)["params"]], ["ctx"])
        self.assertEqual([p["name"] for p in describe(subclass)["params"]], ["y"])

    def test_wrapped_functions_use_the_inner_signature(self):
        def inner(a: int, b: str = "z") -> str:
            """Inner doc."""
            return b * a

        @functools.wraps(inner)
        def wrapper(*args, **kwargs):
            return inner(*args, **kwargs)

        d = describe(wrapper)
        self.assertEqual([(p["name"], p["type"]) for p in d["params"]], [("a", "integer"), ("b", "string")])
        self.assertEqual(d["doc"], "Inner doc.")

    def test_callables_that_are_not_functions(self):
        def base(a: int, b: int, *, c: str = "q"):
            pass
        part = functools.partial(base, 1)

        class Callable:
            def __call__(self, x: float) -> float:
                return x

        self.assertEqual([(p["name"], p["type"]) for p in describe(part, name="part")["params"]],
                         [("b", "integer"), ("c", "string")])
        self.assertEqual([(p["name"], p["type"]) for p in describe(Callable(), name="obj")["params"]],
                         [("x", "number")])


class DocAndStreamTest(unittest.TestCase):
    def test_doc_is_the_whole_cleaned_docstring(self):
        def f():
            """  Summary line.

            More detail,
                indented.
            """
        self.assertEqual(describe(f)["doc"], "Summary line.\n\nMore detail,\n    indented.")

        def g():
            pass
        self.assertEqual(describe(g)["doc"], "")

    def test_stream_detection(self):
        def gen():
            yield 1

        async def agen():
            yield 1

        async def coro():
            return 1

        def plain():
            return [1]

        self.assertTrue(describe(gen)["stream"])
        self.assertTrue(describe(agen)["stream"])
        self.assertFalse(describe(coro)["stream"])
        self.assertFalse(describe(plain)["stream"])
        self.assertTrue(describe(plain, stream=True)["stream"])
        self.assertFalse(describe(gen, stream=False)["stream"])

    def test_description_shape(self):
        def add(a: int, b: int) -> int:
            """Add two numbers."""
        self.assertEqual(describe(add), {
            "name": "add", "doc": "Add two numbers.", "stream": False,
            "params": [
                {"name": "a", "type": "integer", "required": True, "default": None, "kind": "positional_or_keyword"},
                {"name": "b", "type": "integer", "required": True, "default": None, "kind": "positional_or_keyword"},
            ]})


class DecoratorTest(unittest.TestCase):
    def tearDown(self):
        for name in ("t_bare", "t_named", "t_stream", "t_dup"):
            tools.unregister(name)

    def test_bare_and_with_arguments(self):
        @tool
        def t_bare(x: int) -> int:
            return x

        @tool(name="t_named")
        def something(x: int) -> int:
            return x

        @tool(stream=True)
        def t_stream():
            return [1, 2]

        self.assertEqual(t_bare(3), 3)  # the function itself is returned
        self.assertIs(tools.get("t_bare").fn, t_bare)
        self.assertIs(tools.get("t_named").fn, something)
        self.assertTrue(tools.get("t_stream").stream)
        self.assertIn("t_bare", [t.name for t in tools.registered()])

    def test_duplicate_names_are_rejected(self):
        @tool(name="t_dup")
        def one():
            pass
        with self.assertRaises(ValueError):
            @tool(name="t_dup")
            def two():
                pass
        tool(name="t_dup")(one)  # re-registering the same function is fine

    def test_bad_usage(self):
        with self.assertRaises(TypeError):
            tool("name")
        with self.assertRaises(ValueError):
            tool(lambda: 1, name="")


if __name__ == "__main__":
    unittest.main()
