#!/usr/bin/env python3
"""Plot training curves from ``json_stats.log`` files as PNGs.

    python tools/plot_log.py OUTPUT_DIR/json_stats.log [more logs or OUTPUT_DIRs ...] \\
        [--output_dir plots/] [--metrics loss lr top1_err top5_err]

Reads the lines ``json_stats: {...}`` (anything before ``json_stats:`` is ignored, so a full
``stdout.log`` works too) of types ``train_iter_`` / ``train_iter``, ``train_epoch`` and
``val_epoch``. The x axis is the epoch: an iteration record ``epoch "3/196", iter "20/940"`` is
at ``2 + 20/940``, an epoch record at its epoch's end. A resumed run that logged an epoch twice
keeps the later records. Writes ``<metric>.png`` per metric (one curve per log and record type).
"""
import argparse
import json
import os
import re
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from slowfast.utils.errors import DataError  # noqa: E402

_JSON_STATS = re.compile(r"json_stats:\s*(\{.*\})\s*$")
# Record type -> (legend name, plotted with markers): iterations are dense, epochs sparse.
_TYPES = {"train_iter_": ("train (iter)", False), "train_iter": ("train (iter)", False),
          "train_epoch": ("train (epoch)", True), "val_epoch": ("val", True)}
DEFAULT_METRICS = ("loss", "lr", "top1_err", "top5_err")

Series = Dict[Tuple[str, str], Dict[float, float]]  # (record type, metric) -> {x: value}


def _fraction(text, path: str, line_number: int, key: str) -> Tuple[int, int]:
    """``"3/196"`` -> (3, 196), with an error naming the file and line."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise DataError(f"{path}:{line_number}: '{key}' should look like '3/196', got {text!r}",
                        "is this a json_stats.log written by tools/run_net.py?")
    return int(match.group(1)), int(match.group(2))


def record_x(record: dict, path: str, line_number: int) -> Optional[float]:
    """Epoch-valued x of a record: ``epoch - 1 + iter / iters`` for iterations, ``epoch`` for epochs."""
    if "epoch" not in record:
        return None
    epoch, _ = _fraction(record["epoch"], path, line_number, "epoch")
    if "iter" in record:
        iteration, iterations = _fraction(record["iter"], path, line_number, "iter")
        return epoch - 1 + iteration / max(iterations, 1)
    return float(epoch)


def parse_log(path: str) -> Series:
    """Metric series of one log; later records replace earlier ones at the same x (resumed runs)."""
    series: Series = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            match = _JSON_STATS.search(line)
            if not match:
                continue
            try:
                record = json.loads(match.group(1))
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{line_number}: malformed json_stats record ({error})",
                                "remove the line (a run killed while writing it?)") from error
            kind = record.get("_type")
            if kind not in _TYPES:
                continue
            x = record_x(record, path, line_number)
            if x is None:
                continue
            for metric, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    series[(kind, metric)][x] = float(value)
    if not series:
        raise DataError(f"{path}: no json_stats records of types {sorted(_TYPES)}",
                        "give OUTPUT_DIR/json_stats.log (or stdout.log) of a run that logged at least one iteration")
    return series


def plot_metric(metric: str, logs: Sequence[Tuple[str, Series]]) -> Optional[Figure]:
    """A figure of ``metric`` over epochs for every log and record type that has it (None if none)."""
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot(1, 1, 1)
    plotted = False
    for name, series in logs:
        for kind, (legend, markers) in _TYPES.items():
            points = series.get((kind, metric))
            if not points:
                continue
            xs = sorted(points)
            label = f"{name}: {legend}" if len(logs) > 1 else legend
            # A line through one point draws nothing: a lone point (a one-epoch run) gets a marker.
            marker = "o" if markers or len(xs) == 1 else None
            axes.plot(xs, [points[x] for x in xs], marker=marker, markersize=3 if len(xs) > 1 else 6,
                      linewidth=1.5 if markers else 0.8, label=label)
            plotted = True
    if not plotted:
        return None
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric + (" (%)" if metric.endswith("_err") else ""))
    if metric == "lr":
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def resolve_log(path: str) -> str:
    """A log file, or ``<dir>/json_stats.log`` for an OUTPUT_DIR."""
    if os.path.isdir(path):
        path = os.path.join(path, "json_stats.log")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"log not found: {path}; give a json_stats.log file or the OUTPUT_DIR of a run")
    return path


def plot_logs(paths: Sequence[str], output_dir: str, metrics: Sequence[str] = DEFAULT_METRICS) -> List[str]:
    """Write ``output_dir/<metric>.png`` for each metric present in the logs; returns the files."""
    files = [resolve_log(p) for p in paths]
    logs = [(os.path.basename(os.path.dirname(os.path.abspath(f))) or f, parse_log(f)) for f in files]
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for metric in metrics:
        figure = plot_metric(metric, logs)
        if figure is not None:
            written.append(os.path.join(output_dir, f"{metric}.png"))
            figure.savefig(written[-1], dpi=120)
    return written


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", help="json_stats.log files or OUTPUT_DIRs")
    parser.add_argument("--output_dir", default="", help="default: the folder of the first log")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), help="record keys to plot")
    args = parser.parse_args(argv)
    output_dir = args.output_dir or os.path.dirname(os.path.abspath(resolve_log(args.logs[0])))
    written = plot_logs(args.logs, output_dir, args.metrics)
    if not written:
        raise DataError(f"none of the metrics {args.metrics} is in {args.logs}",
                        "choose --metrics among the keys of the json_stats records")
    print("\n".join(written))
    return written


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
