"""Argument checking before a call: INVALID_ARGUMENTS messages and the rules per type."""

import time
import unittest
from typing import Any, Dict, List, Optional, Union

from snakepit import Context, ToolError
from snakepit.errors import InvalidArguments
from snakepit.tools import Tool


def add(a: int, b: int) -> int:
    return a + b


def everything(i: int = 0, n: float = 0.0, s: str = "", b: bool = False, raw: bytes = b"",
               arr: list = None, ints: List[int] = None, nested: list[list[float]] = None,
               obj: dict = None, counts: Dict[str, int] = None, opt: Optional[int] = None,
               either: Union[int, str] = 0, anything: Any = None, untyped=None):
    return "ok"


def variadic(a: int, **extra):
    return dict(extra, a=a)


def no_params():
    return 1


def positional(a: int, b: str = "x", /, *, c: bool = False):
    return (a, b, c)


def with_ctx(x: int, ctx: Context):
    return ctx


def message(tool, args):
    try:
        Tool(tool).prepare().check(args)
    except InvalidArguments as exc:
        assert exc.code == "INVALID_ARGUMENTS"
        return exc.message
    return None


class MessagesTest(unittest.TestCase):
    def test_examples_from_the_spec(self):
        self.assertEqual(message(add, {"a": "x", "b": 1}), 'parameter \'a\': expected integer, got string ("x")')
        self.assertEqual(message(add, {"a": 1}), "missing required parameter 'b'")
        self.assertEqual(message(add, {"a": 1, "b": 2, "c": 3}), "unknown parameter 'c' (tool 'add' takes: a, b)")
        self.assertEqual(message(no_params, {"z": 1}), "unknown parameter 'z' (tool 'no_params' takes no parameters)")
        self.assertIsNone(message(add, {"a": 1, "b": 2}))

    def test_arguments_must_be_an_object(self):
        self.assertEqual(message(add, [1, 2]), "arguments must be a JSON object, got array")
        self.assertEqual(message(add, None), "arguments must be a JSON object, got null")

    def test_context_cannot_be_passed_as_an_argument(self):
        self.assertEqual(message(with_ctx, {"x": 1, "ctx": 2}), "unknown parameter 'ctx' (tool 'with_ctx' takes: x)")

    def test_nested_messages(self):
        self.assertEqual(message(everything, {"ints": [1, 2, 2.5]}),
                         "parameter 'ints': item 2: expected integer, got number (2.5)")
        self.assertEqual(message(everything, {"nested": [[1.0], [True]]}),
                         "parameter 'nested': item 1: item 0: expected number, got boolean (true)")
        self.assertEqual(message(everything, {"counts": {"a": 1, "b": "2"}}),
                         'parameter \'counts\': key "b": expected integer, got string ("2")')
        self.assertEqual(message(everything, {"either": None}),
                         "parameter 'either': expected integer | string, got null")
        self.assertEqual(message(everything, {"s": "y" * 100}), None)
        self.assertEqual(message(everything, {"i": "y" * 100}),
                         'parameter \'i\': expected integer, got string ("%s...")' % ("y" * 37))
        self.assertEqual(message(everything, {"raw": "text"}), 'parameter \'raw\': expected bytes, got string ("text")')
        self.assertEqual(message(everything, {"s": b"abc"}), "parameter 's': expected string, got bytes (3 bytes)")
        self.assertEqual(message(everything, {"obj": []}), "parameter 'obj': expected object | null, got array")


class RulesTest(unittest.TestCase):
    def ok(self, name, value):
        return message(everything, {name: value}) is None

    def test_integer(self):
        self.assertTrue(self.ok("i", 3))
        self.assertTrue(self.ok("i", -(10 ** 30)))
        self.assertFalse(self.ok("i", True))
        self.assertFalse(self.ok("i", 3.0))
        self.assertFalse(self.ok("i", "3"))

    def test_number(self):
        self.assertTrue(self.ok("n", 3))
        self.assertTrue(self.ok("n", 3.5))
        self.assertFalse(self.ok("n", False))
        self.assertFalse(self.ok("n", "3.5"))

    def test_bool_string_bytes(self):
        self.assertTrue(self.ok("b", False))
        self.assertFalse(self.ok("b", 0))
        self.assertTrue(self.ok("s", ""))
        self.assertFalse(self.ok("s", 1))
        self.assertTrue(self.ok("raw", b"\x00"))
        self.assertFalse(self.ok("raw", [0]))

    def test_arrays_and_objects(self):
        self.assertTrue(self.ok("arr", [1, "a", None]))
        self.assertFalse(self.ok("arr", {"a": 1}))
        self.assertTrue(self.ok("ints", []))
        self.assertTrue(self.ok("nested", [[1, 2.5], []]))
        self.assertTrue(self.ok("obj", {"any": [object]}))
        self.assertTrue(self.ok("counts", {"a": 1}))
        self.assertFalse(self.ok("counts", {"a": None}))

    def test_nullable_and_any(self):
        self.assertTrue(self.ok("opt", None))
        self.assertTrue(self.ok("opt", 1))
        self.assertFalse(self.ok("opt", "1"))
        self.assertTrue(self.ok("ints", None))  # `= None` default makes an explicit null acceptable
        for v in (None, 1, "x", [1], {"a": b"x"}, b"z"):
            self.assertTrue(self.ok("anything", v))
            self.assertTrue(self.ok("untyped", v))

    def test_var_keyword_accepts_unknown_names(self):
        t = Tool(variadic).prepare()
        args = {"a": 1, "zzz": 2}
        t.check(args)
        self.assertEqual(t.invoke(args, None), {"a": 1, "zzz": 2})
        self.assertEqual(message(variadic, {"a": "no"}), 'parameter \'a\': expected integer, got string ("no")')


class InvokeTest(unittest.TestCase):
    def test_defaults_are_applied_for_absent_params(self):
        t = Tool(everything).prepare()
        self.assertEqual(t.invoke({}, None), "ok")
        p = Tool(positional).prepare()
        self.assertEqual(p.invoke({"a": 1}, None), (1, "x", False))
        self.assertEqual(p.invoke({"a": 1, "b": "y", "c": True}, None), (1, "y", True))

    def test_context_is_passed(self):
        ctx = Context("s")
        self.assertIs(Tool(with_ctx).prepare().invoke({"x": 1}, ctx), ctx)


class ContextTest(unittest.TestCase):
    def test_sessions_are_shared_per_id(self):
        a, b, c = Context("sess-A"), Context("sess-A"), Context("sess-B")
        a.session["n"] = 1
        self.assertIs(a.session, b.session)
        self.assertEqual(b.session, {"n": 1})
        self.assertEqual(c.session, {})
        self.assertIsNot(Context().session, Context().session)  # no session id: per call

    def test_deadline_and_cancel(self):
        ctx = Context(deadline=time.monotonic() + 60)
        self.assertFalse(ctx.cancelled)
        self.assertAlmostEqual(ctx.time_left(), 60, delta=1)
        ctx.cancel()
        self.assertTrue(ctx.cancelled)
        with self.assertRaises(ToolError) as caught:
            ctx.raise_if_cancelled()
        self.assertEqual(caught.exception.code, "CANCELLED")
        late = Context(deadline=time.monotonic() - 1)
        self.assertTrue(late.cancelled)
        with self.assertRaises(ToolError) as caught:
            late.raise_if_cancelled()
        self.assertEqual(caught.exception.code, "TIMEOUT")
        self.assertIsNone(Context().time_left())

    def test_logger_is_logging_compatible(self):
        import logging
        ctx = Context(call_id=5, tool_name="t")
        self.assertTrue(ctx.logger.isEnabledFor(logging.INFO))
        self.assertIs(ctx.logger, ctx.logger)

    def test_tool_error(self):
        e = ToolError("NOT_FOUND", "no such user")
        self.assertEqual((e.code, e.message, str(e)), ("NOT_FOUND", "no such user", "no such user"))
        self.assertEqual(ToolError("just a message").code, "TOOL_ERROR")


if __name__ == "__main__":
    unittest.main()


class CommandLineValueTest(unittest.TestCase):
    """`exec tool k=v`: the text converted to the declared type (HTTPie's convention)."""

    def check(self, fn, **texts):
        from snakepit.tools import Tool
        args = {k: {"$cli": v} for k, v in texts.items()}
        Tool(fn).prepare().check(args)
        return args

    def test_text_follows_the_signature(self):
        def f(a: int, s: str, b: bool = False, x: "int | None" = None, xs: list = None, n: float = 1.0, raw: bytes = b"", anything=None):
            return 0
        got = self.check(f, a="12", s="123", b="false", x="null", xs="[1, 2]", n="-1.5", raw="hi", anything="[1]")
        self.assertEqual(got, {"a": 12, "s": "123", "b": False, "x": None, "xs": [1, 2], "n": -1.5, "raw": b"hi", "anything": "[1]"})
        self.assertEqual(self.check(f, a="1", s="null")["s"], "null")  # null only for an optional
        self.assertEqual(self.check(f, a="1", s="x", b="1", x="7")["x"], 7)

    def test_a_failed_conversion_names_the_parameter_the_type_and_the_syntax(self):
        from snakepit.errors import InvalidArguments

        def f(a: int, flag: bool = False, xs: "list[int] | None" = None):
            return 0
        cases = [({"a": "x"}, "parameter 'a' is integer: \"x\" is not one; write a=12, or a:=JSON for any JSON value"),
                 ({"a": "1.5"}, "parameter 'a' is integer"),
                 ({"a": "1", "flag": "maybe"}, "write flag=true or flag=false"),
                 ({"a": "1", "xs": "[1, \"two\"]"}, "parameter 'xs' is array<integer> | null")]
        for texts, message in cases:
            with self.assertRaises(InvalidArguments) as cm:
                self.check(f, **texts)
            self.assertIn(message, str(cm.exception))

    def test_file_bytes_are_bytes_for_bytes_and_utf8_text_otherwise(self):
        from snakepit.errors import InvalidArguments
        from snakepit.tools import Tool

        def f(data: bytes = b"", text: str = ""):
            return 0
        args = {"data": {"$cli_bytes": b"\x00\xff"}, "text": {"$cli_bytes": "h\u00e9".encode()}}
        Tool(f).prepare().check(args)
        self.assertEqual(args, {"data": b"\x00\xff", "text": "h\u00e9"})
        with self.assertRaises(InvalidArguments) as cm:
            Tool(f).prepare().check({"text": {"$cli_bytes": b"\xff"}})
        self.assertIn("not UTF-8 text", str(cm.exception))


class Base64InputTest(unittest.TestCase):
    def test_a_bytes_parameter_takes_what_exec_json_prints_for_bytes(self):
        def f(data: bytes, other: dict = None):
            return 0
        args = {"data": {"$base64": "AQL/"}, "other": {"$base64": "AQL/"}}
        Tool(f).prepare().check(args)
        self.assertEqual(args["data"], b"\x01\x02\xff")
        self.assertEqual(args["other"], {"$base64": "AQL/"})  # a dict parameter keeps its dict
        with self.assertRaises(InvalidArguments):
            Tool(f).prepare().check({"data": {"$base64": "not base64!"}})
