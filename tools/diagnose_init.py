#!/usr/bin/env python3
"""Per-stage, per-pathway activation and gradient statistics at initialisation and over the first
training steps of a config (see slowfast/models/diagnose.py for the columns).

    python tools/diagnose_init.py --cfg configs/Synthetic/SLOWFAST_SHUFFLENETV2_tiny.yaml \
        [--steps 30] [--every 10] [KEY VALUE ...]

Runs the config's real training (its loader, optimizer, LR schedule, seed) for ``--steps`` SGD
steps. Step 0's statistics are those of the initial weights. Prints the full table at step 0 and
every ``--every`` steps, and one summary line per step: loss, per pathway the activation-gradient
growth from the last stage back to the first (``grad x``), and the largest ``|dW|/|W|`` (which
module). Nothing is saved (OUTPUT_DIR receives the logs only).
"""
import os
import sys

import torch

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.config.validate import assert_and_infer_cfg  # noqa: E402
from slowfast.engine import optim  # noqa: E402
from slowfast.engine.evaluator import to_device  # noqa: E402
from slowfast.engine.trainer import Trainer  # noqa: E402
from slowfast.models.build import memory_format  # noqa: E402
from slowfast.models.diagnose import StatsRecorder, format_records, gradient_growth  # noqa: E402
from slowfast.utils.env import cpu_threads  # noqa: E402


def diagnose(cfg, steps: int, every: int, out=print):
    """Train ``steps`` steps of ``cfg``; returns ``[(step, loss, records)]`` (step 0 = initial weights)."""
    trainer = Trainer(cfg)
    history = []
    step, epoch = 0, 0
    with StatsRecorder(trainer.model) as recorder:
        while step < steps:
            trainer.on_epoch_start(epoch)
            trainer.model.train()
            iters = len(trainer.train_loader)
            for cur_iter, (inputs, labels, _, _) in enumerate(trainer.train_loader):
                if step >= steps:
                    break
                optim.set_lr(trainer.optimizer, trainer.lr_at(epoch + cur_iter / iters))
                inputs = to_device(inputs, trainer.device, memory_format(cfg))
                loss, *_ = trainer.train_step(inputs, labels.to(trainer.device), epoch, cur_iter)
                records = recorder.records()
                history.append((step, loss, records))
                out(summary_line(step, loss, records))
                if step % every == 0 or step == steps - 1:
                    out(format_records(records, f"--- step {step} ({'initial weights' if step == 0 else 'after ' + str(step) + ' updates'}), loss {loss:.4f}"))
                step += 1
            epoch += 1
    return history


def summary_line(step: int, loss: float, records) -> str:
    growth = gradient_growth(records)
    worst = max(records, key=lambda r: r.relative_wgrad)
    path = {0: "slow", 1: "fast"}
    growth_text = " ".join(f"{path.get(p, p)} {g:.3g}" for p, g in growth.items()) or "-"
    return (f"step {step:4d} loss {loss:.4f} | grad x (first/last stage): {growth_text} | "
            f"max |dW|/|W| {worst.relative_wgrad:.3g} at {worst.module} {path.get(worst.pathway, '-')}")


def main(argv=None):
    parser = build_arg_parser("Activation and gradient statistics per stage and pathway.")
    parser.add_argument("--steps", type=int, default=30, help="SGD steps to run (step 0 = initial weights).")
    parser.add_argument("--every", type=int, default=10, help="Print the full table every this many steps.")
    args = parse_args(argv, parser)
    if not args.cfg_files:
        parser.error("give --cfg")
    cfg = assert_and_infer_cfg(load_config(args, args.cfg_files[0]))
    torch.set_num_threads(cpu_threads(cfg))
    return diagnose(cfg, args.steps, args.every)


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
