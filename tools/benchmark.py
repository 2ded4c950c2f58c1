#!/usr/bin/env python3
"""Benchmarks: the model suite (``--mode model``) and data loading (``--mode data`` / ``decode``).

Model benchmark (one row per config; each model measured in its own subprocesses):

    python tools/benchmark.py --mode model --cfg configs/Kinetics/SLOWFAST_GHOSTNET_W1.0_8x8_R50_stepwise_multigrid.yaml
    python tools/benchmark.py --mode model --all --markdown docs/model_zoo.md
    python tools/benchmark.py --mode model --cfg X.yaml DATA.TRAIN_CROP_SIZE 64 --batch-sizes 1 --no-memory

It prints a Markdown table: params, GFLOPs, clips/s (latency ms) of PyTorch eager, the optimised
eager path and onnxruntime at each batch size, training clips/s and peak RSS. ``--cfg`` and the
``KEY VALUE`` overrides (before the list-valued flags, or after ``--opts``) are honoured (an
upstream version ignored ``--cfg``). Clips are ``DATA.NUM_FRAMES`` at ``DATA.TRAIN_CROP_SIZE``². The logic lives in
``slowfast.inference.benchmark``.

Data benchmark (``slowfast.datasets.benchmark``):

    python tools/benchmark.py --mode data --cfg X.yaml          # the configured train/test loaders
    python tools/benchmark.py --mode decode --videos a.mp4 b.avi  # one clip per call vs the reference decoder
"""
import os
import platform
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.inference.benchmark import BACKENDS  # noqa: E402
from slowfast.inference.optimize import LAYOUTS  # noqa: E402
from slowfast.utils.cli import progress  # noqa: E402


def build_parser():
    parser = build_arg_parser("Model and data-loading benchmarks.")
    parser.add_argument("--mode", choices=["model", "data", "decode"], default="model")
    model = parser.add_argument_group("model benchmark (--mode model)")
    model.add_argument("--all", action="store_true", help="Every config under configs/Kinetics (one per model).")
    model.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8], help="Inference batch sizes.")
    model.add_argument("--train-batch-size", type=int, default=8)
    model.add_argument("--repeats", type=int, default=5, help="Timed runs per candidate (median reported).")
    model.add_argument("--warmup", type=int, default=2, help="Untimed runs per candidate first.")
    model.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads.")
    model.add_argument("--backends", nargs="+", default=list(BACKENDS),
                       choices=list(BACKENDS))
    model.add_argument("--layout", default="auto", choices=list(LAYOUTS),
                       help="Memory layout of the optimised back end (TEST.OPTIMIZE_LAYOUT; auto = the default path).")
    model.add_argument("--no-memory", action="store_true", help="Skip the peak-memory subprocesses.")
    model.add_argument("--no-train", action="store_true", help="Skip the training measurement.")
    model.add_argument("--spin-wait", action="store_true",
                       help="Let idle OpenMP/onnxruntime threads spin (library defaults; unfair on a shared machine).")
    model.add_argument("--markdown", default="", help="Also write/merge the table into this Markdown file.")
    data = parser.add_argument_group("data benchmark (--mode data / decode)")
    data.add_argument("--max-batches", type=int, default=None, help="Batches per loader epoch (data mode).")
    data.add_argument("--videos", nargs="+", default=[], help="Video files (decode mode).")
    data.add_argument("--cpu-time", action="store_true",
                      help="Decode mode: time with this process's CPU time (steadier on a shared machine).")
    return parser


def model_configs(args):
    """(path, name) of the configs to benchmark: --cfg files in order, then --all."""
    from slowfast.models.info import config_files

    files = list(args.cfg_files)
    if args.all:
        files += [f for f in config_files((os.path.join(REPO_ROOT, "configs", "Kinetics"),)) if f not in files]
    return files


def run_model_mode(args, parser) -> int:
    from slowfast.inference.benchmark import BenchmarkSettings, benchmark_config, format_markdown, write_markdown

    files = model_configs(args)
    if not files:
        parser.error("--mode model needs --cfg X.yaml (repeatable) or --all")
    settings = BenchmarkSettings(
        batch_sizes=tuple(args.batch_sizes), train_batch_size=args.train_batch_size, repeats=args.repeats,
        warmup=args.warmup, threads=args.threads, backends=tuple(args.backends),
        measure_memory=not args.no_memory, measure_training=not args.no_train, spin_wait=args.spin_wait,
        layout=args.layout,
    )
    rows, failed = [], 0
    bar = progress(files)  # about a minute per config: N/total and ETA on stderr
    for path in bar:
        name = os.path.splitext(os.path.basename(path))[0]
        bar.set_postfix_str(name)
        try:
            cfg = load_config(args, path, opts=["NUM_GPUS", "0"])
            start = time.perf_counter()
            rows.append(benchmark_config(cfg, settings, name))
            layout = rows[-1].get("layout")  # the optimised path's layout: the same in every run
            bar.write(f"== {path}: done in {time.perf_counter() - start:.0f} s"
                      + (f", optimised layout {layout}" if layout else ""))
        except Exception as error:  # report every config, then fail
            failed += 1
            bar.write(f"== {path}: FAILED: {type(error).__name__}: {error}")
    print()
    print(format_markdown(rows, settings))
    if args.markdown and rows:
        note = (f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {platform.machine()} "
                f"({os.cpu_count()} logical CPUs, shared), {settings.threads} threads"
                f"{' (spinning)' if settings.spin_wait else ' (sleeping when idle)'}, median of {settings.repeats} runs "
                f"after {settings.warmup} warm-up; clips/s (latency ms per batch). Regenerate with "
                f"`python tools/benchmark.py --mode model --cfg <config> --markdown {args.markdown}`.")
        write_markdown(args.markdown, rows, settings, note)
        print(f"\nwrote {args.markdown}")
    return 1 if failed else 0


def run_data_mode(args, parser) -> int:
    from slowfast.datasets.benchmark import benchmark_data

    if len(args.cfg_files) != 1:
        parser.error("--mode data needs exactly one --cfg X.yaml")
    cfg = load_config(args, args.cfg_files[0])
    benchmark_data(cfg, max_batches=args.max_batches)
    return 0


def run_decode_mode(args, parser) -> int:
    from slowfast.datasets.benchmark import benchmark_clip_decoding, format_clip_rows

    if not args.videos:
        parser.error("--mode decode needs --videos FILE [FILE ...]")
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(format_clip_rows(benchmark_clip_decoding(args.videos, clock=clock)))
    return 0


def main(argv=None) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = build_parser()
    args = parse_args(argv, parser)
    modes = {"model": run_model_mode, "data": run_data_mode, "decode": run_decode_mode}
    return modes[args.mode](args, parser)


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
