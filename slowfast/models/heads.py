"""Heads: per-pathway global pooling (classification) or RoI pooling (detection), concatenation,
dropout, linear. :func:`build_head` picks one from ``DETECTION.ENABLE``.

One parameterised :class:`PooledHead` serves two-pathway models (``dims_in=[C_slow, C_fast]``) and
single-stream models (``dims_in=[C]``). Optional per-pathway layers cover the efficient variants:
a 1x1x1 conv + norm + activation before pooling (ShuffleNetV2, MobileNetV2, GhostNet) and a 1x1x1
conv with bias + activation after pooling (GhostNet's ``conv_head``).

Pooling is adaptive (global average over whatever ``(T, H, W)`` remains), so any crop size works:
fully-convolutional testing at 256² and multigrid's changing shapes need no head changes.
``forward`` always returns logits ``(N, num_classes)``; probabilities are the caller's choice.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from slowfast.models.blocks.depthwise import DepthwiseConv3d
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
        if groups > 1 and groups == dim_in == dim_out and stride in (1, (1, 1, 1)):
            # A stride-1 depthwise conv: its CPU backward is the costly one (blocks/depthwise.py).
            self.conv = DepthwiseConv3d(dim_in, kernel_size, padding)
        else:
            self.conv = nn.Conv3d(dim_in, dim_out, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = norm_layer(dim_out)
        self.act = activation() if activation is not None else nn.Identity()
        # The activation's input is the fresh output of conv/norm (no other user, and BatchNorm's
        # backward needs its input, not its output), so it can overwrite it: same values, no
        # new tensor per layer (3D-MobileNetV2 eval 1.6x faster on CPU, where these element-wise
        # passes over fresh memory were ~40 % of the forward).
        if hasattr(self.act, "inplace"):
            self.act.inplace = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def check_per_pathway(num_pathways: int, **values: Optional[Sequence]) -> None:
    """Every given sequence has one entry per pathway (None means the option is unused)."""
    for name, entries in values.items():
        if entries is not None and len(entries) != num_pathways:
            raise ValueError(f"{name} has {len(entries)} entries, expected one per pathway ({num_pathways})")


def add_pathway_layers(head: nn.Module, p: int, dim: int, pools: Sequence[Tuple[str, nn.Module]],
                       pre_pool_dim: Optional[int], post_pool_dim: Optional[int],
                       activation: Callable[[], nn.Module], norm_layer: NormLayer) -> int:
    """Register pathway ``p``'s head layers on ``head`` in forward order -- the optional 1x1x1
    ``pathway{p}_conv`` (ConvNormAct), the head's own ``pools``, the optional ``pathway{p}_conv_head``
    (conv with bias + activation) -- and return the pathway's output width."""
    if pre_pool_dim is not None:
        head.add_module(f"pathway{p}_conv", ConvNormAct(dim, pre_pool_dim, norm_layer=norm_layer, activation=activation))
        dim = pre_pool_dim
    for name, pool in pools:
        head.add_module(name, pool)
    if post_pool_dim is not None:
        head.add_module(f"pathway{p}_conv_head",
                        nn.Sequential(nn.Conv3d(dim, post_pool_dim, kernel_size=1, bias=True), activation()))
        dim = post_pool_dim
    return dim


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
        check_per_pathway(self.num_pathways, pre_pool_dims=pre_pool_dims, post_pool_dims=post_pool_dims)
        self.dim_out = sum(
            add_pathway_layers(self, p, dims_in[p], [(f"pathway{p}_avgpool", nn.AdaptiveAvgPool3d(1))],
                               pre_pool_dims[p] if pre_pool_dims is not None else None,
                               post_pool_dims[p] if post_pool_dims is not None else None, activation, norm_layer)
            for p in range(self.num_pathways)
        )
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


class TemporalAvgPool(nn.Module):
    """``(N, C, T, H, W) -> (N, C, 1, H, W)``: mean over time (a plain mean, so that ONNX export
    works with any H and W, unlike adaptive pooling with a free output size)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=2, keepdim=True)


class RoIHead(nn.Module):
    """Action-detection head: per pathway ``[conv] -> temporal average pool -> RoIAlign -> spatial
    max pool -> [conv_head]``, then concat, dropout, linear (public SlowFast's ResNetRoIHead).

    ``forward(x, bboxes)``: ``x`` is the list of per-pathway features ``(N, C_p, T_p, H_p, W_p)``,
    ``bboxes`` ``(K, 5)`` holds ``(batch index, x1, y1, x2, y2)`` in *input* pixels; returns logits
    ``(K, num_classes)``. Module names follow public SlowFast: ``s{p}_tpool``, ``s{p}_roi``,
    ``s{p}_spool``, ``dropout``, ``projection``; the efficient families keep their classification
    heads' ``pathway{p}_conv`` / ``pathway{p}_conv_head`` so Kinetics weights initialise them.

    Args:
        dims_in: channels of each pathway's input.
        num_classes: K outputs per box.
        feature_strides: input pixels per feature cell, one per pathway (RoIAlign's
            ``spatial_scale = 1 / stride``).
        resolution: RoIAlign output side (``DETECTION.ROI_XFORM_RESOLUTION``).
        aligned: RoIAlign's half-pixel correction (``DETECTION.ALIGNED``).
        dropout_rate, pre_pool_dims, post_pool_dims, activation, norm_layer: as :class:`PooledHead`.
    """

    def __init__(
        self,
        dims_in: Sequence[int],
        num_classes: int,
        feature_strides: Sequence[int],
        resolution: int = 7,
        aligned: bool = True,
        dropout_rate: float = 0.0,
        *,
        pre_pool_dims: Optional[Sequence[int]] = None,
        post_pool_dims: Optional[Sequence[int]] = None,
        activation: Callable[[], nn.Module] = nn.ReLU,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ):
        super().__init__()
        from torchvision.ops import RoIAlign  # torchvision only when a detection model is built

        self.num_pathways = len(dims_in)
        check_per_pathway(self.num_pathways, feature_strides=feature_strides, pre_pool_dims=pre_pool_dims,
                          post_pool_dims=post_pool_dims)
        self.feature_strides = [int(s) for s in feature_strides]
        dims = []
        for p in range(self.num_pathways):
            pools = [
                # The whole clip is averaged whatever T_p is (public SlowFast sizes the kernel to T_p).
                (f"s{p}_tpool", TemporalAvgPool()),
                (f"s{p}_roi", RoIAlign(resolution, spatial_scale=1.0 / self.feature_strides[p], sampling_ratio=0,
                                       aligned=aligned)),
                (f"s{p}_spool", nn.MaxPool2d(resolution, stride=1)),
            ]
            dims.append(add_pathway_layers(self, p, dims_in[p], pools,
                                           pre_pool_dims[p] if pre_pool_dims is not None else None,
                                           post_pool_dims[p] if post_pool_dims is not None else None,
                                           activation, norm_layer))
        self.dim_out = sum(dims)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()
        self.projection = nn.Linear(self.dim_out, num_classes, bias=True)

    def box_features(self, x: List[torch.Tensor], bboxes: torch.Tensor) -> torch.Tensor:
        """``[(N, C_p, T_p, H_p, W_p)], (K, 5) -> (K, sum of the pathways' final widths)``."""
        if len(x) != self.num_pathways:
            raise ValueError(f"head expects {self.num_pathways} pathway tensors, got {len(x)}")
        if bboxes.ndim != 2 or bboxes.shape[1] != 5:
            raise ValueError(f"bboxes must be (K, 5) rows of (batch index, x1, y1, x2, y2), got {tuple(bboxes.shape)}")
        pooled = []
        for p, x_p in enumerate(x):
            if hasattr(self, f"pathway{p}_conv"):
                x_p = getattr(self, f"pathway{p}_conv")(x_p)
            x_p = getattr(self, f"s{p}_tpool")(x_p).squeeze(2)  # (N, C, H, W)
            # roi_align wants boxes in the features' dtype (bf16 under autocast) and a dense layout.
            x_p = getattr(self, f"s{p}_roi")(x_p.contiguous(), bboxes.to(x_p.dtype))  # (K, C, r, r)
            x_p = getattr(self, f"s{p}_spool")(x_p)  # (K, C, 1, 1)
            if hasattr(self, f"pathway{p}_conv_head"):
                x_p = getattr(self, f"pathway{p}_conv_head")(x_p.unsqueeze(2)).squeeze(2)
            pooled.append(x_p.flatten(1))
        return torch.cat(pooled, dim=1)

    def forward(self, x: List[torch.Tensor], bboxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        if bboxes is None:
            raise ValueError("this model has an RoI head (DETECTION.ENABLE): call it as model(inputs, bboxes) "
                             "with bboxes (K, 5) = (batch index, x1, y1, x2, y2) in input pixels")
        return self.projection(self.dropout(self.box_features(x, bboxes)))


def detection_strides(cfg, feature_strides: Sequence[int]) -> List[int]:
    """The RoI head's per-pathway strides: the backbone's ``feature_strides``, checked against a
    positive ``DETECTION.SPATIAL_SCALE_FACTOR`` (0 = take the derived ones)."""
    configured = cfg.DETECTION.SPATIAL_SCALE_FACTOR
    if configured > 0 and any(s != configured for s in feature_strides):
        raise ValueError(
            f"DETECTION.SPATIAL_SCALE_FACTOR {configured} does not match the backbone's output stride "
            f"{list(feature_strides)} (from its stem and stage strides, e.g. RESNET.SPATIAL_STRIDES); "
            f"set it to 0 to use the derived stride"
        )
    return list(feature_strides)


def build_head(cfg, dims_in: Sequence[int], feature_strides: Sequence[int], **options) -> nn.Module:
    """The model's head: :class:`RoIHead` with ``DETECTION.ENABLE``, else :class:`PooledHead`.

    Args:
        dims_in: per-pathway widths entering the head.
        feature_strides: per-pathway input pixels per feature cell (``two_pathway.feature_strides``).
        options: the family's optional head layers (``pre_pool_dims``, ``post_pool_dims``,
            ``activation``, ``norm_layer``), shared by both heads so classification weights load.
    """
    if not cfg.DETECTION.ENABLE:
        return PooledHead(dims_in, cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE, **options)
    return RoIHead(
        dims_in,
        cfg.MODEL.NUM_CLASSES,
        detection_strides(cfg, feature_strides),
        resolution=cfg.DETECTION.ROI_XFORM_RESOLUTION,
        aligned=cfg.DETECTION.ALIGNED,
        dropout_rate=cfg.MODEL.DROPOUT_RATE,
        **options,
    )


def takes_boxes(model: nn.Module) -> bool:
    """True when ``model`` (or the module a DDP wrapper holds) has an RoI head: it is called as
    ``model(inputs, bboxes)``."""
    model = getattr(model, "module", model)
    return isinstance(getattr(model, "head", None), RoIHead)


def example_boxes(inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Two boxes per clip of ``inputs`` (the whole frame and its centre quarter), ``(2N, 5)`` rows
    of (batch index, x1, y1, x2, y2) in input pixels: stand-ins for tracing, FLOP counting and
    timing a detection model."""
    batch, height, width = inputs[0].shape[0], inputs[0].shape[-2], inputs[0].shape[-1]
    rows = []
    for n in range(batch):
        rows.append([n, 0.0, 0.0, width - 1.0, height - 1.0])
        rows.append([n, width / 4, height / 4, 3 * width / 4, 3 * height / 4])
    return torch.tensor(rows, dtype=inputs[0].dtype, device=inputs[0].device).reshape(-1, 5)


def example_args(model: nn.Module, inputs: Sequence[torch.Tensor]) -> tuple:
    """The positional arguments of ``model`` for ``inputs``: ``(inputs,)``, or ``(inputs, boxes)``
    with :func:`example_boxes` for a detection model. Every caller that runs a model on example
    clips (BN folding, FLOPs, shapes, export, benchmarks) goes through this."""
    inputs = list(inputs)
    return (inputs, example_boxes(inputs)) if takes_boxes(model) else (inputs,)
