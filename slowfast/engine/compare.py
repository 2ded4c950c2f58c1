"""Time-to-accuracy comparisons of training runs (``tools/compare_runs.py``, ``tools/benchmark_multigrid.py``).

A *curve* is a list of ``(epoch, training seconds so far, val top-1 %)`` rows, one per epoch:
:class:`TimedTrainer` validates after every epoch and counts only the time spent training
(loader rebuilds at schedule changes included, validation and BN refreshes excluded).
The pure functions below turn curves into summaries, a markdown table and a PNG.
"""
import math
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

from slowfast.engine.trainer import Trainer

Curve = List[Tuple[int, float, float]]


class TimedTrainer(Trainer):
    """A :class:`Trainer` that validates after every epoch and records ``self.curve``."""

    def __init__(self, cfg, schedule=None):
        self.curve: Curve = []
        self.train_seconds = 0.0
        super().__init__(cfg, schedule)

    def is_eval_epoch(self, epoch: int) -> bool:
        return True

    def on_epoch_start(self, epoch: int) -> None:
        start = time.perf_counter()  # loader/model rebuilds at phase changes are training cost
        super().on_epoch_start(epoch)
        self.train_seconds += time.perf_counter() - start

    def train_epoch(self, epoch: int) -> Dict:
        start = time.perf_counter()
        stats = super().train_epoch(epoch)
        self.train_seconds += time.perf_counter() - start
        return stats

    def on_epoch_end(self, epoch: int) -> None:
        super().on_epoch_end(epoch)
        top1 = 100.0 - self.last_val_stats["top1_err"]
        self.curve.append((epoch + 1, round(self.train_seconds, 2), round(top1, 2)))


def train_curve(cfg, schedule=None) -> Curve:
    """Train ``cfg`` from scratch (never resumed) with a validation after every epoch; its curve."""
    trainer = TimedTrainer(cfg, schedule)
    trainer.fit()
    return trainer.curve


def time_to(curve: Curve, target: float) -> Tuple[Optional[int], Optional[float]]:
    """``(epoch, training seconds)`` of the first validation at or above ``target`` %, else ``(None, None)``."""
    return next(((epoch, seconds) for epoch, seconds, top1 in curve if top1 >= target), (None, None))


def best(curve: Curve) -> Tuple[float, int]:
    """``(best val top-1 %, first epoch reaching it)``."""
    top1 = max(row[2] for row in curve)
    return top1, next(epoch for epoch, _, value in curve if value == top1)


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarize(curves: Sequence[Curve], target: float) -> Dict:
    """Per-seed figures of one config's runs and their mean ± std.

    Returns keys ``best`` / ``train_s`` (mean, std over runs), ``seconds_to`` / ``epoch_to``
    (mean, std over the runs that reached ``target``, or None), ``reached`` (how many did), ``runs``.
    """
    bests = [best(curve)[0] for curve in curves]
    reached = [time_to(curve, target) for curve in curves]
    reached = [r for r in reached if r[0] is not None]
    return {
        "runs": len(curves),
        "best": mean_std(bests),
        "train_s": mean_std([curve[-1][1] for curve in curves]),
        "reached": len(reached),
        "epoch_to": mean_std([r[0] for r in reached]) if reached else None,
        "seconds_to": mean_std([r[1] for r in reached]) if reached else None,
    }


def _pm(pair, fmt: str) -> str:
    if pair is None:
        return "not reached"
    mean, std = pair
    return f"{mean:{fmt}} ± {std:{fmt}}"


def format_markdown(results: Dict[str, Sequence[Curve]], target: float, notes: Sequence[str] = ()) -> str:
    """The comparison table: one row per config (mean ± std over its seeds), then one per run.

    Args:
        results: config label -> the curves of its seeds (seed order).
        target: val top-1 % whose first reaching epoch and training seconds are reported.
        notes: lines written under the title (command, machine load, ...).
    """
    lines = ["# Run comparison", ""] + [f"{note}  " for note in notes] + [""]
    lines += [
        f"| config | seeds | best val top-1 % | epoch to {target:g} % | train s to {target:g} % | reached | train s (all epochs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, curves in results.items():
        s = summarize(curves, target)
        lines.append(
            f"| {label} | {s['runs']} | {_pm(s['best'], '.1f')} | {_pm(s['epoch_to'], '.1f')} | "
            f"{_pm(s['seconds_to'], '.0f')} | {s['reached']}/{s['runs']} | {_pm(s['train_s'], '.0f')} |"
        )
    lines += ["", "Per run:", "", "| config | seed | best val top-1 % (epoch) | epoch, train s to target | epochs | train s |",
              "|---|---|---|---|---|---|"]
    for label, curves in results.items():
        for seed, curve in enumerate(curves):
            top1, epoch = best(curve)
            reach_epoch, reach_s = time_to(curve, target)
            reach = "not reached" if reach_epoch is None else f"{reach_epoch}, {reach_s:.0f}"
            lines.append(f"| {label} | {seed} | {top1:.1f} ({epoch}) | {reach} | {len(curve)} | {curve[-1][1]:.0f} |")
    return "\n".join(lines) + "\n"


def plot_curves(results: Dict[str, Sequence[Curve]], path: str, target: Optional[float] = None,
                x_axis: str = "seconds") -> None:
    """Validation top-1 against training seconds (``x_axis="seconds"``) or epochs (``"epoch"``: for
    runs timed under different machine loads), one colour per config, one line per seed."""
    column = {"epoch": 0, "seconds": 1}[x_axis]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, curves) in enumerate(results.items()):
        for seed, curve in enumerate(curves):
            ax.plot([c[column] for c in curve], [c[2] for c in curve], color=colours[i % len(colours)],
                    alpha=0.85, marker=".", label=label if seed == 0 else None)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("training seconds (validation excluded)" if column else "epoch")
    ax.set_ylabel("val top-1 %")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
