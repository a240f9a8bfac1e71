"""Your Snakepit tools: plain Python functions, each decorated with @tool.

Run them with `npx snakepit up` (in this directory), then e.g. `npx snakepit exec greet name=Ada`.
Module-level code runs once per worker process: load models or open clients here, not per call.
"""
from __future__ import annotations

import time

from snakepit import Context, ToolError, tool

GREETING = "Hello"


@tool
def greet(name: str, excited: bool = False) -> str:
    """Greet someone (a plain tool: arguments are checked against the signature)."""
    return f"{GREETING}, {name}{'!' if excited else '.'}"


@tool
def word_count(text: str, *, lower: bool = True) -> dict:
    """Count the words of a text (keyword-only options, a dict result)."""
    counts: dict = {}
    for word in text.split():
        key = word.lower() if lower else word
        counts[key] = counts.get(key, 0) + 1
    return counts


@tool(stream=True)
def countdown(start: int, ctx: Context, delay: float = 0.2):
    """Yield start, start-1, … 1 (a streaming tool: each value is one chunk; stops if cancelled)."""
    for n in range(start, 0, -1):
        if ctx.cancelled:
            break
        yield {"n": n}
        time.sleep(delay)


@tool
def remember(ctx: Context, item: str | None = None) -> list:
    """Keep a list per session (run with --session ID: calls of a session share its worker)."""
    items = ctx.session.setdefault("items", [])
    if item is not None:
        items.append(item)
    return items


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b (b=0 shows how a Python exception reaches the caller, with its traceback)."""
    return a / b


@tool
def checked_sqrt(x: float) -> float:
    """Square root of x (raises a ToolError with your own error code for negative x)."""
    if x < 0:
        raise ToolError("NEGATIVE_INPUT", f"x must be >= 0, got {x}")
    return x ** 0.5
