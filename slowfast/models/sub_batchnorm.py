"""Sub-batch BatchNorm for multigrid training.

Multigrid's big batches of small clips would give BN statistics over many more samples than the
default shape does. :class:`SubBatchNorm3d` normalises each of ``num_splits`` equal splits of the
batch with that split's own statistics (like BN over ``N / num_splits`` samples per device), while
its running statistics are those of the whole batch, merged from the splits exactly. Its
parameters and buffers are those of ``nn.BatchNorm3d`` with the same names and shapes, so:

- in eval mode it *is* a BatchNorm3d (nothing to aggregate before evaluating or saving);
- its checkpoints load into plain-BN models and vice versa;
- :func:`convert_batchnorm` swaps BN <-> sub-BN (or sets ``num_splits``) in a built model in
  place, re-using the very parameter and buffer tensors, so optimizer state and DDP survive.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SubBatchNorm3d(nn.BatchNorm3d):
    """BatchNorm3d over ``(N, C, T, H, W)`` whose training statistics come from ``num_splits``
    splits of the batch (sample ``i`` in split ``i % num_splits``).

    When ``N`` is not a multiple of ``num_splits`` (a short last batch), the largest divisor of
    ``N`` not above ``num_splits`` is used. ``num_splits=1`` is exactly ``nn.BatchNorm3d``.
    """

    def __init__(self, num_features: int, num_splits: int = 1, **kwargs):
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    @property
    def num_splits(self) -> int:
        return self._num_splits

    @num_splits.setter
    def num_splits(self, value: int) -> None:
        if int(value) != value or value < 1:
            raise ValueError(f"SubBatchNorm3d num_splits must be a positive integer, got {value}")
        self._num_splits = int(value)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_splits={self.num_splits}"

    def _splits_for(self, batch: int) -> int:
        return max(k for k in range(1, min(self.num_splits, batch) + 1) if batch % k == 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        splits = self._splits_for(x.shape[0]) if self.training else 1
        if splits == 1 or not self.training:
            return super().forward(x)
        n, c = x.shape[:2]
        # (N, C, ...) -> (N / k, k * C, ...): sample a*k + b lands in channel block b (split b).
        grouped = x.reshape(n // splits, splits * c, *x.shape[2:])
        split_mean = torch.zeros(splits * c, device=x.device, dtype=torch.float32)
        split_var = torch.ones(splits * c, device=x.device, dtype=torch.float32)
        weight = self.weight.repeat(splits) if self.affine else None
        bias = self.bias.repeat(splits) if self.affine else None
        # momentum 1 leaves each split's batch mean and unbiased variance in split_mean/var.
        out = F.batch_norm(grouped, split_mean, split_var, weight, bias, True, 1.0, self.eps)
        if self.track_running_stats:
            self._update_running_stats(split_mean.view(splits, c), split_var.view(splits, c),
                                       per_split=grouped.numel() // (splits * c))
        return out.reshape(x.shape)

    @torch.no_grad()
    def _update_running_stats(self, split_mean: torch.Tensor, split_var: torch.Tensor, per_split: int) -> None:
        """Merge ``(k, C)`` split means / unbiased variances into the whole batch's and update
        the running statistics as ``nn.BatchNorm3d`` would with the whole batch."""
        splits = split_mean.shape[0]
        total = per_split * splits
        mean = split_mean.mean(0)
        within = (split_var * (per_split - 1) / per_split).mean(0)  # biased, per split
        between = ((split_mean - mean) ** 2).mean(0)
        var = (within + between) * total / max(total - 1, 1)  # unbiased, whole batch
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:  # cumulative moving average, as in nn.BatchNorm
            momentum = 1.0 / float(self.num_batches_tracked)
        self.running_mean.mul_(1 - momentum).add_(mean.to(self.running_mean.dtype), alpha=momentum)
        self.running_var.mul_(1 - momentum).add_(var.to(self.running_var.dtype), alpha=momentum)


def _share_state(source: nn.BatchNorm3d, target: nn.BatchNorm3d) -> nn.BatchNorm3d:
    """Make ``target`` use ``source``'s parameter and buffer tensors (same objects) and mode."""
    for name, param in source.named_parameters(recurse=False):
        setattr(target, name, param)
    for name, buf in source.named_buffers(recurse=False):
        setattr(target, name, buf)
    target.train(source.training)
    return target


def convert_batchnorm(model: nn.Module, num_splits: int) -> nn.Module:
    """Set every BatchNorm3d of ``model`` to sub-batch BN with ``num_splits`` (1 = plain BN).

    Plain ``nn.BatchNorm3d`` layers become :class:`SubBatchNorm3d` when ``num_splits > 1`` and
    sub-batch layers become ``nn.BatchNorm3d`` again when it is 1; existing sub-batch layers just
    get the new ``num_splits``. Weights, biases and running statistics are the same tensors as
    before. Converts in place and returns ``model`` (a BN ``model`` itself is returned converted).
    """
    def convert(module: nn.Module) -> nn.Module:
        if isinstance(module, SubBatchNorm3d):
            if num_splits > 1:
                module.num_splits = num_splits
                return module
            plain = nn.BatchNorm3d(module.num_features, module.eps, module.momentum,
                                   module.affine, module.track_running_stats)
            return _share_state(module, plain)
        if type(module) is nn.BatchNorm3d and num_splits > 1:
            sub = SubBatchNorm3d(module.num_features, num_splits, eps=module.eps, momentum=module.momentum,
                                 affine=module.affine, track_running_stats=module.track_running_stats)
            return _share_state(module, sub)
        for name, child in module.named_children():
            new_child = convert(child)
            if new_child is not child:
                setattr(module, name, new_child)
        return module

    return convert(model)

