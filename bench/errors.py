"""User-facing error types: the CLI prints their message as one line and exits non-zero."""


class BenchError(Exception):
    """An error the user can fix; the message names the problem and the fix."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_line(exc: BaseException) -> str:
    """One line for a result row: exception type and the first line of its message."""
    text = first_line(exc)
    return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"
