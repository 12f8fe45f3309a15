"""User-facing error types: the CLI prints their message as one line and exits non-zero."""


class BenchError(Exception):
    """An error the user can fix; the message names the problem and the fix."""
