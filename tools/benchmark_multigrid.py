#!/usr/bin/env python3
"""Time to accuracy with and without multigrid training on the synthetic motion dataset.

    python tools/benchmark_multigrid.py --cfg configs/Synthetic/SLOWFAST_R50_tiny_multigrid.yaml \
        [--target-top1 90] [--only plain|multigrid] [KEY VALUE ...]

Torch threads follow NUM_CPU_THREADS (automatic: the cores the loader workers leave free).

Trains the configured model twice from the same seed with the same stepwise LR recipe: once plainly
and once with the config's multigrid cycles (MULTIGRID.LONG_CYCLE, SHORT_CYCLE; both when the config
turns neither on), validating after every epoch. Reports, per run, the training wall-clock (validation excluded) at which the validation
top-1 accuracy first reached the target (default: the lower of the two runs' best accuracies, so
both reach it), the best accuracy and the total training time. Outputs go to OUTPUT_DIR/{plain,multigrid}.
"""
import json
import os
import sys

import torch

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.config.validate import assert_and_infer_cfg  # noqa: E402
from slowfast.engine import compare, multigrid  # noqa: E402
from slowfast.engine.compare import time_to  # noqa: E402  (the tool's API, used by its tests)
from slowfast.utils.env import cpu_threads  # noqa: E402


def run_config(cfg, use_multigrid: bool, name: str):
    """The config of one run: plain turns both cycles off; multigrid keeps the config's cycles
    (both, when the config turns neither on). Outputs go to OUTPUT_DIR/name, never resumed."""
    cfg = cfg.clone()
    cfg.OUTPUT_DIR = os.path.join(cfg.OUTPUT_DIR, name)
    cfg.TRAIN.AUTO_RESUME = False
    if not use_multigrid:
        cfg.MULTIGRID.LONG_CYCLE = cfg.MULTIGRID.SHORT_CYCLE = False
    elif not (cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE):
        cfg.MULTIGRID.LONG_CYCLE = cfg.MULTIGRID.SHORT_CYCLE = True
    return cfg


def run(cfg, use_multigrid: bool, name: str):
    cfg = run_config(cfg, use_multigrid, name)
    schedule = multigrid.build_schedule(cfg) if use_multigrid else None
    if schedule is not None:
        print(multigrid.format_schedule_table(cfg), flush=True)
    return compare.train_curve(cfg, schedule)


def main(argv=None):
    parser = build_arg_parser("Time to accuracy with and without multigrid.")
    parser.add_argument("--target-top1", type=float, default=None,
                        help="Validation top-1 accuracy (%%) to reach; default: the lower best of the runs.")
    parser.add_argument("--only", choices=("plain", "multigrid"), default=None,
                        help="Run one of the two trainings (e.g. to keep each invocation short).")
    args = parse_args(argv, parser)
    cfg = assert_and_infer_cfg(load_config(args, args.cfg_files[0] if args.cfg_files else None))
    torch.set_num_threads(cpu_threads(cfg))
    names = (args.only,) if args.only else ("plain", "multigrid")
    curves = {name: run(cfg, name == "multigrid", name) for name in names}
    target = args.target_top1
    if target is None:
        target = min(max(top1 for _, _, top1 in curve) for curve in curves.values())
    report = {"target_top1": target}
    for name, curve in curves.items():
        epoch, seconds = time_to(curve, target)
        report[name] = {"epochs": len(curve), "train_seconds": curve[-1][1], "best_top1": max(c[2] for c in curve),
                        "final_top1": curve[-1][2], "epoch_reaching_target": epoch, "seconds_to_target": seconds,
                        "curve(epoch, train_s, val_top1)": curve}
    print(json.dumps(report, indent=1))
    print(format_table(report, names))


def format_table(report, names) -> str:
    """The runs side by side: epochs, training time, best top-1, time to the target and the
    multigrid speed-up (plain time / multigrid time) when both runs reached it."""
    target = report["target_top1"]
    header = ("run", "epochs", "train s", "best top-1", f"epoch to {target:g}%", f"s to {target:g}%")
    rows = []
    for name in names:
        r = report[name]
        reached = r["seconds_to_target"] is not None
        rows.append((name, str(r["epochs"]), f"{r['train_seconds']:.0f}", f"{r['best_top1']:.1f}",
                     str(r["epoch_reaching_target"]) if reached else "-",
                     f"{r['seconds_to_target']:.0f}" if reached else "not reached"))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in (header, *rows)]
    seconds = [report.get(name, {}).get("seconds_to_target") for name in ("plain", "multigrid")]
    if None not in seconds:
        lines.append(f"multigrid speed-up to {target:g}% top-1: {seconds[0] / seconds[1]:.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
