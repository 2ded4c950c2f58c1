"""Depthwise ``Conv3d`` whose CPU backward computes the input gradient as a forward convolution.

On CPU, ATen's (oneDNN's) backward of a stride-1 depthwise 3D convolution takes several times its
forward for the input gradient alone, while that gradient *is* a depthwise convolution of the
output gradient with the flipped kernel, which runs at forward speed. The weight gradient keeps
ATen's kernel. The training benchmark (``tools/benchmark.py --mode model``, docs/benchmarks.md
"Depthwise backward on CPU") times both side by side.

Parameters, state-dict keys, forward values and every other device are those of ``nn.Conv3d``.
"""
import copy
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


def _input_grad(grad_out: torch.Tensor, weight: torch.Tensor, padding: Tuple[int, int, int]) -> torch.Tensor:
    """Gradient of ``conv3d(x, weight, stride=1, padding, groups=C)`` w.r.t. ``x``.

    ``x[i]`` meets ``grad_out[j]`` through ``weight[i - j + p]``: the correlation of ``grad_out``
    with the flipped kernel, padded by ``k - 1 - p``, which has exactly ``x``'s length.
    """
    kernel = weight.shape[2:]
    flipped_padding = tuple(kernel[d] - 1 - padding[d] for d in range(3))
    return F.conv3d(grad_out, weight.flip(2, 3, 4), None, 1, flipped_padding, 1, weight.shape[0])


class _DepthwiseConv3dFunction(torch.autograd.Function):
    """``conv3d(x, weight, stride=1, padding, groups=C)`` without bias or dilation."""

    @staticmethod
    def forward(ctx, x, weight, padding):
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv3d(x, weight, None, 1, padding, 1, weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = _input_grad(grad_out, weight, ctx.padding)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None, [1, 1, 1], list(ctx.padding), [1, 1, 1], False, [0, 0, 0],
                weight.shape[0], [False, True, False],
            )[1]
        return grad_x, grad_weight, None


class DepthwiseConv3d(nn.Conv3d):
    """``nn.Conv3d(C, C, kernel, stride=1, padding, groups=C, bias=False)`` with the CPU backward above.

    Shape: ``(N, C, T, H, W) -> (N, C, T', H', W')``. Stride 1 only: a strided depthwise conv
    gains nothing (its input gradient, a conv over the zero-filled upsampled output gradient, was
    no faster than ATen's at SF-ShuffleNetV2's shapes), so ``ConvNormAct`` keeps ``nn.Conv3d``
    there. The custom backward applies when autograd records a CPU forward outside autocast;
    tracing, export, CUDA, autocast and a bias added later (conv-BN folding) take ``nn.Conv3d``'s
    path. It is first-order only (no double backward).
    """

    def __init__(self, channels: int, kernel_size, padding=0):
        super().__init__(channels, channels, kernel_size, 1, padding, groups=channels, bias=False)
        if any(p > k - 1 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"DepthwiseConv3d padding {self.padding} must be at most kernel - 1 {self.kernel_size}")

    def _custom_backward_applies(self, x: torch.Tensor, bias: Optional[torch.Tensor]) -> bool:
        return (
            torch.is_grad_enabled()
            and x.device.type == "cpu"
            # Autocast casts inside F.conv3d; the backward's own convs would meet mixed dtypes.
            and not torch.is_autocast_enabled("cpu")
            and bias is None
            and not torch.jit.is_tracing()
            and not torch.onnx.is_in_onnx_export()
        )

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        if self._custom_backward_applies(x, bias):
            return _DepthwiseConv3dFunction.apply(x, weight, self.padding)
        return super()._conv_forward(x, weight, bias)


def with_aten_depthwise(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``DepthwiseConv3d`` are plain ``nn.Conv3d`` (same weights): the
    reference side of the training benchmark's side-by-side comparison."""
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, DepthwiseConv3d):
                plain = nn.Conv3d(child.in_channels, child.out_channels, child.kernel_size, 1,
                                  child.padding, groups=child.groups, bias=child.bias is not None,
                                  device=child.weight.device, dtype=child.weight.dtype)
                plain.load_state_dict(child.state_dict())
                setattr(parent, name, plain)
    return model
