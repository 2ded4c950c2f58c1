"""Logging set-up and the ``json_stats`` lines of SlowFast's log format.

The main process logs to stdout and ``OUTPUT_DIR/stdout.log``; other ranks only log warnings
and errors (so a failing rank is still heard). ``log_json_stats`` writes lines

    json_stats: {"_type": "train_iter_", "dt": 0.12, "epoch": "3/196", ...}

with sorted keys to the log and, on the main process, to ``OUTPUT_DIR/json_stats.log``, which
``tools/plot_log.py`` and the public SlowFast log parsers read.
"""
import decimal
import logging
import os
import sys
from typing import Dict, Optional

import simplejson

_FORMAT = "[%(asctime)s][%(levelname)s] %(name)s: %(lineno)4d: %(message)s"
_DATE_FORMAT = "%m/%d %H:%M:%S"
_PACKAGE_LOGGER = "slowfast"
# Marks the handlers installed here so a second set-up replaces them instead of doubling them.
_HANDLER_TAG = "_slowfast_handler"

JSON_STATS_FILE = "json_stats.log"
STDOUT_FILE = "stdout.log"


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name`` (a child of the package logger configured below)."""
    return logging.getLogger(name)


def setup_logging(output_dir: Optional[str] = None, is_master: bool = True) -> logging.Logger:
    """Configure the ``slowfast`` logger for this process.

    Args:
        output_dir: when given (and ``is_master``), also append to ``output_dir/stdout.log``.
        is_master: rank 0 logs INFO to stdout and the file; other ranks log WARNING and above
            to stderr only.
    Returns:
        the package logger.
    """
    logger = logging.getLogger(_PACKAGE_LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_TAG, False)]:
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.INFO if is_master else logging.WARNING)
    logger.propagate = False
    formatter = logging.Formatter(_FORMAT, datefmt=_DATE_FORMAT)

    handlers = [logging.StreamHandler(sys.stdout if is_master else sys.stderr)]
    if is_master and output_dir:
        os.makedirs(output_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(output_dir, STDOUT_FILE), mode="a"))
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _HANDLER_TAG, True)
        logger.addHandler(handler)
    return logger


def format_json_stats(stats: Dict) -> str:
    """``json_stats: {...}`` with sorted keys; floats keep 6 significant digits (as numbers)."""
    rounded = {
        key: decimal.Decimal(f"{value:.6g}") if isinstance(value, float) else value
        for key, value in stats.items()
    }
    return "json_stats: " + simplejson.dumps(rounded, sort_keys=True, use_decimal=True)


def log_json_stats(stats: Dict, output_dir: Optional[str] = None, is_master: bool = True) -> str:
    """Log ``stats`` as a ``json_stats`` line; on the main process also append it to
    ``output_dir/json_stats.log``. Returns the line."""
    line = format_json_stats(stats)
    get_logger(__name__).info(line)
    if is_master and output_dir:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, JSON_STATS_FILE), "a") as stats_file:
            stats_file.write(line + "\n")
    return line
