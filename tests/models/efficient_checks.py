"""Shared helpers of the efficient-model tests (test_efficient_slowfast.py, test_single_stream.py)."""
import torch
from torch import nn


def assert_every_parameter_learns(model: nn.Module) -> None:
    """Every parameter gets a finite gradient, non-zero except for norm shifts: the shift of a
    norm followed by a linear conv and another norm cancels exactly (e.g. ShuffleNet's depthwise
    BN), so its gradient may be 0 up to rounding."""
    norm_shifts = {f"{n}.bias" for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._NormBase)}
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        if name not in norm_shifts:
            assert param.grad.abs().sum() > 0, name
