#!/usr/bin/env python3
"""Check a whole dataset before training: every annotation line parses, every label is in
``[0, MODEL.NUM_CLASSES)``, every video opens and its first and last frames decode.

    python tools/validate_data.py --cfg configs/Kinetics/SLOWFAST_8x8_R50.yaml
    python tools/validate_data.py --cfg X.yaml --splits train val DATA.PATH_TO_DATA_DIR /data/k400

Prints one block per split with every problem (file and line of the annotation, and why) and
exits 1 when anything is wrong. The logic lives in ``slowfast.datasets.failures``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.datasets.failures import format_report, summarize, validate_dataset  # noqa: E402


def main(argv=None) -> int:
    parser = build_arg_parser("Check that every annotation line parses and every video decodes.")
    parser.add_argument("--splits", nargs="+", choices=["train", "val", "test"], default=["train", "val", "test"],
                        help="Splits to check (train/val read TRAIN.DATASET, test TEST.DATASET).")
    parser.add_argument("--quiet", action="store_true", help="No progress lines, only the report.")
    args = parse_args(argv, parser)
    files = list(args.cfg_files) or [None]
    bad = 0
    for path in files:
        cfg = load_config(args, path)
        print(f"== {path or 'default config'}: {', '.join(args.splits)}")

        def progress(split, done, total):
            if not args.quiet and (done == total or done % 500 == 0):
                print(f"  [{split}] checked {done}/{total} videos", flush=True)

        reports = validate_dataset(cfg, args.splits, progress)
        print(format_report(reports))
        counts = summarize(reports)
        bad += counts["bad_videos"] + counts["annotation_errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
