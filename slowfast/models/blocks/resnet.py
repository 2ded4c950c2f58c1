"""ResNet blocks for video: stem, bottleneck/basic transforms, residual block, stage builder.

Module names follow public SlowFast (``conv``, ``bn``, ``pool_layer``; ``branch1``, ``branch1_bn``,
``branch2.{a,a_bn,b,b_bn,c,c_bn}``) so its checkpoints load unchanged. All tensors are
``(N, C, T, H, W)``; spatial strides are ``(1, s, s)`` (no temporal striding inside blocks).
"""
from typing import Callable, List, Sequence

import torch
import torch.nn as nn

from slowfast.models.norm import NormLayer


class ResNetStem(nn.Module):
    """Conv ``[Tk,7,7]`` stride ``(1,2,2)`` -> norm -> ReLU -> MaxPool ``[1,3,3]`` stride ``(1,2,2)``.

    ``(N, C_in, T, H, W) -> (N, C_out, T, H/4, W/4)``.
    """

    def __init__(self, dim_in: int, dim_out: int, temporal_kernel: int, norm_layer: NormLayer = nn.BatchNorm3d):
        super().__init__()
        self.conv = nn.Conv3d(
            dim_in, dim_out, kernel_size=(temporal_kernel, 7, 7), stride=(1, 2, 2),
            padding=(temporal_kernel // 2, 3, 3), bias=False,
        )
        self.bn = norm_layer(dim_out)
        self.relu = nn.ReLU(inplace=True)
        self.pool_layer = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class BottleneckTransform(nn.Module):
    """``a``: Conv ``[Tk,1,1]`` -> ``b``: Conv ``[1,3,3]`` stride ``(1,s,s)`` -> ``c``: Conv 1x1x1, BN after each.

    ``(N, C_in, T, H, W) -> (N, C_out, T, H/s, W/s)``; ReLU after ``a`` and ``b`` only (the block
    adds the shortcut before the last ReLU). The temporal kernel sits in the first 1x1 conv.

    Args:
        stride_1x1: put the spatial stride on ``a`` (MSRA style) instead of ``b``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        dim_inner: int,
        temporal_kernel: int,
        stride: int,
        num_groups: int = 1,
        dilation: int = 1,
        stride_1x1: bool = False,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        stride_a, stride_b = (stride, 1) if stride_1x1 else (1, stride)
        self.a = nn.Conv3d(
            dim_in, dim_inner, kernel_size=(temporal_kernel, 1, 1), stride=(1, stride_a, stride_a),
            padding=(temporal_kernel // 2, 0, 0), bias=False,
        )
        self.a_bn = norm_layer(dim_inner)
        self.a_relu = nn.ReLU(inplace=True)
        self.b = nn.Conv3d(
            dim_inner, dim_inner, kernel_size=(1, 3, 3), stride=(1, stride_b, stride_b),
            padding=(0, dilation, dilation), groups=num_groups, dilation=(1, dilation, dilation), bias=False,
        )
        self.b_bn = norm_layer(dim_inner)
        self.b_relu = nn.ReLU(inplace=True)
        self.c = nn.Conv3d(dim_inner, dim_out, kernel_size=1, bias=False)
        self.c_bn = norm_layer(dim_out)
        self.c_bn.transform_final_bn = True  # zero-initialised by RESNET.ZERO_INIT_FINAL_BN

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class BasicTransform(nn.Module):
    """``a``: Conv ``[Tk,3,3]`` stride ``(1,s,s)`` -> BN -> ReLU -> ``b``: Conv ``[1,3,3]`` -> BN.

    ``(N, C_in, T, H, W) -> (N, C_out, T, H/s, W/s)`` (ResNet-18 style; ``dim_inner`` unused).
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        dim_inner: int,
        temporal_kernel: int,
        stride: int,
        num_groups: int = 1,
        dilation: int = 1,
        stride_1x1: bool = False,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        self.a = nn.Conv3d(
            dim_in, dim_out, kernel_size=(temporal_kernel, 3, 3), stride=(1, stride, stride),
            padding=(temporal_kernel // 2, 1, 1), bias=False,
        )
        self.a_bn = norm_layer(dim_out)
        self.a_relu = nn.ReLU(inplace=True)
        self.b = nn.Conv3d(
            dim_out, dim_out, kernel_size=(1, 3, 3), padding=(0, dilation, dilation),
            dilation=(1, dilation, dilation), bias=False,
        )
        self.b_bn = norm_layer(dim_out)
        self.b_bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_bn(self.b(self.a_relu(self.a_bn(self.a(x)))))


TRANSFORMS = {"bottleneck_transform": BottleneckTransform, "basic_transform": BasicTransform}


class ResBlock(nn.Module):
    """``relu(shortcut(x) + branch2(x))``; the shortcut is a strided 1x1x1 conv + BN when the shape changes.

    ``(N, C_in, T, H, W) -> (N, C_out, T, H/s, W/s)``.
    """

    def __init__(self, dim_in: int, dim_out: int, stride: int, branch2: nn.Module, norm_layer: NormLayer = nn.BatchNorm3d):
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1 = nn.Conv3d(dim_in, dim_out, kernel_size=1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = norm_layer(dim_out)
        self.branch2 = branch2
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if hasattr(self, "branch1") else x
        return self.relu(shortcut + self.branch2(x))


def block_temporal_kernels(kernel_basis: Sequence[int], num_blocks: int, num_temporal_blocks: int) -> List[int]:
    """Temporal kernel of each block of a stage, as public SlowFast computes it.

    The basis is cycled over the blocks (I3D ``[3, 1]`` alternates), then only the first
    ``num_temporal_blocks`` keep it and the rest use 1 (``RESNET.NUM_BLOCK_TEMP_KERNEL``).
    Example: ``([3, 1], 4, 4) -> [3, 1, 3, 1]``; ``([3], 23, 6) -> [3]*6 + [1]*17``.
    """
    cycled = [kernel_basis[i % len(kernel_basis)] for i in range(num_blocks)]
    return cycled[:num_temporal_blocks] + [1] * max(0, num_blocks - num_temporal_blocks)


def res_stage_blocks(
    dim_in: int,
    dim_out: int,
    dim_inner: int,
    temporal_kernels: Sequence[int],
    stride: int,
    trans_func: str = "bottleneck_transform",
    num_groups: int = 1,
    dilation: int = 1,
    stride_1x1: bool = False,
    norm_layer: NormLayer = nn.BatchNorm3d,
) -> List[nn.Module]:
    """The residual blocks of one stage of one pathway (one block per temporal kernel).

    The first block takes ``dim_in`` and the spatial ``stride``; the rest are ``dim_out -> dim_out``.
    """
    if trans_func not in TRANSFORMS:
        raise ValueError(f"RESNET.TRANS_FUNC '{trans_func}' unknown; known: {', '.join(TRANSFORMS)}")
    transform: Callable[..., nn.Module] = TRANSFORMS[trans_func]
    blocks = []
    for i, temporal_kernel in enumerate(temporal_kernels):
        block_in, block_stride = (dim_in, stride) if i == 0 else (dim_out, 1)
        branch2 = transform(
            block_in, dim_out, dim_inner, temporal_kernel, block_stride,
            num_groups=num_groups, dilation=dilation, stride_1x1=stride_1x1, norm_layer=norm_layer,
        )
        blocks.append(ResBlock(block_in, dim_out, block_stride, branch2, norm_layer=norm_layer))
    return blocks
