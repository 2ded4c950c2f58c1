"""GhostNet blocks (Han et al. 2020): ghost module, ghost bottleneck and ``make_divisible``.

Tensors are ``(N, C, T, H, W)``. Every block takes the norm constructor as ``norm_layer``.
"""
import math
from collections import OrderedDict
from typing import List, Optional

import torch
from torch import nn

from slowfast.models.blocks.attention import SqueezeExcitation
from slowfast.models.blocks.mobilenet import conv_norm_act
from slowfast.models.norm import NormLayer


def make_divisible(value: float, divisor: int = 4, min_value: Optional[int] = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``min_value``), bumping it
    up by one ``divisor`` when rounding down lost more than 10 % (the TF/GhostNet rule).

    ``make_divisible(2) == 4``, ``make_divisible(72 * 1.5) == 108``, ``make_divisible(20) == 20``.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)


class GhostModule(nn.Module):
    """Ghost module: a 1x1x1 primary conv makes ``ceil(dim_out / 2)`` "intrinsic" maps, a cheap
    depthwise 3x3x3 conv makes as many "ghost" maps from them; both are concatenated and the
    first ``dim_out`` channels kept.

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T, H, W)``.

    Args:
        relu: ReLU after both convs (ghost1 of a bottleneck) or linear outputs (ghost2).
    """

    def __init__(self, dim_in: int, dim_out: int, relu: bool = True, norm_layer: NormLayer = nn.BatchNorm3d):
        super().__init__()
        self.dim_out = dim_out
        intrinsic = math.ceil(dim_out / 2)
        activation = nn.ReLU if relu else None
        self.primary_conv = conv_norm_act(dim_in, intrinsic, 1, norm_layer=norm_layer, activation=activation)
        self.cheap_operation = conv_norm_act(
            intrinsic, intrinsic, 3, groups=intrinsic, norm_layer=norm_layer, activation=activation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        intrinsic = self.primary_conv(x)
        out = torch.cat([intrinsic, self.cheap_operation(intrinsic)], dim=1)
        return out[:, : self.dim_out]


class GhostBottleneck(nn.Module):
    """Ghost bottleneck: ghost1 (ReLU) -> [depthwise (1,k,k) strided + norm] -> [SE] -> ghost2
    (linear), plus a shortcut (identity, or depthwise (1,k,k) strided + norm + 1x1x1 + norm when
    the stride or the width changes).

    Args:
        dim_in, dim_mid, dim_out: channels of the input, the expansion and the output.
        kernel: spatial kernel of the depthwise convs.
        stride: spatial stride (time is never strided: ``(1, s, s)``).
        se_ratio: squeeze-excitation on the mid channels when > 0 (squeeze width
            ``make_divisible(dim_mid * se_ratio, 4)``, hard-sigmoid gate).

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T, H/s, W/s)``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_mid: int,
        dim_out: int,
        kernel: int = 3,
        stride: int = 1,
        se_ratio: float = 0.0,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        spatial_kernel, spatial_stride = (1, kernel, kernel), (1, stride, stride)
        self.ghost1 = GhostModule(dim_in, dim_mid, relu=True, norm_layer=norm_layer)
        self.depthwise = (
            conv_norm_act(
                dim_mid, dim_mid, spatial_kernel, spatial_stride, groups=dim_mid, norm_layer=norm_layer, activation=None
            )
            if stride > 1
            else nn.Identity()
        )
        self.se = (
            SqueezeExcitation(dim_mid, make_divisible(dim_mid * se_ratio, 4), gate=nn.Hardsigmoid)
            if se_ratio > 0
            else nn.Identity()
        )
        self.ghost2 = GhostModule(dim_mid, dim_out, relu=False, norm_layer=norm_layer)
        # Zero-initialised by MODEL.ZERO_INIT_FINAL_BN: the block starts as its shortcut.
        self.ghost2.primary_conv.bn.transform_final_bn = True
        self.ghost2.cheap_operation.bn.transform_final_bn = True
        if stride == 1 and dim_in == dim_out:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                OrderedDict(
                    depthwise=conv_norm_act(
                        dim_in,
                        dim_in,
                        spatial_kernel,
                        spatial_stride,
                        groups=dim_in,
                        norm_layer=norm_layer,
                        activation=None,
                    ),
                    pointwise=conv_norm_act(dim_in, dim_out, 1, norm_layer=norm_layer, activation=None),
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.ghost2(self.se(self.depthwise(self.ghost1(x))))
        return out + self.shortcut(x)


def ghost_stage(dim_in: int, rows, norm_layer: NormLayer = nn.BatchNorm3d) -> List[nn.Module]:
    """Ghost bottlenecks from GhostNet table rows ``(k, mid, out, se_ratio, s)`` (widths scaled).

    Shape: ``(N, dim_in, T, H, W) -> (N, out_last, T, H', W')``.
    """
    blocks = []
    for kernel, dim_mid, dim_out, se_ratio, stride in rows:
        blocks.append(GhostBottleneck(dim_in, dim_mid, dim_out, kernel, stride, se_ratio, norm_layer=norm_layer))
        dim_in = dim_out
    return blocks
