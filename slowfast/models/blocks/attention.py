"""Attention blocks: ECA channel attention, DANet position attention, squeeze-and-excitation.

All blocks take and return ``(N, C, T, H, W)`` tensors of the same shape.
"""
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

# (query, key, value) -> attended values; shapes (N, L, d), (N, L, d), (N, L, C) -> (N, L, C).
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def memory_efficient_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Unscaled softmax attention ``softmax(q kᵀ) v`` without materialising the L×L matrix.

    Args:
        query, key: ``(N, L, d)``.
        value: ``(N, L, C)``.
    Returns:
        ``(N, L, C)``. Uses ``scaled_dot_product_attention`` with ``scale=1.0`` (DANet applies no
        ``1/sqrt(d)`` scaling), which dispatches to a tiled (flash / memory-efficient) kernel.
    """
    # The CPU flash kernel needs unit stride on the last dim; transposed (N, C, L) views would
    # silently fall back to the math path, which materialises the L×L matrix (~4x slower).
    out = F.scaled_dot_product_attention(
        _unit_last_stride(query.unsqueeze(1)), _unit_last_stride(key.unsqueeze(1)),
        _unit_last_stride(value.unsqueeze(1)), scale=1.0,
    )
    return out.squeeze(1)


def _unit_last_stride(x: torch.Tensor) -> torch.Tensor:
    """``x`` with stride 1 on its last dim. ``contiguous()`` is not enough: a transposed view with
    one channel, ``(N, 1, L, 1)`` strided ``(L, L, 1, L)``, counts as contiguous and is returned
    as it is, and SDPA then takes the math path (CMDA with C' = 1, e.g. under RESNET.WIDTH_DIVISOR)."""
    return x if x.stride(-1) == 1 else x.clone(memory_format=torch.contiguous_format)


def materialised_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """The reference formulation of :func:`memory_efficient_attention`: builds the full
    ``(N, L, L)`` attention matrix (as the released DANet/CMDA code does). For tests and benchmarks."""
    attention = torch.softmax(torch.bmm(query, key.transpose(1, 2)), dim=-1)
    return torch.bmm(attention, value)


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al. 2020): reweight channels by a 1-D convolution over pooled channel descriptors.

    ``(N, C, T, H, W) -> (N, C, T, H, W)``: global average pool to ``(N, C)``, Conv1d(1, 1, k)
    across the channel axis (no bias), sigmoid, multiply. No residual.
    """

    def __init__(self, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"ECA kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        descriptor = x.mean(dim=(2, 3, 4)).unsqueeze(1)  # (N, 1, C)
        weights = torch.sigmoid(self.conv(descriptor))  # (N, 1, C)
        return x * weights.squeeze(1)[:, :, None, None, None]


class PositionAttention(nn.Module):
    """DANet position attention over all ``L = T·H·W`` positions, with a zero-initialised gate.

    ``(N, C, T, H, W) -> (N, C, T, H, W)``: ``q, k = conv1x1(x)`` with ``max(1, C // reduction)``
    channels, ``v = conv1x1(x)`` with ``C`` channels (all with bias), ``A = softmax(qᵀk)`` (no
    scaling), ``out = v Aᵀ``, ``y = gamma * out + x``. ``gamma`` starts at 0, so the block is the
    identity at initialisation.

    Args:
        channels: C.
        reduction: query/key width divisor.
        attention_fn: computes ``softmax(q kᵀ) v``; the default never materialises the L×L matrix.
    """

    def __init__(self, channels: int, reduction: int = 1, attention_fn: AttentionFn = memory_efficient_attention):
        super().__init__()
        if reduction < 1:
            raise ValueError(f"position attention reduction must be >= 1, got {reduction}")
        key_channels = max(1, channels // reduction)
        self.query_conv = nn.Conv3d(channels, key_channels, kernel_size=1)
        self.key_conv = nn.Conv3d(channels, key_channels, kernel_size=1)
        self.value_conv = nn.Conv3d(channels, channels, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.attention_fn = attention_fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        # (N, C, T, H, W) -> (N, L, C): one token per position.
        query = self.query_conv(x).flatten(2).transpose(1, 2)
        key = self.key_conv(x).flatten(2).transpose(1, 2)
        value = self.value_conv(x).flatten(2).transpose(1, 2)
        out = self.attention_fn(query, key, value)
        out = out.transpose(1, 2).reshape(n, c, t, h, w)
        return self.gamma * out + x


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: ``x * gate(expand(act(reduce(avgpool(x)))))``.

    ``(N, C, T, H, W) -> (N, C, T, H, W)``. Both 1x1x1 convs have a bias (as in GhostNet/MobileNetV3).

    Args:
        channels: C.
        squeeze_channels: width of the bottleneck.
        gate: the gating non-linearity (GhostNet uses the hard sigmoid ``relu6(x + 3) / 6``).
        activation: non-linearity after the reduction.
    """

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        gate: Optional[Callable[[], nn.Module]] = nn.Hardsigmoid,
        activation: Callable[[], nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.conv_reduce = nn.Conv3d(channels, squeeze_channels, kernel_size=1, bias=True)
        self.act = activation()
        self.conv_expand = nn.Conv3d(squeeze_channels, channels, kernel_size=1, bias=True)
        self.gate = gate() if gate is not None else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.conv_expand(self.act(self.conv_reduce(self.avg_pool(x)))))
        return x * scale
