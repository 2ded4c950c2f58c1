"""Training and validation meters: windowed statistics, top-k errors, ``json_stats`` records.

Records follow the public SlowFast log format (errors in percent, ``epoch "3/196"``,
``iter "20/940"``), so existing log parsers and ``tools/plot_log.py`` read them:

* ``train_iter_``: dt, dt_data, dt_net, epoch, eta, iter, loss, lr, mem, top1_err, top5_err
* ``train_epoch``: the same averaged over the epoch (no iter) plus num_failed (decode failures)
* ``val_epoch``:   epoch, time_diff, top1_err, top5_err, min_top1_err, min_top5_err, mem
"""
import datetime
import resource
from collections import deque
from typing import Dict, List, Sequence

import numpy as np
import torch
from fvcore.common.timer import Timer


def topks_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> List[torch.Tensor]:
    """For each k, how many of the N rows of ``logits (N, K)`` have ``labels (N,)`` in their top k."""
    max_k = max(ks)
    _, top_indices = logits.topk(max_k, dim=1, largest=True, sorted=True)  # (N, max_k)
    hits = top_indices.eq(labels.view(-1, 1))  # (N, max_k)
    return [hits[:, :k].any(dim=1).float().sum() for k in ks]


def effective_topk(cfg) -> int:
    """``TRAIN.TOPK`` bounded by the number of classes (top-5 of 3 classes is top-3)."""
    return min(cfg.TRAIN.TOPK, cfg.MODEL.NUM_CLASSES)


def memory_usage_gb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device``, or the process's peak RSS on the CPU (GiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1024**3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class ScalarMeter:
    """A scalar series: median/average over the last ``window_size`` values and a global mean."""

    def __init__(self, window_size: int):
        self.window = deque(maxlen=window_size)
        self.total = 0.0
        self.count = 0

    def reset(self) -> None:
        self.window.clear()
        self.total = 0.0
        self.count = 0

    def add_value(self, value: float, weight: int = 1) -> None:
        self.window.append(value)
        self.total += value * weight
        self.count += weight

    def get_win_median(self) -> float:
        return float(np.median(self.window)) if self.window else 0.0

    def get_win_avg(self) -> float:
        return float(np.mean(self.window)) if self.window else 0.0

    def get_global_avg(self) -> float:
        return self.total / self.count if self.count else 0.0


class TrainMeter:
    """Timers, loss and top-k errors of one training epoch; builds the ``train_*`` records.

    Call order per iteration: ``iter_tic`` -> (load batch) -> ``data_toc`` -> (forward/backward)
    -> ``net_toc`` -> ``update_stats``.
    """

    def __init__(self, epoch_iters: int, max_epoch: int, topk: int, log_period: int, device: torch.device):
        self.epoch_iters = epoch_iters
        self.max_epoch = max_epoch
        self.topk = topk
        self.device = device
        self.loss = ScalarMeter(log_period)
        self.top1_err = ScalarMeter(log_period)
        self.topk_err = ScalarMeter(log_period)
        self.iter_timer, self.data_timer, self.net_timer = Timer(), Timer(), Timer()
        self.iter_seconds = ScalarMeter(log_period)
        self.data_seconds = ScalarMeter(log_period)
        self.net_seconds = ScalarMeter(log_period)
        self.lr = 0.0
        self.num_failed = 0

    def reset(self) -> None:
        for meter in (self.loss, self.top1_err, self.topk_err, self.iter_seconds, self.data_seconds, self.net_seconds):
            meter.reset()
        self.lr = 0.0
        self.num_failed = 0

    def iter_tic(self) -> None:
        self.iter_timer.reset()
        self.data_timer.reset()

    def data_toc(self) -> None:
        self.data_timer.pause()
        self.net_timer.reset()

    def net_toc(self) -> None:
        self.net_timer.pause()
        self.iter_timer.pause()
        self.iter_seconds.add_value(self.iter_timer.seconds())
        self.data_seconds.add_value(self.data_timer.seconds())
        self.net_seconds.add_value(self.net_timer.seconds())

    def update_stats(self, top1_err: float, topk_err: float, loss: float, lr: float, batch_size: int) -> None:
        """Errors in percent over a (global) mini-batch of ``batch_size`` clips."""
        self.loss.add_value(loss, batch_size)
        self.top1_err.add_value(top1_err, batch_size)
        self.topk_err.add_value(topk_err, batch_size)
        self.lr = lr

    def _eta_seconds(self, epoch: int, iters_done_in_epoch: int) -> float:
        remaining = (self.max_epoch - epoch) * self.epoch_iters - iters_done_in_epoch
        return self.iter_seconds.get_global_avg() * remaining

    def iter_stats(self, epoch: int, cur_iter: int) -> Dict:
        """The ``train_iter_`` record of 0-based ``epoch`` and ``cur_iter``."""
        return {
            "_type": "train_iter_",
            "epoch": f"{epoch + 1}/{self.max_epoch}",
            "iter": f"{cur_iter + 1}/{self.epoch_iters}",
            "dt": self.iter_seconds.get_win_avg(),
            "dt_data": self.data_seconds.get_win_avg(),
            "dt_net": self.net_seconds.get_win_avg(),
            "eta": format_eta(self._eta_seconds(epoch, cur_iter + 1)),
            "loss": self.loss.get_win_median(),
            "lr": self.lr,
            "top1_err": self.top1_err.get_win_median(),
            f"top{self.topk}_err": self.topk_err.get_win_median(),
            "mem": f"{memory_usage_gb(self.device):.2f}G",
        }

    def epoch_stats(self, epoch: int) -> Dict:
        """The ``train_epoch`` record of 0-based ``epoch`` (sample-weighted epoch averages)."""
        return {
            "_type": "train_epoch",
            "epoch": f"{epoch + 1}/{self.max_epoch}",
            "dt": self.iter_seconds.get_global_avg(),
            "dt_data": self.data_seconds.get_global_avg(),
            "dt_net": self.net_seconds.get_global_avg(),
            "eta": format_eta(self._eta_seconds(epoch, self.epoch_iters)),
            "loss": self.loss.get_global_avg(),
            "lr": self.lr,
            "top1_err": self.top1_err.get_global_avg(),
            f"top{self.topk}_err": self.topk_err.get_global_avg(),
            "num_failed": self.num_failed,
            "mem": f"{memory_usage_gb(self.device):.2f}G",
        }


class ValMeter:
    """Mistake counts of one validation epoch and the best errors seen so far."""

    def __init__(self, max_epoch: int, topk: int, device: torch.device):
        self.max_epoch = max_epoch
        self.topk = topk
        self.device = device
        self.min_top1_err = 100.0
        self.min_topk_err = 100.0
        self.timer = Timer()
        self.reset()

    def reset(self) -> None:
        self.top1_mistakes = 0.0
        self.topk_mistakes = 0.0
        self.num_samples = 0
        self.timer.reset()

    def update_counts(self, top1_correct: float, topk_correct: float, num_samples: int) -> None:
        self.top1_mistakes += num_samples - top1_correct
        self.topk_mistakes += num_samples - topk_correct
        self.num_samples += num_samples

    def epoch_stats(self, epoch: int) -> Dict:
        """The ``val_epoch`` record; updates the minima (counts must already be summed over ranks)."""
        samples = max(self.num_samples, 1)
        top1_err = 100.0 * self.top1_mistakes / samples
        topk_err = 100.0 * self.topk_mistakes / samples
        self.min_top1_err = min(self.min_top1_err, top1_err)
        self.min_topk_err = min(self.min_topk_err, topk_err)
        return {
            "_type": "val_epoch",
            "epoch": f"{epoch + 1}/{self.max_epoch}",
            "time_diff": self.timer.seconds(),
            "top1_err": top1_err,
            f"top{self.topk}_err": topk_err,
            "min_top1_err": self.min_top1_err,
            f"min_top{self.topk}_err": self.min_topk_err,
            "mem": f"{memory_usage_gb(self.device):.2f}G",
        }
