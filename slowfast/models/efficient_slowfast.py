"""Efficient two-pathway SlowFast variants (Wei et al., "Efficient Dual Attention SlowFast
Networks"): ShuffleNet, ShuffleNetV2, MobileNetV2 and GhostNet backbones with CMDA fusions.

This file holds the stage tables and the registration only; the composition is
:class:`~slowfast.models.two_pathway.TwoPathwayNet`, the blocks live in ``blocks/``. The same
table functions build the single-stream baselines (``single_stream.py``) with one pathway, no
fusions and other strides.

Conventions (models.md §3): the fast pathway has the same blocks with every width
``floor(slow / SLOWFAST.BETA_INV)``; input slow 4 + fast 16 frames at 112²; spatial strides only
``(1, s, s)``; CMDA fusions (``SLOWFAST.FUSION`` may select "lateral"); head = per pathway
global average pool, concat, dropout, linear. Width by ``SLOWFAST.WIDTH_MULTI``, ShuffleNet
groups by ``SLOWFAST.GROUPS``.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch.nn as nn

from slowfast.models.blocks.ghost import ghost_stage, make_divisible
from slowfast.models.blocks.mobilenet import ConvStem, inverted_residual_stage
from slowfast.models.blocks.shufflenet import shufflenet_stage, shufflenetv2_stage
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.fusion import build_fusion
from slowfast.models.heads import build_head
from slowfast.models.norm import NormLayer, get_norm
from slowfast.models.two_pathway import StageSpec, TwoPathwayNet, feature_strides, init_weights

Stride = Tuple[int, int, int]
SPATIAL_STRIDE: Stride = (1, 2, 2)
# Per-pathway widths, slow first: (slow,) for single-stream nets, (slow, fast) for two pathways.
Widths = Tuple[int, ...]

# ShuffleNet (V1) and V2 units per stage s2, s3, s4.
SHUFFLENET_STAGE_UNITS = (4, 8, 4)
# ShuffleNet (V1) stage output widths of s2..s4 by groups (at width 1.0; stem 24).
SHUFFLENET_WIDTHS = {
    1: (144, 288, 567),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
# ShuffleNetV2 [stem, s2, s3, s4, last conv] by width; 240/496 replace the paper's 232/488 so
# that the /8 fast widths split evenly into the two branches.
SHUFFLENETV2_WIDTHS = {
    0.25: (24, 32, 64, 128, 1024),
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 240, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 224, 496, 976, 2048),
}
# MobileNetV2 inverted residual rows (t, c, n, strided) grouped into named stages with the name of
# the fusion that follows (the release names the fusion after s2 "s3_fuse" and has none after s6).
MOBILENETV2_STAGES = (
    ("s2", ((1, 16, 1, False), (6, 24, 2, True)), "s3_fuse"),
    ("s4", ((6, 32, 3, True),), "s4_fuse"),
    ("s5", ((6, 64, 4, True),), "s5_fuse"),
    ("s6", ((6, 96, 3, False),), None),
    ("s7", ((6, 160, 3, True),), "s7_fuse"),
    ("s8", ((6, 320, 1, False),), None),
)
# GhostNet bottleneck rows (k, expansion, c, se_ratio, stride) of s1..s5; fusions after s1..s4.
GHOSTNET_STAGES = (
    ("s1", ((3, 16, 16, 0.0, 1),)),
    ("s2", ((3, 48, 24, 0.0, 2), (3, 72, 24, 0.0, 1))),
    ("s3", ((5, 72, 40, 0.25, 2), (5, 120, 40, 0.25, 1))),
    (
        "s4",
        (
            (3, 240, 80, 0.0, 2),
            (3, 200, 80, 0.0, 1),
            (3, 184, 80, 0.0, 1),
            (3, 184, 80, 0.0, 1),
            (3, 480, 112, 0.25, 1),
            (3, 672, 112, 0.25, 1),
        ),
    ),
    (
        "s5",
        (
            (5, 672, 160, 0.25, 2),
            (5, 960, 160, 0.0, 1),
            (5, 960, 160, 0.25, 1),
            (5, 960, 160, 0.0, 1),
            (5, 960, 160, 0.25, 1),
        ),
    ),
)


def width_entry(table: Dict[float, tuple], width_multi: float, key: str = "SLOWFAST.WIDTH_MULTI"):
    """The table row of ``width_multi``, or a clear error naming the key and the known widths."""
    for width, row in table.items():
        if abs(width - width_multi) < 1e-6:
            return row
    raise ValueError(f"{key} {width_multi} is not supported here; known widths: {sorted(table)}")


def pathway_widths(slow: int, num_pathways: int, beta_inv: int) -> Widths:
    """``(slow, slow // beta_inv)`` (two pathways) or ``(slow,)`` (one)."""
    return (slow, slow // beta_inv)[:num_pathways]


def stem_spec(name: str, widths: Widths, activation, pool_stride: Optional[Stride], norm_layer: NormLayer,
              fuse: bool) -> StageSpec:
    """The ``ConvStem`` (3x3x3 stride (1,2,2) conv, norm, activation, optional max pool) per pathway."""

    def build(p: int, dim_in: int):
        return [ConvStem(dim_in, widths[p], SPATIAL_STRIDE, activation, pool_stride, norm_layer)], widths[p]

    spatial_stride = SPATIAL_STRIDE[1] * (pool_stride[1] if pool_stride is not None else 1)
    return StageSpec(name, build, block_prefix="stem", indexed=False, fuse_name=f"{name}_fuse" if fuse else None,
                     spatial_stride=spatial_stride)


# --------------------------------------------------------------------------------------------- #
# Stage tables. Each returns (stages, pre-pool head widths or None, post-pool head widths or None).
# --------------------------------------------------------------------------------------------- #
HeadWidths = Optional[Widths]
Table = Tuple[List[StageSpec], HeadWidths, HeadWidths]


def shufflenetv2_table(widths: Sequence[int], num_pathways: int, beta_inv: int, stride: Stride,
                       pool_stride: Stride, fuse: bool, norm_layer: NormLayer) -> Table:
    """Stem, s2..s4 of ShuffleNetV2 units, head conv to ``widths[-1]`` (per pathway)."""
    def per(c: int) -> Widths:
        return pathway_widths(c, num_pathways, beta_inv)

    stages = [stem_spec("s1", per(widths[0]), nn.ReLU, pool_stride, norm_layer, fuse)]
    for i, num_units in enumerate(SHUFFLENET_STAGE_UNITS):
        out = per(widths[i + 1])

        def build(p: int, dim_in: int, out=out, num_units=num_units):
            return shufflenetv2_stage(dim_in, out[p], num_units, stride, norm_layer), out[p]

        name = f"s{i + 2}"
        stages.append(StageSpec(name, build, block_prefix="unit", fuse_name=f"{name}_fuse" if fuse else None,
                                spatial_stride=stride[1]))  # each stage's first unit is strided
    return stages, per(widths[-1]), None


def shufflenet_table(width_multi: float, groups: int, num_pathways: int, beta_inv: int, stride: Stride,
                     pool_stride: Stride, fuse: bool, shortcut: str, first_groups: Callable[[int], int],
                     norm_layer: NormLayer) -> Table:
    """Stem ``int(24 W)``, s2..s4 of ShuffleNet (V1) units with widths ``int(c W)``; no head conv.

    Args:
        shortcut: "conv_pool" (efficient SlowFast) or "pool" (3D-ShuffleNet).
        first_groups: groups of the first 1x1 conv of a stage's first unit, from its input width.
    """
    if groups not in SHUFFLENET_WIDTHS:
        raise ValueError(f"SLOWFAST.GROUPS {groups} is not supported; known: {sorted(SHUFFLENET_WIDTHS)}")
    def per(c: int) -> Widths:
        return pathway_widths(int(c * width_multi), num_pathways, beta_inv)

    stages = [stem_spec("s1", per(24), nn.ReLU, pool_stride, norm_layer, fuse)]
    for i, (num_units, width) in enumerate(zip(SHUFFLENET_STAGE_UNITS, SHUFFLENET_WIDTHS[groups])):
        out = per(width)

        def build(p: int, dim_in: int, out=out, num_units=num_units):
            units = shufflenet_stage(
                dim_in, out[p], num_units, groups, stride, shortcut, first_groups(dim_in), norm_layer
            )
            return units, out[p]

        name = f"s{i + 2}"
        stages.append(StageSpec(name, build, block_prefix="unit", fuse_name=f"{name}_fuse" if fuse else None,
                                spatial_stride=stride[1]))  # each stage's first unit is strided
    return stages, None, None


def mobilenetv2_table(width_multi: float, num_pathways: int, beta_inv: int, stride: Stride, fuse: bool,
                      norm_layer: NormLayer) -> Table:
    """Stem ``int(32 W)`` (ReLU6), the inverted residual stages s2, s4..s8, head conv to 1280
    (``int(1280 W)`` when W > 1), widths ``int(c W)``."""
    def per(c: int) -> Widths:
        return pathway_widths(int(c * width_multi), num_pathways, beta_inv)

    stages = [stem_spec("s1", per(32), nn.ReLU6, None, norm_layer, fuse=False)]
    for name, rows, fuse_name in MOBILENETV2_STAGES:
        def build(p: int, dim_in: int, rows=rows):
            scaled = [(t, per(c)[p], n, stride if strided else 1) for t, c, n, strided in rows]
            return inverted_residual_stage(dim_in, scaled, norm_layer), scaled[-1][1]

        strided = sum(1 for row in rows if row[3])
        stages.append(StageSpec(name, build, block_prefix="block", fuse_name=fuse_name if fuse else None,
                                spatial_stride=stride[1] ** strided))
    last = int(1280 * width_multi) if width_multi > 1.0 else 1280
    return stages, pathway_widths(last, num_pathways, beta_inv), None


def ghostnet_table(width_multi: float, num_pathways: int, beta_inv: int, fuse: bool, norm_layer: NormLayer,
                   conv_head_width: int) -> Table:
    """Stem s0 ``make_divisible(16 W)``, ghost stages s1..s5, head: ConvBnAct to the last
    expansion width, pool, 1x1x1 conv with bias to ``conv_head_width`` (per pathway), ReLU.

    Widths: ``make_divisible(c W, 4)`` slow, ``make_divisible(c W // beta_inv, 4)`` fast.
    """
    def per(c: float) -> Widths:
        return (make_divisible(c * width_multi, 4), make_divisible(int(c * width_multi // beta_inv), 4))[:num_pathways]

    stages = [stem_spec("s0", per(16), nn.ReLU, None, norm_layer, fuse=False)]
    for i, (name, rows) in enumerate(GHOSTNET_STAGES):
        def build(p: int, dim_in: int, rows=rows):
            scaled = [(k, per(mid)[p], per(c)[p], se, s) for k, mid, c, se, s in rows]
            return ghost_stage(dim_in, scaled, norm_layer), scaled[-1][2]

        fuse_name = f"{name}_fuse" if fuse and i < 4 else None
        spatial_stride = 1
        for row in rows:
            spatial_stride *= row[4]
        stages.append(StageSpec(name, build, block_prefix="block", fuse_name=fuse_name, spatial_stride=spatial_stride))
    last_mid = GHOSTNET_STAGES[-1][1][-1][1]
    return stages, per(last_mid), pathway_widths(conv_head_width, num_pathways, beta_inv)


# --------------------------------------------------------------------------------------------- #
# Registered two-pathway models.
# --------------------------------------------------------------------------------------------- #
class EfficientVideoNet(TwoPathwayNet):
    """An efficient backbone composed by :class:`TwoPathwayNet` from its stage table.

    ``arch = "slowfast"``: ``[slow (N,3,T,H,W), fast (N,3,αT,H,W)] -> logits (N, K)`` with the
    fusions of ``SLOWFAST.FUSION`` (default CMDA). ``arch = "single_stream"`` (subclasses in
    ``single_stream.py``): ``[x (N,3,T,H,W)] -> logits (N, K)``, no fusions.
    Subclasses give ``stage_table(cfg, norm_layer) -> Table`` and the head's activation.
    """

    arch = "slowfast"
    head_activation: Callable[[], nn.Module] = nn.ReLU

    def __init__(self, cfg):
        name = type(self).__name__
        if cfg.MODEL.ARCH != self.arch:
            raise ValueError(f"MODEL.ARCH '{cfg.MODEL.ARCH}' is not valid for {name}; expected '{self.arch}'")
        two_pathway = self.arch == "slowfast"
        if two_pathway and len(cfg.DATA.INPUT_CHANNEL_NUM) != 2:
            raise ValueError(f"DATA.INPUT_CHANNEL_NUM {cfg.DATA.INPUT_CHANNEL_NUM} needs two entries for {name}")
        norm_layer = get_norm(cfg)
        stages, pre_pool, post_pool = self.stage_table(cfg, norm_layer)
        strides = feature_strides(stages, 2 if two_pathway else 1)
        super().__init__(
            dims_in=cfg.DATA.INPUT_CHANNEL_NUM[: 2 if two_pathway else 1],
            stages=stages,
            fusion=build_fusion(cfg, norm_layer, default="cmda") if two_pathway else None,
            head=lambda dims: build_head(  # RoI head on the same widths with DETECTION.ENABLE
                cfg,
                dims,
                strides,
                pre_pool_dims=pre_pool,
                post_pool_dims=post_pool,
                activation=self.head_activation,
                norm_layer=norm_layer,
            ),
        )
        init_weights(self, cfg.MODEL.FC_INIT_STD, cfg.MODEL.ZERO_INIT_FINAL_BN)

    @staticmethod
    def stage_table(cfg, norm_layer: NormLayer) -> Table:
        raise NotImplementedError


@MODEL_REGISTRY.register()
class SlowFastShuffleNetV2(EfficientVideoNet):
    """SlowFast with ShuffleNetV2 pathways (W 0.25/0.5/1.0/1.5/2.0); Grad-CAM layer ``s4_fuse``."""

    @staticmethod
    def stage_table(cfg, norm_layer):
        widths = width_entry(SHUFFLENETV2_WIDTHS, cfg.SLOWFAST.WIDTH_MULTI)
        return shufflenetv2_table(
            widths, 2, cfg.SLOWFAST.BETA_INV, stride=SPATIAL_STRIDE, pool_stride=SPATIAL_STRIDE, fuse=True,
            norm_layer=norm_layer,
        )


@MODEL_REGISTRY.register()
class SlowFastShuffleNet(EfficientVideoNet):
    """SlowFast with ShuffleNet (V1) pathways (W 1.0/1.5/2.0, groups 1/3); Grad-CAM layer ``s4_fuse``.

    Strided units concatenate a 1x1x1 conv + average-pool shortcut; depthwise widths are rounded
    to multiples of the groups and the first 1x1 conv of a stage is ungrouped where its (fused)
    input width does not split into the groups, so every width x groups combination builds.
    """

    @staticmethod
    def stage_table(cfg, norm_layer):
        groups = cfg.SLOWFAST.GROUPS
        def first_groups(dim_in: int) -> int:
            # Fused stem widths (e.g. 36 + 4 at W1.5) need not split into the groups.
            return groups if dim_in % groups == 0 else 1

        return shufflenet_table(
            cfg.SLOWFAST.WIDTH_MULTI, groups, 2, cfg.SLOWFAST.BETA_INV, stride=SPATIAL_STRIDE,
            pool_stride=SPATIAL_STRIDE, fuse=True, shortcut="conv_pool", first_groups=first_groups,
            norm_layer=norm_layer,
        )


@MODEL_REGISTRY.register()
class SlowFastMobileNetV2(EfficientVideoNet):
    """SlowFast with MobileNetV2 pathways (W 0.5/0.7/1.0/2.0); Grad-CAM layer ``s8``."""

    head_activation = nn.ReLU6

    @staticmethod
    def stage_table(cfg, norm_layer):
        return mobilenetv2_table(
            cfg.SLOWFAST.WIDTH_MULTI, 2, cfg.SLOWFAST.BETA_INV, stride=SPATIAL_STRIDE, fuse=True, norm_layer=norm_layer
        )


@MODEL_REGISTRY.register()
class SlowFastMoibleNetV2(SlowFastMobileNetV2):
    """Alias of :class:`SlowFastMobileNetV2` under the released (misspelt) name, for old configs."""


@MODEL_REGISTRY.register()
class SlowFastGhostNet(EfficientVideoNet):
    """SlowFast with GhostNet pathways (W 1.0/1.5/2.0); Grad-CAM layer ``s5``.

    Head per pathway: ConvBnAct to 960 W (fast /8), pool, 1x1x1 conv with bias to 1280 W (fast /8),
    ReLU; returns logits (the release applied a ReLU in eval instead of a softmax).
    """

    @staticmethod
    def stage_table(cfg, norm_layer):
        width_multi = cfg.SLOWFAST.WIDTH_MULTI
        return ghostnet_table(
            width_multi, 2, cfg.SLOWFAST.BETA_INV, fuse=True, norm_layer=norm_layer,
            conv_head_width=int(1280 * width_multi),
        )
