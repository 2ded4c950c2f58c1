"""MobileNet blocks: Conv-Norm-Act, the inverted residual (V2) and the depthwise-separable block (V1).

Every block takes the norm constructor (``get_norm(cfg)``) as ``norm_layer`` and works on
``(N, C, T, H, W)`` tensors in either memory layout (contiguous or ``channels_last_3d``).
"""
from collections import OrderedDict
from typing import Callable, Optional, Sequence, Union

import torch
from torch import nn

from slowfast.models.heads import ConvNormAct
from slowfast.models.norm import NormLayer

IntOr3 = Union[int, Sequence[int]]


def triple(value: IntOr3) -> tuple:
    """``2 -> (2, 2, 2)``; a 3-sequence is returned as a tuple."""
    if isinstance(value, int):
        return (value, value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"expected an int or a (T, H, W) triple, got {value}")
    return value


def conv_norm_act(
    dim_in: int,
    dim_out: int,
    kernel: IntOr3 = 1,
    stride: IntOr3 = 1,
    groups: int = 1,
    norm_layer: NormLayer = nn.BatchNorm3d,
    activation: Optional[Callable[[], nn.Module]] = nn.ReLU,
) -> ConvNormAct:
    """Conv3d (no bias) -> norm -> activation (None: linear) with "same" padding.

    Children are ``conv``, ``bn``, ``act``. ``groups=dim_in`` makes it depthwise.
    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """
    kernel, stride = triple(kernel), triple(stride)
    return ConvNormAct(
        dim_in,
        dim_out,
        kernel_size=kernel,
        stride=stride,
        padding=tuple(k // 2 for k in kernel),
        groups=groups,
        norm_layer=norm_layer,
        activation=activation,
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual: pw expand -> depthwise 3x3x3 -> pw linear (+ identity).

    ``hidden = round(dim_in * expand_ratio)``; with ``expand_ratio == 1`` the expansion conv is
    left out. The residual is added when the stride is 1 and ``dim_in == dim_out``.

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        stride: IntOr3,
        expand_ratio: float,
        norm_layer: NormLayer = nn.BatchNorm3d,
        activation: Callable[[], nn.Module] = nn.ReLU6,
        kernel: IntOr3 = 3,
    ):
        super().__init__()
        stride = triple(stride)
        hidden = int(round(dim_in * expand_ratio))
        self.use_residual = stride == (1, 1, 1) and dim_in == dim_out
        layers = OrderedDict()
        if expand_ratio != 1:
            layers["expand"] = conv_norm_act(dim_in, hidden, 1, norm_layer=norm_layer, activation=activation)
        layers["depthwise"] = conv_norm_act(
            hidden, hidden, kernel, stride, groups=hidden, norm_layer=norm_layer, activation=activation
        )
        layers["project"] = conv_norm_act(hidden, dim_out, 1, norm_layer=norm_layer, activation=None)
        self.conv = nn.Sequential(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class DepthwiseSeparable(nn.Sequential):
    """MobileNetV1 block: depthwise 3x3x3 (norm, ReLU) -> pointwise (norm, ReLU).

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        stride: IntOr3,
        norm_layer: NormLayer = nn.BatchNorm3d,
        activation: Callable[[], nn.Module] = nn.ReLU,
    ):
        super().__init__(
            OrderedDict(
                depthwise=conv_norm_act(
                    dim_in, dim_in, 3, stride, groups=dim_in, norm_layer=norm_layer, activation=activation
                ),
                pointwise=conv_norm_act(dim_in, dim_out, 1, norm_layer=norm_layer, activation=activation),
            )
        )
