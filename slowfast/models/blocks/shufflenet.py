"""ShuffleNet blocks: channel shuffle, the ShuffleNet (V1) unit and the ShuffleNetV2 unit.

Tensors are ``(N, C, T, H, W)``; every block accepts contiguous and ``channels_last_3d`` inputs.
"""
from collections import OrderedDict
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from slowfast.models.blocks.mobilenet import IntOr3, conv_norm_act, is_channels_last, triple
from slowfast.models.norm import NormLayer


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: ``(N, g*c, ...) -> (N, c*g, ...)``.

    One copy in either memory layout, and the result keeps the input's layout: a
    ``channels_last_3d`` input is shuffled along its innermost (channel) axis of the
    ``(N, T, H, W, C)`` view. (Reshaping the ``(N, C, T, H, W)`` view of a channels-last tensor
    instead costs two strided copies and returns a contiguous tensor that the next convolution
    converts back: ~18x slower, 13 % of an SF-ShuffleNet forward.) The contiguous path's
    reshape/transpose/reshape exports to ONNX as Reshape/Transpose.
    """
    if groups == 1:
        return x
    n, c, t, h, w = x.shape
    if c % groups:
        raise ValueError(f"channel_shuffle: {c} channels do not split into {groups} groups")
    if is_channels_last(x):
        shuffled = x.permute(0, 2, 3, 4, 1).reshape(n, t, h, w, groups, c // groups).transpose(4, 5)
        return shuffled.reshape(n, t, h, w, c).permute(0, 4, 1, 2, 3)
    return x.reshape(n, groups, c // groups, t, h, w).transpose(1, 2).reshape(n, c, t, h, w)


def concat_shuffle(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``channel_shuffle(torch.cat([first, second], 1), 2)`` for two equally wide tensors, in one
    copy instead of two: channel ``2i`` is ``first[:, i]``, ``2i + 1`` is ``second[:, i]``.

    The result is ``channels_last_3d`` when either input is (the layout the convolutions produce).
    """
    if first.shape != second.shape:
        raise ValueError(f"concat_shuffle needs equal shapes, got {tuple(first.shape)} and {tuple(second.shape)}")
    n, c, t, h, w = first.shape
    if is_channels_last(first) or is_channels_last(second):
        # Written through (N, T, H, W, C, 2) so that the output is channels-last.
        out = first.new_empty(n, t, h, w, c, 2)
        out[..., 0] = first.permute(0, 2, 3, 4, 1)
        out[..., 1] = second.permute(0, 2, 3, 4, 1)
        return out.view(n, t, h, w, 2 * c).permute(0, 4, 1, 2, 3)
    return torch.stack([first, second], dim=2).reshape(n, 2 * c, t, h, w)


def round_to_groups(channels: int, groups: int) -> int:
    """The multiple of ``groups`` nearest to ``channels`` (at least ``groups``).

    ShuffleNet's grouped 1x1 convolutions and shuffles need widths divisible by the groups;
    the /8 fast pathway widths of the release (e.g. 30 // 4 = 7 with 3 groups) are not.
    """
    return max(groups, int(round(channels / groups)) * groups)


class ZeroPadAvgPool3d(nn.Sequential):
    """``pad`` (spatial zeros, 1 each side) then ``pool`` (``AvgPool3d``), computed in one depthwise
    convolution with constant ``1 / kernel volume`` weights when the input is ``channels_last_3d``.

    The same function either way (to float rounding: the convolution sums in another order). Why:
    on CPU, ``AvgPool3d`` of a channels-last map is 2-10x slower than a channels-last depthwise
    convolution (8x240x4x28x28: 240 ms vs 64 ms), and the separate pad is one more copy; these
    pools were ~10 % of an SF-ShuffleNet forward. The children keep their names (``pad``,
    ``pool``), so module and state-dict names are those of the plain ``nn.Sequential``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool, pad = self.pool, self.pad
        plain = pool.padding in (0, (0, 0, 0)) and not pool.ceil_mode and pad.value == 0
        if not (is_channels_last(x) and plain and pad.padding == (1, 1, 1, 1, 0, 0)):
            return super().forward(x)
        kernel = triple(pool.kernel_size)
        weight = x.new_full((x.shape[1], 1) + kernel, 1.0 / (kernel[0] * kernel[1] * kernel[2]))
        weight = weight.contiguous(memory_format=torch.channels_last_3d)
        # The convolution's own zero padding is the pad module's (H and W by 1): no padded copy.
        return F.conv3d(x, weight, stride=triple(pool.stride), padding=(0, 1, 1), groups=x.shape[1])


def shortcut_avg_pool(stride: tuple) -> nn.Sequential:
    """``AvgPool3d((st, 3, 3), stride, padding (0, 1, 1))`` of the strided ShuffleNet shortcut.

    The spatial zero padding is a separate ``pad`` module: it gives the same values (the pool
    counts padded zeros) but, unlike ``AvgPool3d``'s own padding, also accepts maps smaller than
    the 3x3 kernel (2x2 at tiny test crops or small multigrid crops).
    """
    return ZeroPadAvgPool3d(
        OrderedDict(
            pad=nn.ConstantPad3d((1, 1, 1, 1, 0, 0), 0.0),
            pool=nn.AvgPool3d((stride[0], 3, 3), stride=stride),
        )
    )


class ShuffleNetUnit(nn.Module):
    """ShuffleNet (V1) unit: grouped 1x1 -> shuffle -> depthwise 3x3x3 -> grouped 1x1.

    Stride 1: the main branch keeps ``dim_out == dim_in`` channels and the input is added.
    Strided: the main branch's output is concatenated with a shortcut, then ReLU:

    * ``shortcut="pool"`` (ShuffleNet paper / 3D-ShuffleNet): the shortcut is
      ``AvgPool3d((st, 3, 3), stride)`` of the input, and the main branch outputs
      ``dim_out - dim_in`` channels.
    * ``shortcut="conv_pool"`` (efficient SlowFast): the shortcut is a 1x1x1 conv to
      ``split_channels`` followed by the average pool, and the main branch outputs
      ``dim_out - split_channels``.

    Args:
        dim_in, dim_out: channels.
        mid_channels: width of the depthwise convolution (divisible by ``groups``).
        groups: groups of the 1x1 convolutions and of the channel shuffle.
        stride: ``(st, s, s)`` or an int; the unit is strided when any entry is > 1.
        first_groups: groups of the first 1x1 convolution (1 where the input is too narrow).
        shortcut: "pool" or "conv_pool" (strided units only).
        split_channels: output width of the "conv_pool" shortcut.
        norm_layer: norm constructor.

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        mid_channels: int,
        groups: int,
        stride: IntOr3 = 1,
        first_groups: Optional[int] = None,
        shortcut: str = "pool",
        split_channels: Optional[int] = None,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        stride = triple(stride)
        self.groups = groups
        self.strided = stride != (1, 1, 1)
        first_groups = groups if first_groups is None else first_groups
        if not self.strided:
            if dim_in != dim_out:
                raise ValueError(f"a stride-1 ShuffleNet unit needs dim_in == dim_out, got {dim_in} -> {dim_out}")
            main_out = dim_out
        elif shortcut == "pool":
            main_out = dim_out - dim_in
            self.shortcut = shortcut_avg_pool(stride)
        elif shortcut == "conv_pool":
            main_out = dim_out - split_channels
            self.shortcut = nn.Sequential(
                OrderedDict(
                    conv=nn.Conv3d(dim_in, split_channels, kernel_size=1, bias=False),
                    pool=shortcut_avg_pool(stride),
                )
            )
        else:
            raise ValueError(f"unknown ShuffleNet shortcut '{shortcut}' (expected 'pool' or 'conv_pool')")
        if main_out <= 0:
            raise ValueError(f"ShuffleNet unit {dim_in} -> {dim_out}: the main branch would have {main_out} channels")
        self.conv1 = conv_norm_act(dim_in, mid_channels, 1, groups=first_groups, norm_layer=norm_layer)
        self.conv2 = conv_norm_act(
            mid_channels, mid_channels, 3, stride, groups=mid_channels, norm_layer=norm_layer, activation=None
        )
        self.conv3 = conv_norm_act(mid_channels, main_out, 1, groups=groups, norm_layer=norm_layer, activation=None)
        # Zero-initialised by MODEL.ZERO_INIT_FINAL_BN: the unit starts as its shortcut.
        self.conv3.bn.transform_final_bn = True
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = channel_shuffle(out, self.groups)
        out = self.conv3(self.conv2(out))
        if self.strided:
            return self.relu(torch.cat([out, self.shortcut(x)], dim=1))
        return self.relu(out + x)


class ShuffleNetV2Unit(nn.Module):
    """ShuffleNetV2 unit (channel split, pw -> dw 3x3x3 -> pw, concat, shuffle with 2 groups).

    Stride 1: the input is split in half; ``branch2`` transforms the second half.
    Strided: ``branch1`` = dw 3x3x3 (strided, norm) -> pw to ``dim_out // 2`` (norm, ReLU) and
    ``branch2`` = pw to ``dim_out // 2`` -> dw (strided) -> pw both see the whole input, whose
    width may be odd (a fused width).

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        stride: IntOr3 = 1,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        stride = triple(stride)
        self.strided = stride != (1, 1, 1)
        if dim_out % 2:
            raise ValueError(f"ShuffleNetV2 unit needs an even output width, got {dim_out}")
        branch_out = dim_out // 2
        if self.strided:
            self.branch1 = nn.Sequential(
                OrderedDict(
                    depthwise=conv_norm_act(
                        dim_in, dim_in, 3, stride, groups=dim_in, norm_layer=norm_layer, activation=None
                    ),
                    pointwise=conv_norm_act(dim_in, branch_out, 1, norm_layer=norm_layer),
                )
            )
            branch2_in = dim_in
        else:
            if dim_in != dim_out:
                raise ValueError(f"a stride-1 ShuffleNetV2 unit needs dim_in == dim_out, got {dim_in} -> {dim_out}")
            branch2_in = dim_in - dim_in // 2
        self.branch2 = nn.Sequential(
            OrderedDict(
                expand=conv_norm_act(branch2_in, branch_out, 1, norm_layer=norm_layer),
                depthwise=conv_norm_act(
                    branch_out, branch_out, 3, stride, groups=branch_out, norm_layer=norm_layer, activation=None
                ),
                project=conv_norm_act(branch_out, branch_out, 1, norm_layer=norm_layer),
            )
        )
        # Zero-initialised by MODEL.ZERO_INIT_FINAL_BN: the branch starts silent while the
        # untouched half (stride 1) or branch1 (strided) carries the signal.
        self.branch2.project.bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # concat_shuffle = channel_shuffle(torch.cat([a, b], 1), 2) in one copy.
        if self.strided:
            return concat_shuffle(self.branch1(x), self.branch2(x))
        half = x.shape[1] // 2
        return concat_shuffle(x[:, :half], self.branch2(x[:, half:]))


def shufflenet_stage(
    dim_in: int,
    dim_out: int,
    num_units: int,
    groups: int,
    stride: IntOr3,
    shortcut: str = "pool",
    first_groups: Optional[int] = None,
    norm_layer: NormLayer = nn.BatchNorm3d,
) -> List[nn.Module]:
    """A ShuffleNet (V1) stage: one strided unit, then ``num_units - 1`` stride-1 units.

    Depthwise widths: ``dim_out // 4`` (the "pool" shortcut of the paper), or ``dim_out // 2``
    shared with the shortcut's output (the "conv_pool" shortcut of the efficient SlowFast), each
    rounded to a multiple of ``groups`` so every width builds.

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """
    quarter = round_to_groups(dim_out // 4, groups)
    if shortcut == "conv_pool":
        first_mid = split = round_to_groups(dim_out // 2, groups)
    else:
        first_mid, split = quarter, None
    units = [
        ShuffleNetUnit(
            dim_in,
            dim_out,
            first_mid,
            groups,
            stride,
            first_groups=first_groups,
            shortcut=shortcut,
            split_channels=split,
            norm_layer=norm_layer,
        )
    ]
    units += [ShuffleNetUnit(dim_out, dim_out, quarter, groups, norm_layer=norm_layer) for _ in range(num_units - 1)]
    return units


def shufflenetv2_stage(
    dim_in: int,
    dim_out: int,
    num_units: int,
    stride: IntOr3,
    norm_layer: NormLayer = nn.BatchNorm3d,
) -> List[nn.Module]:
    """A ShuffleNetV2 stage: one strided two-branch unit, then ``num_units - 1`` split units.

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T/st, H/s, W/s)``.
    """
    units = [ShuffleNetV2Unit(dim_in, dim_out, stride, norm_layer=norm_layer)]
    units += [ShuffleNetV2Unit(dim_out, dim_out, norm_layer=norm_layer) for _ in range(num_units - 1)]
    return units
