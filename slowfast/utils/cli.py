"""The entry point every tool in ``tools/`` runs through: ``run_tool(main)``.

A mistake the user can fix (the framework's :class:`~slowfast.utils.errors.SlowFastError` family
and ``FileNotFoundError``) is printed as

    error: <what>; <how to fix>
      <at most ten indented detail lines>

on stderr, with exit code 2 (the convention of argparse, git and pip for usage errors), and no
traceback: the traceback of a user mistake points into the framework and hides the one line that
matters. ``SLOWFAST_TRACEBACK=1`` prints the traceback too (for bug reports). Any other exception
is a bug and propagates with its traceback as usual.
"""
import os
import sys
import traceback
from typing import Callable, List, Optional, Sequence

from slowfast.utils.errors import MAX_DETAIL_LINES, SlowFastError

TRACEBACK_ENV = "SLOWFAST_TRACEBACK"
USER_ERRORS = (SlowFastError, FileNotFoundError)


def error_lines(error: BaseException) -> List[str]:
    """The report of a user error: one ``error:`` line, then at most MAX_DETAIL_LINES indented lines."""
    if isinstance(error, SlowFastError):
        text, details = error.one_line(), list(error.details)
    elif isinstance(error, FileNotFoundError) and error.filename:
        # The OS's "[Errno 2] No such file or directory: 'x'" names the file in quotes and Errno noise.
        text, details = f"file not found: {error.filename}; check the path", []
    else:
        text, details = str(error) or type(error).__name__, []
    # A message that spans lines keeps its first line as the error, the rest become details.
    first, *rest = text.splitlines() or [""]
    details = [line.strip() for line in rest if line.strip()] + [str(d) for d in details]
    if len(details) > MAX_DETAIL_LINES:
        hidden = len(details) - (MAX_DETAIL_LINES - 1)
        details = details[:MAX_DETAIL_LINES - 1] + [f"... and {hidden} more"]
    return [f"error: {first}"] + [f"  {line}" for line in details]


def report(error: BaseException, stream=None) -> None:
    """Print ``error`` as :func:`error_lines` (with its traceback first when TRACEBACK_ENV is set)."""
    stream = stream or sys.stderr
    if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        traceback.print_exception(type(error), error, error.__traceback__, file=stream)
    print("\n".join(error_lines(error)), file=stream, flush=True)


def run_tool(main: Callable, argv: Optional[Sequence[str]] = None) -> None:
    """Run a tool's ``main`` and exit: its integer result (0 for None or any other value), or 2
    after reporting a user error."""
    try:
        result = main() if argv is None else main(list(argv))
    except USER_ERRORS as error:
        report(error)
        sys.exit(2)
    sys.exit(result if isinstance(result, int) and not isinstance(result, bool) else 0)


def progress(items: Sequence, unit: str = "config"):
    """``items`` with a progress bar on stderr for long loops over configs: ``N/total``, elapsed
    time and ETA, the current item as postfix. Results go to stdout through ``bar.write`` (a plain
    print would tear the bar)."""
    from tqdm import tqdm

    return tqdm(items, unit=unit, file=sys.stderr, dynamic_ncols=True, smoothing=0,
                bar_format="{n_fmt}/{total_fmt} {unit}s [{elapsed}<{remaining}]{postfix}")
