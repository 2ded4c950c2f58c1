"""MobileNet blocks: Conv-Norm-Act, the inverted residual (V2) and the depthwise-separable block (V1).

Every block takes the norm constructor (``get_norm(cfg)``) as ``norm_layer`` and works on
``(N, C, T, H, W)`` tensors in either memory layout (contiguous or ``channels_last_3d``).
"""
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Union

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


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 5-D tensor stored ``channels_last_3d`` (and not also plainly contiguous, as a
    tensor with one channel or a 1x1x1 map is)."""
    return x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d)


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
        # Zero-initialised by MODEL.ZERO_INIT_FINAL_BN only where a residual carries the signal.
        layers["project"].bn.transform_final_bn = self.use_residual
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


def inverted_residual_stage(
    dim_in: int,
    rows: Sequence[tuple],
    norm_layer: NormLayer = nn.BatchNorm3d,
) -> List[nn.Module]:
    """Inverted residuals from MobileNetV2 table rows ``(t, c, n, s)`` (``c`` already scaled):
    ``n`` blocks of width ``c`` and expansion ``t``, the first with stride ``s``.

    Shape: ``(N, dim_in, T, H, W) -> (N, c_last, T', H', W')``.
    """
    blocks = []
    for expand_ratio, dim_out, num_blocks, stride in rows:
        for i in range(num_blocks):
            blocks.append(
                InvertedResidual(dim_in, dim_out, stride if i == 0 else 1, expand_ratio, norm_layer=norm_layer)
            )
            dim_in = dim_out
    return blocks


def depthwise_separable_stage(
    dim_in: int,
    rows: Sequence[tuple],
    norm_layer: NormLayer = nn.BatchNorm3d,
) -> List[nn.Module]:
    """Depthwise-separable blocks from MobileNet (V1) table rows ``(c, n, s)`` (``c`` scaled).

    Shape: ``(N, dim_in, T, H, W) -> (N, c_last, T', H', W')``.
    """
    blocks = []
    for dim_out, num_blocks, stride in rows:
        for i in range(num_blocks):
            blocks.append(DepthwiseSeparable(dim_in, dim_out, stride if i == 0 else 1, norm_layer=norm_layer))
            dim_in = dim_out
    return blocks


class StemMaxPool3d(nn.MaxPool3d):
    """``nn.MaxPool3d`` that takes ``channels_last_3d`` inputs through separable maxima (W, then H,
    then T: ``torch.maximum`` of strided slices of the ``-inf``-padded map).

    Exactly the same values (a max of maxima is the max), same module name and type family. Why:
    on CPU, ``max_pool3d`` of a channels-last map with few channels is very slow (the fast stem's
    8x3x16x56x56 map: 211 ms vs 26 ms separable), and the stems run it on every clip.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not is_channels_last(x) or self.ceil_mode or self.return_indices or triple(self.dilation) != (1, 1, 1):
            return super().forward(x)
        kernel, stride, padding = triple(self.kernel_size), triple(self.stride or self.kernel_size), triple(self.padding)
        for dim, k, s, p in zip((4, 3, 2), kernel[::-1], stride[::-1], padding[::-1]):
            x = _window_max(x, dim, k, s, p)
        return x


def _window_max(x: torch.Tensor, dim: int, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Max over windows of ``kernel`` with ``stride`` along ``dim`` of ``x`` padded by ``padding``
    (``-inf``) on both sides."""
    if kernel == 1 and stride == 1:
        return x
    # _window_max3 writes into its result (out=): inference only; training takes the padded copy.
    if kernel == 3 and padding == 1 and x.shape[dim] >= 2 and not (x.requires_grad and torch.is_grad_enabled()):
        return _window_max3(x, dim, stride)
    if padding:
        x = torch.nn.functional.pad(x, [0, 0] * (x.dim() - 1 - dim) + [padding, padding], value=float("-inf"))
    outputs = (x.shape[dim] - kernel) // stride + 1
    span = (outputs - 1) * stride + 1
    index = (slice(None),) * dim + (slice(None, None, stride),)
    out = x.narrow(dim, 0, span)[index]
    for offset in range(1, kernel):
        out = torch.maximum(out, x.narrow(dim, offset, span)[index])
    return out


def _window_max3(x: torch.Tensor, dim: int, stride: int) -> torch.Tensor:
    """``_window_max`` for kernel 3, padding 1, without the padded copy: output ``i`` is the max
    of inputs ``s*i - 1, s*i, s*i + 1`` that exist (the ``-inf`` padding never wins)."""
    size = x.shape[dim]
    outputs = (size - 1) // stride + 1
    with_right = (size - 2) // stride + 1  # outputs whose right neighbour s*i + 1 exists
    step = (slice(None),) * dim + (slice(None, None, stride),)
    if with_right == outputs:
        out = torch.maximum(x.narrow(dim, 0, (with_right - 1) * stride + 1)[step],
                            x.narrow(dim, 1, (with_right - 1) * stride + 1)[step])
    else:  # the last output sits on the last input, without a right neighbour
        out = torch.empty_like(x.narrow(dim, 0, (outputs - 1) * stride + 1)[step], memory_format=torch.channels_last_3d)
        out.copy_(x.narrow(dim, 0, (outputs - 1) * stride + 1)[step])
        head = out.narrow(dim, 0, with_right)
        torch.maximum(head, x.narrow(dim, 1, (with_right - 1) * stride + 1)[step], out=head)
    if outputs > 1:  # left neighbours s*i - 1 of outputs 1..
        tail = out.narrow(dim, 1, outputs - 1)
        torch.maximum(tail, x.narrow(dim, stride - 1, (outputs - 2) * stride + 1)[step], out=tail)
    return out


class ConvStem(nn.Module):
    """Stem of the efficient backbones: Conv3d 3x3x3 (no bias) -> norm -> activation -> optional
    MaxPool3d 3 (padding 1).

    Shape: ``(N, dim_in, T, H, W) -> (N, dim_out, T', H', W')`` with ``stride`` (default (1,2,2))
    and then ``pool_stride`` applied.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        stride: IntOr3 = (1, 2, 2),
        activation: Callable[[], nn.Module] = nn.ReLU,
        pool_stride: Optional[IntOr3] = None,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        self.conv = nn.Conv3d(dim_in, dim_out, kernel_size=3, stride=triple(stride), padding=1, bias=False)
        self.bn = norm_layer(dim_out)
        self.act = activation()
        self.pool = nn.Identity()
        if pool_stride is not None:
            self.pool = StemMaxPool3d(kernel_size=3, stride=triple(pool_stride), padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.bn(self.conv(x))))
