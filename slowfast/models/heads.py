"""Classification heads: per-pathway global pooling, concatenation, dropout, linear.

One parameterised :class:`PooledHead` serves two-pathway models (``dims_in=[C_slow, C_fast]``) and
single-stream models (``dims_in=[C]``). Optional per-pathway layers cover the efficient variants:
a 1x1x1 conv + norm + activation before pooling (ShuffleNetV2, MobileNetV2, GhostNet) and a 1x1x1
conv with bias + activation after pooling (GhostNet's ``conv_head``).

Pooling is adaptive (global average over whatever ``(T, H, W)`` remains), so any crop size works:
fully-convolutional testing at 256² and multigrid's changing shapes need no head changes.
``forward`` always returns logits ``(N, num_classes)``; probabilities are the caller's choice.
"""
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn as nn

from slowfast.models.norm import NormLayer


class ConvNormAct(nn.Module):
    """``Conv3d (no bias) -> norm -> activation``; ``(N, C_in, T, H, W) -> (N, C_out, T', H', W')``."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        kernel_size=1,
        stride=1,
        padding=0,
        groups: int = 1,
        norm_layer: NormLayer = nn.BatchNorm3d,
        activation: Optional[Callable[[], nn.Module]] = nn.ReLU,
    ):
        super().__init__()
        self.conv = nn.Conv3d(dim_in, dim_out, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = norm_layer(dim_out)
        self.act = activation() if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class PooledHead(nn.Module):
    """Per-pathway ``[conv] -> global avg pool -> [conv_head]``, concat, dropout, linear.

    Input: list of per-pathway ``(N, C_p, T_p, H_p, W_p)`` tensors. Output: logits ``(N, K)``.
    Module names follow public SlowFast: ``pathway{p}_avgpool``, ``dropout``, ``projection``;
    optional ``pathway{p}_conv`` (before pooling) and ``pathway{p}_conv_head`` (after pooling).

    Args:
        dims_in: channels of each pathway's input.
        num_classes: K.
        dropout_rate: dropout before the projection (0 disables it).
        pre_pool_dims: if given, each pathway first goes through a 1x1x1 ConvNormAct to this width.
        post_pool_dims: if given, each pooled pathway goes through a 1x1x1 conv with bias to this
            width followed by ``activation``.
        activation: non-linearity of the optional convs (ReLU; ReLU6 for MobileNetV2).
        norm_layer: norm constructor of the pre-pool conv.
    """

    def __init__(
        self,
        dims_in: Sequence[int],
        num_classes: int,
        dropout_rate: float = 0.0,
        *,
        pre_pool_dims: Optional[Sequence[int]] = None,
        post_pool_dims: Optional[Sequence[int]] = None,
        activation: Callable[[], nn.Module] = nn.ReLU,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        self.num_pathways = len(dims_in)
        for name, dims in (("pre_pool_dims", pre_pool_dims), ("post_pool_dims", post_pool_dims)):
            if dims is not None and len(dims) != self.num_pathways:
                raise ValueError(f"{name} has {len(dims)} entries, expected one per pathway ({self.num_pathways})")
        dims = list(dims_in)
        for p in range(self.num_pathways):
            if pre_pool_dims is not None:
                self.add_module(
                    f"pathway{p}_conv",
                    ConvNormAct(dims[p], pre_pool_dims[p], norm_layer=norm_layer, activation=activation),
                )
                dims[p] = pre_pool_dims[p]
            self.add_module(f"pathway{p}_avgpool", nn.AdaptiveAvgPool3d(1))
            if post_pool_dims is not None:
                self.add_module(
                    f"pathway{p}_conv_head",
                    nn.Sequential(nn.Conv3d(dims[p], post_pool_dims[p], kernel_size=1, bias=True), activation()),
                )
                dims[p] = post_pool_dims[p]
        self.dim_out = sum(dims)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()
        self.projection = nn.Linear(self.dim_out, num_classes, bias=True)

    def pooled_features(self, x: List[torch.Tensor]) -> torch.Tensor:
        """``[(N, C_p, T_p, H_p, W_p)] -> (N, sum of the pathways' final widths)``."""
        if len(x) != self.num_pathways:
            raise ValueError(f"head expects {self.num_pathways} pathway tensors, got {len(x)}")
        pooled = []
        for p, x_p in enumerate(x):
            if hasattr(self, f"pathway{p}_conv"):
                x_p = getattr(self, f"pathway{p}_conv")(x_p)
            x_p = getattr(self, f"pathway{p}_avgpool")(x_p)
            if hasattr(self, f"pathway{p}_conv_head"):
                x_p = getattr(self, f"pathway{p}_conv_head")(x_p)
            pooled.append(x_p.flatten(1))
        return torch.cat(pooled, dim=1)

    def forward(self, x: List[torch.Tensor]) -> torch.Tensor:
        return self.projection(self.dropout(self.pooled_features(x)))
