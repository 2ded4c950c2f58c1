#!/usr/bin/env python3
"""Train, test and/or run the demo of a video model, as configured. Dispatch only.

    python tools/run_net.py --cfg configs/Kinetics/SLOWFAST_8x8_R50.yaml [KEY VALUE ...] [--opts KEY VALUE ...]

For each ``--cfg`` (several run one after another): load the config, validate it, check every
split and input the enabled jobs will read (``slowfast.engine.preflight``), write the resolved
config (``OUTPUT_DIR/config.yaml`` when training; a test or demo run writes ``config_test.yaml`` /
``config_demo.yaml`` so a training run's config is kept), then train (TRAIN.ENABLE), test (TEST.ENABLE; the newest checkpoint,
i.e. the weights just trained, unless TEST.CHECKPOINT_FILE_PATH is set) and run the demo
(DEMO.ENABLE). Works from the repository root without installing the package, and under
``torchrun`` (each process runs this script; see slowfast/engine/distributed.py).
"""
import os
import sys

# Run from a checkout without installation: make the repository's package importable.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

# Only the config loader at start-up (no torch, about a second): a typo is answered at once.
from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402


def config_file_name(cfg) -> str:
    """``config.yaml`` for a training run; a test or demo run, often pointed at a training run's
    OUTPUT_DIR, writes its own file and keeps the config the checkpoints were trained with."""
    if cfg.TRAIN.ENABLE:
        return "config.yaml"
    return "config_test.yaml" if cfg.TEST.ENABLE else "config_demo.yaml"


def write_config(cfg) -> str:
    """Save the resolved config as ``OUTPUT_DIR/<config_file_name>`` (first process only)."""
    path = os.path.join(cfg.OUTPUT_DIR, config_file_name(cfg))
    if int(os.environ.get("RANK", "0")) == 0:
        os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
        with open(path, "w") as config_file:
            config_file.write(cfg.dump())
    return path


def run_config(cfg, init_method: str) -> None:
    """Train, then test, then demo, as ``cfg`` enables them."""
    from slowfast.engine.distributed import launch_job
    from slowfast.engine.evaluator import test
    from slowfast.engine.trainer import train

    # Train then test inside one process group (one start-up, one rendezvous).
    jobs = [job for enabled, job in ((cfg.TRAIN.ENABLE, train), (cfg.TEST.ENABLE, test)) if enabled]
    if jobs:
        launch_job(cfg, init_method, jobs)
    if cfg.DEMO.ENABLE:
        from slowfast.visualization.demo import run_demo

        run_demo(cfg)


def print_schedule(cfg) -> None:
    """``--print-schedule``: the multigrid schedule (phases and the epoch each ends at), no training."""
    from slowfast.engine import multigrid

    if not (cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE):
        print(f"multigrid is off (MULTIGRID.LONG_CYCLE and SHORT_CYCLE are False): "
              f"{cfg.SOLVER.MAX_EPOCH} epochs at batch {cfg.TRAIN.BATCH_SIZE}, "
              f"{cfg.DATA.NUM_FRAMES} frames, crop {cfg.DATA.TRAIN_CROP_SIZE}")
        return
    print(multigrid.format_schedule_table(multigrid.init_multigrid(cfg)))


def main(argv=None) -> None:
    parser = build_arg_parser()
    parser.add_argument("--print-schedule", action="store_true",
                        help="Print the (multigrid) training schedule of each --cfg and exit without training.")
    args = parse_args(argv, parser)
    if not args.cfg_files:
        print("usage: python tools/run_net.py --cfg CONFIG.yaml [KEY VALUE ...] [--opts KEY VALUE ...]\n"
              "error: no config given; pass at least one --cfg file (see configs/)", file=sys.stderr)
        raise SystemExit(2)
    for path in args.cfg_files:
        if args.print_schedule:  # no hardware checks: the schedule can be read on any machine
            print_schedule(load_config(args, path))
            continue
        cfg = load_config(args, path)
        from slowfast.config.validate import assert_and_infer_cfg
        from slowfast.engine.preflight import check_run

        cfg = assert_and_infer_cfg(cfg)
        check_run(cfg)  # every split and input, before a model is built or a process started
        write_config(cfg)
        run_config(cfg, args.init_method)


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
