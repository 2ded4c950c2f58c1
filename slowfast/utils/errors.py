"""The framework's own error types: mistakes a user can fix, reported by every tool in one line.

Every tool catches :class:`SlowFastError` (and ``FileNotFoundError``) at its entry point and prints
``error: <message>; <hint>`` to stderr, then at most ten indented ``details`` lines, and exits with
code 2 (see ``slowfast.utils.cli``). Anything else is a bug and keeps its traceback.
"""
from typing import Iterable, Optional

MAX_DETAIL_LINES = 10


class SlowFastError(Exception):
    """A user-fixable error.

    Args:
        message: what is wrong, one line, naming the key, file (and line) or value.
        hint: how to fix it, one line (printed after ``; ``), or None.
        details: supporting lines (first missing names, near matches, ...); at most
            ``MAX_DETAIL_LINES`` are printed.
    """

    def __init__(self, message: str, hint: Optional[str] = None, details: Iterable[str] = ()):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details)

    def __reduce__(self):
        # Keep hint and details when pickled (an error raised in a spawned process reaches the parent).
        return type(self), (self.message, self.hint, self.details)

    def one_line(self) -> str:
        """``<message>; <hint>`` (or the message alone)."""
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        lines = [self.one_line()] + [f"  {line}" for line in self.details[:MAX_DETAIL_LINES]]
        return "\n".join(lines)


class ConfigError(SlowFastError, ValueError):
    """A config that cannot be loaded or is inconsistent; the message names the file or key."""


class DataError(SlowFastError, ValueError):
    """A dataset split that cannot be used (missing directory, empty list, unreadable files)."""


class CheckpointError(SlowFastError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class DeviceUnavailableError(SlowFastError, RuntimeError):
    """The configured device (``NUM_GPUS``) is not on this machine."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint path that does not exist; still a ``FileNotFoundError`` for callers that test for one."""
