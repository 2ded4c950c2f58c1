"""Fusions between the slow and the fast pathway, applied after a stage.

Every fusion has the signature ``Fusion(dim_slow, dim_fast, alpha, beta_inv, **options)``, maps
``[x_slow, x_fast] -> [x_slow', x_fast']`` and reports the new widths in ``out_dims``
(``(dim_slow', dim_fast')``), which the composition in ``two_pathway.py`` feeds to the next stage.
Shapes: ``x_slow (N, C_s, T, H, W)``, ``x_fast (N, C_f, alpha*T, H, W)``.
"""
import functools
from typing import Callable, List

import torch
import torch.nn as nn
import torch.nn.functional as F

from slowfast.models.blocks.attention import (
    AttentionFn,
    EfficientChannelAttention,
    PositionAttention,
    memory_efficient_attention,
)
from slowfast.models.norm import NormLayer

FusionFactory = Callable[[int, int], nn.Module]


class FuseFastToSlow(nn.Module):
    """SlowFast lateral connection: time-strided conv of the fast pathway concatenated onto the slow one.

    ``x_fast (N, C_f, aT, H, W)`` -> Conv3d ``[K,1,1]`` stride ``[a,1,1]`` -> BN -> ReLU ->
    ``(N, ratio*C_f, T, H, W)``, concatenated after the slow channels; fast passes unchanged.
    ``out_dims = (C_s + ratio*C_f, C_f)``.
    """

    def __init__(
        self,
        dim_slow: int,
        dim_fast: int,
        alpha: int,
        beta_inv: int,
        *,
        channel_ratio: int = 2,
        kernel_size: int = 5,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        self.conv_f2s = nn.Conv3d(
            dim_fast,
            dim_fast * channel_ratio,
            kernel_size=(kernel_size, 1, 1),
            stride=(alpha, 1, 1),
            padding=(kernel_size // 2, 0, 0),
            bias=False,
        )
        self.bn = norm_layer(dim_fast * channel_ratio)
        self.relu = nn.ReLU(inplace=True)
        self.out_dims = (dim_slow + dim_fast * channel_ratio, dim_fast)

    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        x_slow, x_fast = x
        fused = self.relu(self.bn(self.conv_f2s(x_fast)))
        return [torch.cat([x_slow, fused], dim=1), x_fast]


class CMDA(nn.Module):
    """Cross-modality dual attention: a bidirectional exchange between the pathways.

    Fast -> slow (channel attention): ``x_fast`` temporal max-pool ``(a,1,1)`` -> ECA -> BN -> ReLU
    -> ``(N, C_f, T, H, W)``, concatenated after the slow channels.
    Slow -> fast (spatio-temporal attention): 1x1x1 conv ``C_s -> C' = C_s // beta_inv`` ->
    gated position attention (identity at init) -> BN -> ReLU -> nearest upsample to the fast
    length -> ``(N, C', aT, H, W)``, concatenated *before* the fast channels.
    ``out_dims = (C_s + C_f, C' + C_f)``.

    Args:
        dim_slow, dim_fast: C_s, C_f (odd widths are fine).
        alpha: frame-rate ratio between the pathways.
        beta_inv: channel ratio; C' = max(1, C_s // beta_inv).
        reduction: query/key width divisor of the position attention.
        eca_kernel: kernel of ECA's 1-D conv.
        attention_fn: the attention kernel (default: SDPA, never materialises the L×L matrix).
    """

    def __init__(
        self,
        dim_slow: int,
        dim_fast: int,
        alpha: int,
        beta_inv: int,
        *,
        reduction: int = 1,
        eca_kernel: int = 3,
        norm_layer: NormLayer = nn.BatchNorm3d,
        attention_fn: AttentionFn = memory_efficient_attention,
    ):
        super().__init__()
        dim_s2f = max(1, dim_slow // beta_inv)
        # Fast -> slow.
        self.f2s_pool = nn.MaxPool3d(kernel_size=(alpha, 1, 1), stride=(alpha, 1, 1))
        self.f2s_eca = EfficientChannelAttention(eca_kernel)
        self.f2s_bn = norm_layer(dim_fast)
        self.f2s_relu = nn.ReLU(inplace=True)
        # Slow -> fast.
        self.s2f_conv = nn.Conv3d(dim_slow, dim_s2f, kernel_size=1, bias=False)
        self.s2f_attention = PositionAttention(dim_s2f, reduction=reduction, attention_fn=attention_fn)
        self.s2f_bn = norm_layer(dim_s2f)
        self.s2f_relu = nn.ReLU(inplace=True)
        self.out_dims = (dim_slow + dim_fast, dim_s2f + dim_fast)

    def fast_to_slow(self, x_fast: torch.Tensor) -> torch.Tensor:
        """``(N, C_f, aT, H, W) -> (N, C_f, T, H, W)``."""
        return self.f2s_relu(self.f2s_bn(self.f2s_eca(self.f2s_pool(x_fast))))

    def slow_to_fast(self, x_slow: torch.Tensor, fast_length: int) -> torch.Tensor:
        """``(N, C_s, T, H, W) -> (N, C', fast_length, H, W)``."""
        y = self.s2f_relu(self.s2f_bn(self.s2f_attention(self.s2f_conv(x_slow))))
        t, h, w = y.shape[-3:]
        return F.interpolate(y, size=(fast_length, h, w), mode="nearest")

    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        x_slow, x_fast = x
        slow_out = torch.cat([x_slow, self.fast_to_slow(x_fast)], dim=1)
        fast_out = torch.cat([self.slow_to_fast(x_slow, x_fast.shape[2]), x_fast], dim=1)
        return [slow_out, fast_out]


class NoFusion(nn.Module):
    """No exchange (``SLOWFAST.FUSION none``, an ablation): ``[x_slow, x_fast]`` pass unchanged,
    ``out_dims = (C_s, C_f)``, so the next stages see narrower inputs than with a fusion."""

    def __init__(self, dim_slow: int, dim_fast: int, alpha: int, beta_inv: int, *, norm_layer: NormLayer = None):
        super().__init__()
        self.out_dims = (dim_slow, dim_fast)

    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        return list(x)


FUSIONS = ("lateral", "cmda", "none")


def build_fusion(cfg, norm_layer: NormLayer, default: str = "lateral") -> FusionFactory:
    """The fusion factory ``(dim_slow, dim_fast) -> module`` selected by ``SLOWFAST.FUSION``.

    Args:
        cfg: reads ``SLOWFAST.{FUSION, ALPHA, BETA_INV, FUSION_CONV_CHANNEL_RATIO,
            FUSION_KERNEL_SZ, CMDA_REDUCTION}``.
        norm_layer: norm constructor shared by the model.
        default: fusion used when ``SLOWFAST.FUSION`` is "" (the model's own choice).
    """
    name = cfg.SLOWFAST.FUSION or default
    common = dict(alpha=cfg.SLOWFAST.ALPHA, beta_inv=cfg.SLOWFAST.BETA_INV, norm_layer=norm_layer)
    if name == "lateral":
        return functools.partial(
            FuseFastToSlow,
            channel_ratio=cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO,
            kernel_size=cfg.SLOWFAST.FUSION_KERNEL_SZ,
            **common,
        )
    if name == "cmda":
        return functools.partial(CMDA, reduction=cfg.SLOWFAST.CMDA_REDUCTION, **common)
    if name == "none":
        return functools.partial(NoFusion, **common)
    raise ValueError(f"SLOWFAST.FUSION '{name}' is not a fusion; known: {', '.join(FUSIONS)}")

