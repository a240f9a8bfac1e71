"""Snakepit's Python worker runtime: serve `@tool` functions to the Node agent.

Why this module exists: it is the public API a tool module imports:
    from snakepit import tool, Context, ToolError
"""

__version__ = "0.1.0"

from .context import Context  # noqa: E402
from .errors import ToolError  # noqa: E402
from .tools import tool  # noqa: E402

__all__ = ["tool", "Context", "ToolError", "__version__"]
