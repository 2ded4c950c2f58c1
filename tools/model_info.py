#!/usr/bin/env python3
"""Print a model's parameters, GFLOPs/activations at train and test sizes, and per-stage shapes.

    python tools/model_info.py --cfg configs/Kinetics/SLOWFAST_8x8_R50.yaml
    python tools/model_info.py --all                       # every config under configs/ and demo/
    python tools/model_info.py --cfg X.yaml MODEL.NUM_CLASSES 27

Models are built on the CPU (``NUM_GPUS 0``). The logic lives in ``slowfast.models.info``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.models.build import build_model  # noqa: E402
from slowfast.models.info import config_files, model_summary  # noqa: E402
from slowfast.utils.cli import progress  # noqa: E402


def main(argv=None) -> int:
    parser = build_arg_parser("Model statistics: params, GFLOPs, activations, stage output shapes.")
    parser.add_argument("--all", action="store_true", help="Every *.yaml under configs/ and demo/.")
    args = parse_args(argv, parser)
    files = list(args.cfg_files)
    if args.all:
        files += config_files()
    if not files:
        parser.error("give --cfg X.yaml (repeatable) or --all")
    failed = 0
    bar = progress(files)  # --all takes a quarter of an hour: N/total and ETA on stderr
    for path in bar:
        bar.set_postfix_str(os.path.basename(path))
        lines = [f"== {path}"]
        try:
            cfg = load_config(args, path, opts=["NUM_GPUS", "0"])
            lines.append(model_summary(build_model(cfg), cfg))
        except Exception as error:  # report every config, then fail
            failed += 1
            lines.append(f"  FAILED: {type(error).__name__}: {error}")
        bar.write("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
