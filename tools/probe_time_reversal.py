#!/usr/bin/env python3
"""Does a trained classifier use the direction of time? Per class top-1 on clips forwards and
played backwards (see slowfast/engine/time_reversal.py for the columns).

    python tools/probe_time_reversal.py --cfg configs/Synthetic/I3D_R50_tiny.yaml \
        TEST.CHECKPOINT_FILE_PATH out/checkpoints/checkpoint_epoch_00042.pyth [--split val] \
        [--pairs 0:1,2:3] [--output probe.md] [KEY VALUE ...]

The weights are those testing uses (TEST.CHECKPOINT_FILE_PATH, else the newest checkpoint of
OUTPUT_DIR), loaded completely or refused. ``--pairs`` names each class and the class it becomes
backwards (``a:b`` both ways, ``c:c`` a class that is its own reversal); the built-in synthetic
dataset declares its own. The table is printed, and written to ``--output`` when given.
"""
import os
import sys

import torch

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.config.validate import assert_and_infer_cfg  # noqa: E402
from slowfast.datasets.loader import construct_loader  # noqa: E402
from slowfast.engine import checkpoint as cu  # noqa: E402
from slowfast.engine.time_reversal import format_table, parse_reversal_pairs, probe_time_reversal  # noqa: E402
from slowfast.inference.labels import class_name, class_names_of  # noqa: E402
from slowfast.models.build import build_model, get_device  # noqa: E402
from slowfast.utils.env import cpu_threads  # noqa: E402
from slowfast.utils.errors import ConfigError  # noqa: E402


def reversal_partners(cfg, dataset, pairs: str):
    """``--pairs`` when given, else the pairs the dataset declares (``reversed_classes``)."""
    if pairs:
        return parse_reversal_pairs(pairs, cfg.MODEL.NUM_CLASSES)
    declared = getattr(type(dataset), "reversed_classes", None)
    if declared is None:
        raise ConfigError(f"dataset '{type(dataset).__name__}' declares no reversed classes",
                          hint="name them with --pairs, e.g. --pairs 0:1,2:3,8:8")
    return list(declared(cfg))


def main(argv=None):
    parser = build_arg_parser("Per-class top-1 on clips forwards and played backwards.")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"),
                        help="Which split's loader to probe (its single-view transform for val).")
    parser.add_argument("--pairs", default="", help="CLASS:CLASS pairs a clip turns into when reversed.")
    parser.add_argument("--output", default="", help="Also write the markdown table to this file.")
    args = parse_args(argv, parser)
    if not args.cfg_files:
        parser.error("give --cfg")
    cfg = assert_and_infer_cfg(load_config(args, args.cfg_files[0]))
    torch.set_num_threads(cpu_threads(cfg))
    loader = construct_loader(cfg, args.split)
    partners = reversal_partners(cfg, loader.dataset, args.pairs)
    device = get_device(cfg)
    model = build_model(cfg, device)
    weights = cu.load_inference_weights(model, cfg, what="the time-reversal probe")
    counts = probe_time_reversal(model, loader, cfg, partners, device)
    names = class_names_of(cfg)
    table = format_table(counts, partners, [class_name(names, i) for i in range(len(partners))])
    print(f"weights {weights or 'random (TEST.ALLOW_RANDOM_INIT)'}; split {args.split}\n{table}")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(table + "\n")
    return counts


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
