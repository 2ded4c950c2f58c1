#!/usr/bin/env python3
"""Train several configs over several seeds on the same data and compare time to accuracy.

    python tools/compare_runs.py --cfg A.yaml --cfg B.yaml [--cfg A.yaml@SLOWFAST.FUSION=lateral] \
        [--seeds 3] [--target-top1 90] [KEY VALUE ...]
    python tools/compare_runs.py --merge X/compare.json --merge Y/compare.json OUTPUT_DIR Z   # re-render

``--merge`` joins the compare.json of comparisons run side by side (e.g. one process per config)
into one compare.md / compare.png in OUTPUT_DIR, without training.

Each config is trained with RNG_SEED 0..seeds-1, validating after every epoch (validation is not
counted as training time; see slowfast/engine/compare.py). ``KEY VALUE`` overrides apply to every
run; ``A.yaml@KEY=VALUE,KEY=VALUE`` adds overrides to one config only (e.g. the same model with
another fusion). Runs go to ``OUTPUT_DIR/<label>/seed<k>`` (OUTPUT_DIR of the first config after
the overrides); ``OUTPUT_DIR/compare.md`` (best val, epoch and seconds to the target, mean ± std
over seeds, machine load per run), ``compare.png`` (validation curves) and ``compare.json`` (the
curves) are rewritten after every run, so a long comparison can be read while it goes on.
Configs must read the same data (a warning is printed otherwise). Multigrid configs train with
their cycles. Torch threads follow NUM_CPU_THREADS.
"""
import json
import os
import sys
import time

import torch

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.config.validate import assert_and_infer_cfg  # noqa: E402
from slowfast.engine import compare  # noqa: E402
from slowfast.utils.env import cpu_threads  # noqa: E402


def split_spec(spec: str):
    """``"A.yaml@K1=V1,K2=V2"`` -> ``("A.yaml", ["K1", "V1", "K2", "V2"], "A K1=V1 K2=V2")`` (path, overrides, label)."""
    path, _, extra = spec.partition("@")
    overrides = []
    for item in filter(None, extra.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--cfg {spec}: per-config overrides are KEY=VALUE, got '{item}'")
        overrides += [key, value]
    label = os.path.splitext(os.path.basename(path))[0]
    if extra:
        label += " " + " ".join(filter(None, extra.split(",")))
    return path, overrides, label


def data_key(cfg):
    """What makes two runs read the same data."""
    if cfg.TRAIN.DATASET == "synthetic":
        from slowfast.datasets.synthetic import dataset_dir

        return dataset_dir(cfg)
    return (cfg.TRAIN.DATASET, cfg.DATA.PATH_TO_DATA_DIR)


def run_one(cfg):
    """The curve of one run (multigrid configs with their schedule)."""
    schedule = None
    if cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE:
        from slowfast.engine import multigrid

        cfg = cfg.clone()
        schedule = multigrid.build_schedule(cfg)
    return compare.train_curve(cfg, schedule)


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None):
    parser = build_arg_parser("Train configs over seeds and compare time to accuracy.")
    parser.add_argument("--seeds", type=int, default=1, help="Runs per config, with RNG_SEED 0..seeds-1.")
    parser.add_argument("--target-top1", type=float, default=90.0, help="Validation top-1 %% to time (default 90).")
    parser.add_argument("--merge", action="append", default=None,
                        help="A compare.json to join with the others given (no training); repeat.")
    args = parse_args(argv, parser)
    if args.merge:
        return merge(args.merge, dict(zip(args.opts[::2], args.opts[1::2])).get("OUTPUT_DIR", "."), args.target_top1)
    if not args.cfg_files:
        parser.error("give at least one --cfg")
    specs = [split_spec(spec) for spec in args.cfg_files]
    labels = [label for _, _, label in specs]
    if len(set(labels)) != len(labels):
        parser.error(f"configs must differ: {labels}")
    cfgs = {label: assert_and_infer_cfg(load_config(args, path, extra)) for path, extra, label in specs}
    root = next(iter(cfgs.values())).OUTPUT_DIR
    os.makedirs(root, exist_ok=True)
    keys = {label: data_key(cfg) for label, cfg in cfgs.items()}
    if len(set(map(str, keys.values()))) > 1:
        print(f"WARNING: the configs read different data: {keys}", flush=True)
    command = "python tools/compare_runs.py " + " ".join(argv if argv is not None else sys.argv[1:])
    notes = [f"`{command}`", f"target: {args.target_top1:g} % val top-1; seeds 0..{args.seeds - 1}"]
    results = {label: [] for label in cfgs}
    for label, cfg in cfgs.items():
        for seed in range(args.seeds):
            run_cfg = cfg.clone()
            run_cfg.RNG_SEED = seed
            run_cfg.TRAIN.AUTO_RESUME = False
            run_cfg.OUTPUT_DIR = os.path.join(root, label.replace(" ", "_").replace("=", "-"), f"seed{seed}")
            torch.set_num_threads(cpu_threads(run_cfg))
            load_start, start = load_avg(), time.time()
            results[label].append(run_one(run_cfg))
            notes.append(f"{label} seed {seed}: load average (1, 5, 15 min) {load_start} at start, {load_avg()} "
                         f"at end; wall {time.time() - start:.0f} s with validation")
            write_outputs(root, results, args.target_top1, notes)
    print(open(os.path.join(root, "compare.md")).read())


def merge(paths, root, target):
    """Join the curves and notes of several compare.json files into ``root``/compare.{md,png,json}."""
    results, notes = {}, []
    for path in paths:
        with open(path) as report:
            data = json.load(report)
        for label, curves in data["curves(epoch, train_s, val_top1)"].items():
            results.setdefault(label, []).extend([tuple(row) for row in curve] for curve in curves)
        notes += data["notes"]
    os.makedirs(root, exist_ok=True)
    write_outputs(root, results, target, notes)
    return results


def write_outputs(root, results, target, notes):
    done = {label: curves for label, curves in results.items() if curves}
    with open(os.path.join(root, "compare.md"), "w") as out:
        out.write(compare.format_markdown(done, target, notes))
    with open(os.path.join(root, "compare.json"), "w") as out:
        json.dump({"target_top1": target, "curves(epoch, train_s, val_top1)": done, "notes": notes}, out, indent=1)
    compare.plot_curves(done, os.path.join(root, "compare.png"), target)


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
