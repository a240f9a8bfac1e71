"""Exceptions that map onto protocol ERROR codes.

Why this module exists: tools and the runtime both raise these, and keeping them apart from the
worker lets tool modules import them without pulling in any process machinery.
"""


class ToolError(Exception):
    """Raise from a tool to answer with a chosen error code instead of PYTHON_EXCEPTION.

    `raise ToolError("NOT_FOUND", "no user 42")` -> ERROR {"code": "NOT_FOUND", "message": ...}.
    The message alone (`ToolError("no user 42")`) uses the code "TOOL_ERROR".
    """

    def __init__(self, code, message=None):
        if message is None:
            code, message = "TOOL_ERROR", code
        super().__init__(message)
        self.code = str(code)
        self.message = str(message)

    def __str__(self):
        return self.message


class InvalidArguments(ToolError):
    """Arguments do not match the tool's parameters (code INVALID_ARGUMENTS)."""

    def __init__(self, message):
        super().__init__("INVALID_ARGUMENTS", message)


class CallStopped(ToolError):
    """The call was cancelled (code CANCELLED) or ran past its deadline (code TIMEOUT)."""
